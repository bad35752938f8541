"""The interaction's event log: what happened to it, with times (pure data, no I/O).

Every interaction keeps an append-only log; segments (``cti.segments``) and figures
(``cti.figures``) are derived from it, and the timestamps on the interaction row are only a
summary of it. The kinds and what each carries are listed in ``docs/reports.md``.

How entries are written, so that none is lost or doubled
---------------------------------------------------------

Entries for a **change of the interaction's state** (queued, offered, accepted, transferred,
wrap-up, closed, abandoned) are made by ``cti.lifecycle.apply`` itself, the one function every
state change goes through, and ride on the new snapshot (``Interaction.log``) to the store. The
store writes them **in the transaction that saves the snapshot**, keyed by the version that save
creates: a save refused as stale (another change got in first) rolls its entries back with it,
and the step's retry makes them again from what is stored; a save that commits cannot have lost
its entries, and two saves can never both create the same version, so no entry is doubled.
Nothing has to be remembered by the callers (the interaction service, the inbound batch, the
channels), so a new path that changes an interaction's state logs it without knowing.

Entries for steps that **do not change the interaction's row** (a call held, resumed, a consult
started) have no save to ride on. They are written from the ``call.updated`` hub events of the
node that published them (``cti.eventlog_recorder``), with an idempotency key made from the
event, so a redelivered event writes nothing twice. Such an entry can be lost if the node stops
between the publish and the write; that costs a hold's duration, never a customer's wait.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class EntryKind(enum.StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    HELD = "held"
    RESUMED = "resumed"
    CONSULTED = "consulted"
    TRANSFERRED = "transferred"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    SURVEY_ANSWERED = "survey_answered"  # details: rating 1..5, comment (or None), agent
    TAGGED = "tagged"  # details: tag, e.g. "campaign:<slug>" (written once per tag)


class QueuedWhy(enum.StrEnum):
    """Why an interaction (re)entered a queue."""

    ARRIVAL = "arrival"
    TRANSFER = "transfer"
    OVERFLOW = "overflow"  # the wait earned another queue or wider skills (router.waiting_rules)
    TRANSFER_FALLBACK = "transfer-fallback"  # the agent it was transferred to did not take it in time
    CALLBACK = "callback"  # a callback the customer asked for, keeping the wait it came from
    PRIORITY = "priority"  # a supervisor changed its priority while it waited
    MISSED_OFFER = "requeue-after-missed-offer"  # the offered agent did not answer in time
    REQUEUE = "requeue"  # declined by the agent, or put back after a restart


# The routing engine's and the service's words for why an offer went back to the queue.
_MISSED = frozenset({"timeout", "no-answer", "missed"})


def queued_why(requeue_reason: str | None) -> QueuedWhy:
    return QueuedWhy.MISSED_OFFER if requeue_reason in _MISSED else QueuedWhy.REQUEUE


# A wait that starts afresh: what an earlier wait overflowed to is not this one's.
_NEW_WAIT = frozenset({QueuedWhy.ARRIVAL, QueuedWhy.TRANSFER, QueuedWhy.CALLBACK})


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry: the interaction's channel, queue and agent as they were at that moment.

    ``details`` by kind: queued ``why`` (a ``QueuedWhy``) and, after a missed offer, ``agent``
    who missed it; after an overflow or a transfer fallback, ``rule``, ``after`` and
    ``from_queue``; after a priority change, ``priority`` and ``by``; offered ``rule``;
    transferred ``mode`` (blind | warm), ``to_queue``,
    ``to_agent``; accepted ``outbound`` for work an agent started; abandoned nothing more.
    ``node`` is the server that wrote it (filled by the store); ``key`` orders entries written
    together and makes a re-written entry a no-op.
    """

    interaction_id: str
    kind: EntryKind
    at: float
    channel: str
    queue: str
    agent_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    node: str | None = None
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"interaction_id": self.interaction_id, "kind": self.kind.value, "at": self.at,
                "channel": self.channel, "queue": self.queue, "agent_id": self.agent_id,
                "details": dict(self.details), "node": self.node, "key": self.key}


class EventLogRecords(Protocol):
    """The log in the store: recorded entries, one interaction's log, the logs of a time range."""

    async def record(self, entries: Sequence[LogEntry]) -> int: ...

    async def of(self, interaction_id: str) -> Sequence[LogEntry]: ...

    async def touching(self, start: float, end: float, *,
                       channels: Iterable[str] | None = None) -> Mapping[str, Sequence[LogEntry]]: ...


def overflowed_to(entries: Iterable[LogEntry]) -> tuple[str, ...]:
    """The other queues the interaction's current wait overflowed to, in order, from its log
    (``entries`` in the order written). A transfer, a new arrival or a move to another queue
    starts a new wait; a missed offer or a requeue keeps it."""
    queue: str | None = None
    reached: list[str] = []
    for entry in entries:
        if entry.kind is not EntryKind.QUEUED:
            continue
        why = entry.details.get("why")
        if why in _NEW_WAIT or entry.queue != queue:
            reached = []
        queue = entry.queue
        also = entry.details.get("also_queue")
        if why == QueuedWhy.OVERFLOW and isinstance(also, str) and also not in reached:
            reached.append(also)
    return tuple(reached)
