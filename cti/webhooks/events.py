"""Which hub events a subscriber may ask for, and what a delivery of each carries.

An explicit allow-list: an event is sent to other systems only once somebody decided what of it
leaves the server. A delivery carries the event's own facts and a summary of the interaction; it
never carries message bodies, collected context (IVR digits may be account numbers) or the screen
pop. To offer another event (``survey.answered`` once surveys exist), add its type and a function
that builds its ``data`` to ``_BUILDERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cti.domain import Interaction
from cti.events import (
    DomainEvent,
    InteractionAbandoned,
    InteractionAccepted,
    InteractionClosed,
    InteractionOffered,
    InteractionQueued,
    InteractionTransferred,
    InteractionWrapUp,
)

__all__ = ["WEBHOOK_EVENTS", "event_data", "interaction_id_of", "interaction_summary"]


def _queued(e: InteractionQueued) -> dict[str, Any]:
    return {"requeued_because": e.requeued_because}


def _offered(e: InteractionOffered) -> dict[str, Any]:
    return {"agent_id": e.agent_id, "expires_at": e.expires_at}


def _accepted(e: InteractionAccepted) -> dict[str, Any]:
    return {"agent_id": e.agent_id}


def _transferred(e: InteractionTransferred) -> dict[str, Any]:
    # The note is free text written for the next agent, not for other systems.
    return {"agent_id": e.agent_id, "to_queue": e.to_queue, "to_agent": e.to_agent}


def _wrap_up(e: InteractionWrapUp) -> dict[str, Any]:
    return {"agent_id": e.agent_id, "why": e.why}


def _closed(e: InteractionClosed) -> dict[str, Any]:
    return {"agent_id": e.agent_id, "disposition": e.disposition}


def _abandoned(e: InteractionAbandoned) -> dict[str, Any]:
    return {"agent_id": e.agent_id, "waited": e.waited}


_BUILDERS: Mapping[type[DomainEvent], Callable[[Any], dict[str, Any]]] = {
    InteractionQueued: _queued,
    InteractionOffered: _offered,
    InteractionAccepted: _accepted,
    InteractionTransferred: _transferred,
    InteractionWrapUp: _wrap_up,
    InteractionClosed: _closed,
    InteractionAbandoned: _abandoned,
}

WEBHOOK_EVENTS: tuple[str, ...] = tuple(cls.type for cls in _BUILDERS)


def interaction_id_of(event: DomainEvent) -> str | None:
    if isinstance(event, InteractionQueued):
        value = event.interaction.get("id")
        return value if isinstance(value, str) else None
    value = getattr(event, "interaction_id", None)
    return value if isinstance(value, str) else None


def event_data(event: DomainEvent) -> dict[str, Any] | None:
    """The event's own facts for a delivery; None for an event no subscriber may have."""
    build = _BUILDERS.get(type(event))
    return None if build is None else build(event)


def interaction_summary(interaction: Interaction) -> dict[str, Any]:
    return {
        "id": interaction.id, "channel": interaction.channel.value,
        "direction": interaction.direction.value, "customer_id": interaction.customer_id,
        "queue": interaction.queue, "state": interaction.state.value, "priority": interaction.priority,
        "agent_id": interaction.agent_id, "disposition": interaction.disposition,
        "arrived_at": interaction.arrived_at, "queued_at": interaction.queued_at,
        "offered_at": interaction.offered_at, "answered_at": interaction.answered_at,
        "ended_at": interaction.ended_at,
    }
