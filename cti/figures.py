"""Figures over segments: what the live board and the reports both show (pure: segments in,
figures out, no clock, no I/O). The formulas are written out in ``docs/reports.md``.

A segment counts in the time bucket (hour, day or ISO week, in UTC) where it started: its first
queued entry, or its accept when it had no queue wait. Per queue, channel or agent means the
segment's queue (where its wait ended), channel and agent (who accepted it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from cti.segments import Outcome, Segment

HOUR = 3600.0
DAY = 86_400.0
WEEK = 7 * DAY
_MONDAY = 4 * DAY  # 1970-01-01 was a Thursday: ISO weeks start 4 days later


class Bucket(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


class GroupBy(enum.StrEnum):
    QUEUE = "queue"
    CHANNEL = "channel"
    AGENT = "agent"


def bucket_start(at: float, by: Bucket) -> float:
    """The start (UTC) of the bucket holding ``at``."""
    if by is Bucket.HOUR:
        return at - at % HOUR
    if by is Bucket.DAY:
        return at - at % DAY
    return at - (at - _MONDAY) % WEEK


@dataclass(frozen=True, slots=True)
class Figures:
    bucket: float  # its start, seconds since the epoch (UTC)
    group: str | None  # the queue, channel or agent; None: all of the selection together
    offered: int
    answered: int
    abandoned: int  # after the short-abandon threshold
    short_abandoned: int  # at or before it: not offered, not abandoned
    answered_in_target: int
    abandoned_in_target: int
    service_level: float | None
    average_speed_of_answer: float | None
    handled: int
    talk: float
    hold: float
    wrap_up: float
    average_handle_time: float | None
    transfers: int
    holds: int


@dataclass(slots=True)
class _Tally:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    in_target: int = 0
    abandoned_in_target: int = 0
    waits: float = 0.0
    handled: int = 0
    talk: float = 0.0
    hold: float = 0.0
    wrap_up: float = 0.0
    transfers: int = 0
    holds: int = 0

    def add(self, s: Segment, target: float, short_abandon: float) -> None:
        # A wait the customer turned into a callback is counted once, by the callback's segment
        # (which starts when this wait began), not here as well.
        if s.queued and s.wait is not None and s.ended_by != "callback":
            if s.outcome is Outcome.ABANDONED and s.wait <= short_abandon:
                self.short_abandoned += 1
            else:
                self.offered += 1
                if s.outcome is Outcome.ANSWERED:
                    self.answered += 1
                    self.waits += s.wait
                    self.in_target += s.wait <= target
                elif s.outcome is Outcome.ABANDONED:
                    self.abandoned += 1
                    self.abandoned_in_target += s.wait <= target
        if s.outcome is Outcome.ANSWERED and s.ended_at is not None:
            self.handled += 1
            self.talk += s.talk
            self.hold += s.hold
            self.wrap_up += s.wrap_up
        self.transfers += s.transferred
        self.holds += s.holds

    def figures(self, bucket: float, group: str | None) -> Figures:
        counted = self.answered + self.abandoned - self.abandoned_in_target
        return Figures(
            bucket=bucket, group=group, offered=self.offered, answered=self.answered,
            abandoned=self.abandoned,
            short_abandoned=self.short_abandoned, answered_in_target=self.in_target,
            abandoned_in_target=self.abandoned_in_target,
            service_level=self.in_target / counted if counted else None,
            average_speed_of_answer=self.waits / self.answered if self.answered else None,
            handled=self.handled, talk=self.talk, hold=self.hold, wrap_up=self.wrap_up,
            average_handle_time=(self.talk + self.hold + self.wrap_up) / self.handled
            if self.handled else None,
            transfers=self.transfers, holds=self.holds)


Targets = Callable[[str, str], float]  # (queue, channel) -> the service target in seconds
# A grouping of one's own (the reports' team): the segment's group, or None.
Grouping = Callable[[Segment], str | None]


def empty_figures(bucket: float, group: str | None) -> Figures:
    """The figures of no segment (a report row that has only a survey or a resolution)."""
    return _Tally().figures(bucket, group)


def _group(s: Segment, by: GroupBy | Grouping | None) -> str | None:
    if callable(by):
        return by(s)
    if by is GroupBy.QUEUE:
        return s.queue
    if by is GroupBy.CHANNEL:
        return s.channel
    if by is GroupBy.AGENT:
        return s.agent_id
    return None


def figures(segments: Iterable[Segment], *, start: float, end: float, by: Bucket | None, targets: Targets,
            short_abandon: float, group: GroupBy | Grouping | None = None,
            queues: Collection[str] | None = None, channels: Collection[str] | None = None,
            agents: Collection[str] | None = None) -> list[Figures]:
    """Figures per bucket (and group) of the segments that started in [start, end), narrowed to
    ``queues``, ``channels`` and ``agents`` when given. Only buckets with a segment are listed,
    in order of bucket, then group (None first); ``group`` may be a function of the segment.
    ``by`` None: the whole range is one bucket
    (a board's recent window), listed at ``start``."""
    tallies: dict[tuple[float, str | None], _Tally] = {}
    for s in segments:
        if not start <= s.started_at < end:
            continue
        if queues is not None and s.queue not in queues:
            continue
        if channels is not None and s.channel not in channels:
            continue
        if agents is not None and s.agent_id not in agents:
            continue
        key = (bucket_start(s.started_at, by) if by is not None else start, _group(s, group))
        tallies.setdefault(key, _Tally()).add(s, targets(s.queue, s.channel), short_abandon)
    return [tallies[k].figures(*k) for k in sorted(tallies, key=lambda k: (k[0], k[1] or ""))]
