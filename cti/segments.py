"""Segments: each agent's part of an interaction, derived from its log by a pure fold.

A segment is one wait in a queue and what followed it: the agent who accepted, their talk, hold
and wrap-up, and how their part ended. A new segment starts when the interaction (re)enters a
queue after an agent's part (arrival, a blind transfer) or when an agent takes it without a
queue wait (outbound work, a warm transfer). A wait does **not** restart when an offer is missed
or declined, when the work is put back after a restart, or when it overflows to another queue:
the customer has been waiting all along, so the wait counts from the segment's first queued entry.

Thus the issue's case: a caller who waits 2.5 s, talks, is blind-transferred to a queue and waits
4.5 s for the next agent gives two segments with waits 2.5 s and 4.5 s, not one 10 s wait.

Durations (seconds), for a segment answered at A:

- ``wait``: first queued entry → accepted (or → abandoned / closed unanswered);
- ``hold``: the sum of held → resumed (a hold still open ends with the agent's talk);
- ``talk``: accepted → end of talk (wrap_up, transfer or close), minus ``hold``;
- ``wrap_up``: wrap_up → closed (or → a transfer made from wrap-up); 0 without a wrap_up entry.

The rules are written out in ``docs/reports.md``. No clock is read: a part still open is
measured up to ``now`` and the segment has no ``ended_at``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cti.eventlog import EntryKind, LogEntry, QueuedWhy


class Outcome(enum.StrEnum):
    WAITING = "waiting"  # still in a queue
    ANSWERED = "answered"  # an agent accepted
    ABANDONED = "abandoned"  # the customer left while waiting
    UNANSWERED = "unanswered"  # the wait ended otherwise (closed by the system)


@dataclass(frozen=True, slots=True)
class Segment:
    interaction_id: str
    index: int  # order within the interaction, from 0
    channel: str
    queue: str  # where the wait ended (after overflows), else where the agent took it
    agent_id: str | None  # who accepted; None: nobody did
    started_at: float  # the wait's first queued entry, or the accept when there was no wait
    queued_why: str | None  # why the wait began; None: no queue wait (outbound, warm transfer)
    wait: float | None  # None without a queue wait
    answered_at: float | None
    ended_at: float | None  # the end of the agent's part or of the wait; None: still going
    outcome: Outcome
    # "transfer-blind" | "transfer-warm" | "closed" | "abandoned" | "callback" (the wait went on
    # in a callback interaction, which counts it)
    ended_by: str | None = None
    talk: float = 0.0
    hold: float = 0.0
    wrap_up: float = 0.0
    holds: int = 0
    consults: int = 0
    offers: int = 0  # offers made during the wait
    missed_offers: int = 0  # offers that went back to the queue (missed or declined)
    overflowed_from: tuple[str, ...] = ()

    @property
    def queued(self) -> bool:
        return self.queued_why is not None

    @property
    def transferred(self) -> bool:
        return self.ended_by is not None and self.ended_by.startswith("transfer")

    @property
    def handle_time(self) -> float:
        return self.talk + self.hold + self.wrap_up


@dataclass(slots=True)
class _Open:
    """The segment being folded; frozen into a ``Segment`` when it ends."""

    interaction_id: str
    index: int
    channel: str
    queue: str
    started_at: float
    queued_why: str | None
    phase: str  # "waiting" | "talking" | "wrap"
    agent_id: str | None = None
    answered_at: float | None = None
    talk_end: float | None = None
    wrap_start: float | None = None
    hold_start: float | None = None
    hold: float = 0.0
    wrap_up: float = 0.0
    holds: int = 0
    consults: int = 0
    offers: int = 0
    missed: int = 0
    overflowed_from: list[str] = field(default_factory=list)

    def end_hold(self, at: float) -> None:
        if self.hold_start is not None:
            self.hold += max(0.0, at - self.hold_start)
            self.hold_start = None

    def end_talk(self, at: float) -> None:
        if self.phase == "talking":
            self.end_hold(at)
            self.talk_end = at
        elif self.phase == "wrap" and self.wrap_start is not None:
            self.wrap_up = max(0.0, at - self.wrap_start)

    def freeze(self, *, ended_at: float | None, outcome: Outcome, ended_by: str | None,
               now: float) -> Segment:
        until = ended_at if ended_at is not None else now
        if ended_at is None:  # still going: measured so far
            if self.phase == "talking":
                self.end_hold(now)
                self.talk_end = now
            elif self.phase == "wrap" and self.wrap_start is not None:
                self.wrap_up = max(0.0, now - self.wrap_start)
        talk = 0.0
        if self.answered_at is not None and self.talk_end is not None:
            talk = max(0.0, self.talk_end - self.answered_at - self.hold)
        if self.queued_why is None:
            wait = None
        elif self.answered_at is not None:
            wait = max(0.0, self.answered_at - self.started_at)
        else:
            wait = max(0.0, until - self.started_at)
        return Segment(
            interaction_id=self.interaction_id, index=self.index, channel=self.channel, queue=self.queue,
            agent_id=self.agent_id, started_at=self.started_at, queued_why=self.queued_why, wait=wait,
            answered_at=self.answered_at, ended_at=ended_at, outcome=outcome, ended_by=ended_by, talk=talk,
            hold=self.hold, wrap_up=self.wrap_up, holds=self.holds, consults=self.consults,
            offers=self.offers, missed_offers=self.missed, overflowed_from=tuple(self.overflowed_from))


_REQUEUES = frozenset({QueuedWhy.MISSED_OFFER.value, QueuedWhy.REQUEUE.value})


def segments(log: Sequence[LogEntry], *, now: float | None = None) -> list[Segment]:
    """The segments of one interaction's log (entries in log order). ``now``: up to when a
    part still open is measured (default: the last entry's time)."""
    if not log:
        return []
    until = now if now is not None else log[-1].at
    out: list[Segment] = []
    cur: _Open | None = None

    def close(ended_at: float, outcome: Outcome, ended_by: str | None) -> None:
        nonlocal cur
        if cur is not None:
            out.append(cur.freeze(ended_at=ended_at, outcome=outcome, ended_by=ended_by, now=until))
            cur = None

    def answered_or(default: Outcome) -> Outcome:
        return Outcome.ANSWERED if cur is not None and cur.answered_at is not None else default

    for e in log:
        kind = e.kind
        if kind is EntryKind.QUEUED:
            why = str(e.details.get("why", QueuedWhy.ARRIVAL.value))
            if cur is not None and cur.phase == "waiting":
                # The same wait goes on: a missed offer, a requeue, an overflow.
                if e.queue != cur.queue:
                    cur.overflowed_from.append(cur.queue)
                    cur.queue = e.queue
                cur.missed += why in _REQUEUES
                continue
            if cur is not None:  # an agent's part ended without its own entry saying how
                cur.end_talk(e.at)
                close(e.at, answered_or(Outcome.UNANSWERED), None)
            cur = _Open(interaction_id=e.interaction_id, index=len(out), channel=e.channel, queue=e.queue,
                        started_at=e.at, queued_why=why, phase="waiting")
        elif kind is EntryKind.OFFERED:
            if cur is not None and cur.phase == "waiting":
                cur.offers += 1
        elif kind is EntryKind.ACCEPTED:
            if cur is not None and cur.phase == "waiting":
                cur.answered_at, cur.agent_id, cur.queue, cur.phase = e.at, e.agent_id, e.queue, "talking"
                continue
            if cur is not None:
                cur.end_talk(e.at)
                close(e.at, answered_or(Outcome.UNANSWERED), None)
            cur = _Open(interaction_id=e.interaction_id, index=len(out), channel=e.channel, queue=e.queue,
                        started_at=e.at, queued_why=None, phase="talking", agent_id=e.agent_id,
                        answered_at=e.at)
        elif cur is None:
            continue  # nothing open to attach it to (a log that starts mid-way)
        elif kind is EntryKind.HELD:
            if cur.phase == "talking" and cur.hold_start is None:
                cur.hold_start = e.at
                cur.holds += 1
        elif kind is EntryKind.RESUMED:
            cur.end_hold(e.at)
        elif kind is EntryKind.CONSULTED:
            cur.consults += 1
        elif kind is EntryKind.TRANSFERRED:
            cur.end_talk(e.at)
            close(e.at, answered_or(Outcome.UNANSWERED), f"transfer-{e.details.get('mode', 'blind')}")
        elif kind is EntryKind.WRAP_UP:
            if cur.phase == "talking":
                cur.end_talk(e.at)
                cur.phase, cur.wrap_start = "wrap", e.at
        elif kind is EntryKind.CLOSED:
            cur.end_talk(e.at)
            # A wait turned into a callback goes on in the callback interaction (its own log).
            how = "callback" if e.details.get("callback") else "closed"
            close(e.at, answered_or(Outcome.UNANSWERED), how)
        elif kind is EntryKind.ABANDONED:
            if cur.phase == "waiting":
                close(e.at, Outcome.ABANDONED, "abandoned")
            else:
                cur.end_talk(e.at)
                close(e.at, answered_or(Outcome.UNANSWERED), "abandoned")
    if cur is not None:
        outcome = Outcome.WAITING if cur.phase == "waiting" else Outcome.ANSWERED
        out.append(cur.freeze(ended_at=None, outcome=outcome, ended_by=None, now=until))
    return out


def all_segments(logs: Mapping[str, Sequence[LogEntry]] | Iterable[Sequence[LogEntry]], *,
                 now: float | None = None) -> list[Segment]:
    """The segments of many interactions' logs (a mapping by interaction id, or the logs)."""
    every = logs.values() if isinstance(logs, Mapping) else logs
    return [s for log in every for s in segments(log, now=now)]
