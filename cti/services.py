"""The bundle of running services the composition root hands to the edges (HTTP, channels)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cti.agents import AgentService
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.hub import EventHub
from cti.ports import ContextStore
from cti.routing import Explanation, RoutingStore
from cti.service import InteractionService


@dataclass(frozen=True, slots=True)
class Services:
    config: AppConfig
    node_id: str
    clock: Clock
    ids: IdSource
    hub: EventHub
    context: ContextStore
    routing: RoutingStore
    interactions: InteractionService
    agents: AgentService
    explain: Callable[[str], Awaitable[Explanation]]
    queue_stats: Callable[[], Awaitable[dict[str, Any]]]
    token_secret: str
