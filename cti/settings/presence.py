"""``presence:`` when an agent whose desktop is gone is set away ("disconnected")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PresenceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Seconds every desktop socket of an agent (agent desk or supervisor board, on any node) may
    # stay gone before the agent is set away with reason "disconnected". 20: a reload or a
    # network hiccup reconnects well within it; a closed tab is not offered chats for long.
    disconnect_grace: float = Field(default=20.0, gt=0, le=3600)
    # Seconds between a node's renewals of "these agents have a desktop here". A node that dies
    # stops renewing; its agents count as gone three of these after its last renewal.
    node_heartbeat: float = Field(default=5.0, gt=0, le=300)
