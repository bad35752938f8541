"""The bundle of running services the composition root hands to the edges (HTTP, channels)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cti.agents import AgentService
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.domain import Channel, Interaction, InteractionState
from cti.hub import EventHub
from cti.ports import ContextStore
from cti.routing import Explanation, RoutingStore
from cti.service import InteractionService

if TYPE_CHECKING:  # the bridge imports the services' parts; only its type is needed here
    from cti.ami.bridge import AmiBridge


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
    voice: AmiBridge | None = None  # the Asterisk bridge, when the configuration has an ami section

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None, note: str | None) -> Interaction:
        """Transfer on any channel; a live Asterisk call is moved by the bridge as well."""
        interaction = await self.context.interaction(interaction_id)
        if (self.voice is not None and interaction.channel is Channel.VOICE
                and interaction.state is InteractionState.ACTIVE
                and interaction.channel_refs.get("asterisk_agent_channel")):
            return await self.voice.transfer(interaction_id, agent_id, to_queue=to_queue,
                                             to_agent=to_agent, note=note)
        return await self.interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                to_agent=to_agent, note=note)
