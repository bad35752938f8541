"""The interaction life cycle as a pure function of (interaction, transition, time).

    new → queued → offered → active → wrap_up → closed
              ↑        │        │
              └────────┘        └→ queued (transfer)
    queued/offered → abandoned (customer left before an agent took it)
    new → active (dial: an agent's outbound call);  active → active (reassign: a consult
    transfer completed, the same call now with another agent)

Each transition also makes the interaction's log entries for it (``cti.eventlog``), carried on
the new snapshot's ``log`` until the store saves them with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cti.domain import Interaction, InteractionState
from cti.errors import Conflict
from cti.eventlog import EntryKind, LogEntry, QueuedWhy, queued_why

S = InteractionState

ALLOWED: dict[str, tuple[frozenset[InteractionState], InteractionState]] = {
    "enqueue": (frozenset({S.NEW}), S.QUEUED),
    "offer": (frozenset({S.QUEUED}), S.OFFERED),
    "requeue": (frozenset({S.OFFERED}), S.QUEUED),
    "accept": (frozenset({S.OFFERED}), S.ACTIVE),
    "transfer": (frozenset({S.ACTIVE, S.WRAP_UP}), S.QUEUED),
    "end": (frozenset({S.ACTIVE}), S.WRAP_UP),
    "close": (frozenset({S.ACTIVE, S.WRAP_UP}), S.CLOSED),
    "abandon": (frozenset({S.NEW, S.QUEUED, S.OFFERED}), S.ABANDONED),
    "dial": (frozenset({S.NEW}), S.ACTIVE),
    "reassign": (frozenset({S.ACTIVE}), S.ACTIVE),
    # Waiting work changed where it waits (an overflow, a transfer fallback, a new priority):
    # the same wait goes on; the caller sets the skills and priority on the snapshot.
    "rewait": (frozenset({S.QUEUED}), S.QUEUED),
    # A waiting chat the customer turned into a callback request (a new interaction that keeps
    # this one's wait): this one's wait ends here, closed by the system, never abandoned.
    "to_callback": (frozenset({S.QUEUED, S.OFFERED}), S.CLOSED),
}

OPEN_STATES = frozenset({S.NEW, S.QUEUED, S.OFFERED, S.ACTIVE, S.WRAP_UP})


def can(interaction: Interaction, transition: str) -> bool:
    sources, _ = ALLOWED[transition]
    return interaction.state in sources


def apply(interaction: Interaction, transition: str, *, now: float, agent_id: str | None = None,
          queue: str | None = None, details: Mapping[str, Any] | None = None) -> Interaction:
    """Return the interaction after ``transition`` or raise ``Conflict`` if it is not allowed.

    ``details``: what the log entry should say that the snapshot cannot: the offer's ``rule``, a
    requeue's ``why`` (the engine's "timeout", "rejected", ...), a transfer's ``to_agent``."""
    after = _transition(interaction, transition, now=now, agent_id=agent_id, queue=queue)
    return replace(after, log=(*interaction.log, *entries(interaction, after, transition, now=now,
                                                          details=details or {})))


def entries(before: Interaction, after: Interaction, transition: str, *, now: float,
            details: Mapping[str, Any]) -> list[LogEntry]:
    """The log entries of one transition (pure)."""
    def entry(kind: EntryKind, of: Interaction, who: str | None, **more: Any) -> LogEntry:
        return LogEntry(interaction_id=of.id, kind=kind, at=now, channel=of.channel.value, queue=of.queue,
                        agent_id=who, details={k: v for k, v in more.items() if v is not None})

    if transition == "enqueue":
        return [entry(EntryKind.QUEUED, after, None, **{"why": QueuedWhy.ARRIVAL.value, **details})]
    if transition == "to_callback":
        return [entry(EntryKind.CLOSED, after, None, **details)]
    if transition == "offer":
        return [entry(EntryKind.OFFERED, after, after.agent_id, rule=details.get("rule"))]
    if transition == "requeue":
        return [entry(EntryKind.QUEUED, after, None, why=queued_why(details.get("why")).value,
                      agent=before.agent_id)]
    if transition == "rewait":
        return [entry(EntryKind.QUEUED, after, None, **{"from_queue": before.queue, **details})]
    if transition == "accept":
        return [entry(EntryKind.ACCEPTED, after, after.agent_id)]
    if transition == "dial":
        return [entry(EntryKind.ACCEPTED, after, after.agent_id, outbound=True)]
    if transition == "reassign":
        return [entry(EntryKind.TRANSFERRED, before, before.agent_id, mode="warm", to_agent=after.agent_id),
                entry(EntryKind.ACCEPTED, after, after.agent_id)]
    if transition == "transfer":
        return [entry(EntryKind.TRANSFERRED, before, before.agent_id, mode="blind", to_queue=after.queue,
                      to_agent=details.get("to_agent")),
                entry(EntryKind.QUEUED, after, None, why=QueuedWhy.TRANSFER.value)]
    if transition == "end":
        return [entry(EntryKind.WRAP_UP, after, after.agent_id)]
    if transition == "close":
        return [entry(EntryKind.CLOSED, after, after.agent_id)]
    return [entry(EntryKind.ABANDONED, after, after.agent_id)]


def _transition(interaction: Interaction, transition: str, *, now: float, agent_id: str | None,
                queue: str | None) -> Interaction:
    sources, target = ALLOWED[transition]
    if interaction.state not in sources:
        raise Conflict(
            "invalid-transition",
            f"cannot {transition} an interaction that is {interaction.state.value}",
            interaction_id=interaction.id, state=interaction.state.value, transition=transition,
        )
    if transition == "enqueue":
        return replace(interaction, state=target, queued_at=now)
    if transition == "offer":
        return replace(interaction, state=target, offered_at=now, agent_id=agent_id)
    if transition == "requeue":
        # The wait is measured from the original queued_at: a reject never resets it.
        return replace(interaction, state=target, offered_at=None, agent_id=None)
    if transition == "rewait":
        return replace(interaction, queue=queue or interaction.queue)
    if transition == "to_callback":
        return replace(interaction, state=target, agent_id=None, offered_at=None, ended_at=now,
                       disposition="callback-requested")
    if transition == "accept":
        return replace(interaction, state=target, answered_at=now, agent_id=agent_id)
    if transition in ("dial", "reassign"):
        if not agent_id:
            raise Conflict("agent-required", f"{transition} needs an agent", interaction_id=interaction.id)
        return replace(interaction, state=target, agent_id=agent_id)
    if transition == "transfer":
        return replace(interaction, state=target, agent_id=None, offered_at=None,
                       queue=queue or interaction.queue)
    if transition == "end":
        return replace(interaction, state=target, ended_at=now)
    if transition == "close":
        return replace(interaction, state=target, ended_at=interaction.ended_at or now)
    # abandon
    return replace(interaction, state=target, ended_at=now, customer_left=True)
