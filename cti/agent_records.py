"""The stored agent states: what each agent last chose (or the server set), kept across restarts.

The routing store holds the live state; this record is written with every change so a restarted
centre (or a Redis that lost its data) brings every agent back as they were, not offline.
``context.agent_states`` keeps it in the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cti.domain import AgentState


@dataclass(frozen=True, slots=True)
class StoredAgentState:
    agent_id: str
    state: AgentState
    reason: str | None
    at: float  # when it was set


class AgentStateRecords(Protocol):
    async def save(self, record: StoredAgentState) -> None:
        """Replace the agent's stored state (an upsert)."""
        ...

    async def load_all(self) -> Sequence[StoredAgentState]: ...
