"""A customer's history grouped by conversation (pure): what the desk's customer panel shows.

The timeline is a list of entries newest first (``cti.ports.TimelineEntry``); a conversation is
the run of entries of one interaction, with that interaction's channel, outcome and disposition.
A page of the timeline may cut a conversation in two: the next page goes on with the same
interaction id, and the desk joins the two halves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cti.domain import Interaction, InteractionState, jsonable
from cti.ports import TimelineEntry


def outcome(interaction: Interaction) -> str | None:
    """How the conversation ended, or None while it is open."""
    if interaction.state is InteractionState.ABANDONED:
        return "abandoned"
    if interaction.state is not InteractionState.CLOSED:
        return None
    return "customer-left" if interaction.customer_left else "closed"


def group(entries: Sequence[TimelineEntry],
          interactions: Mapping[str, Interaction]) -> list[dict[str, Any]]:
    """The entries by interaction, in the order each first appears (newest first)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        conversation = out.get(entry.interaction_id)
        if conversation is None:
            found = interactions.get(entry.interaction_id)
            conversation = out[entry.interaction_id] = {
                "interaction_id": entry.interaction_id, "channel": entry.channel.value,
                "state": found.state.value if found else None,
                "outcome": outcome(found) if found else None,
                "disposition": found.disposition if found else None,
                "agent_id": found.agent_id if found else None,
                "arrived_at": found.arrived_at if found else None,
                "ended_at": found.ended_at if found else None,
                "entries": []}
        conversation["entries"].append(jsonable(entry))
    return list(out.values())
