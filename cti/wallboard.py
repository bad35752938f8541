"""Service levels for the supervisors' boards, read from the interactions' event log through the
same functions as the reports (``cti.reporting``), computed once per change rather than per ask.

The board's window is the recent past, ``[now - window, now]``, as one bucket; a report's hour
is the same segments through the same functions, so the board and the report agree on it.
One computation reads every log of the window, and every board asks every few seconds. The
figures change only when a customer is answered or gives up, which the hub tells every node;
until then, and for at most ``MAX_AGE`` seconds (segments leave the window as time passes), the
last result is served. Boards asking while it is being computed share that one computation.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from cti.domain import jsonable
from cti.eventlog import EventLogRecords
from cti.events import DomainEvent, InteractionAbandoned, InteractionAccepted
from cti.figures import Figures, GroupBy, Targets, figures
from cti.hub import EventHub
from cti.reporting import DEFAULT_SHORT_ABANDON
from cti.segments import all_segments

MAX_AGE = 30.0
MAX_WINDOWS = 16  # windows asked for through ``?window=``: a few are kept


def board_levels(rows_by_channel: dict[str, list[Figures]], targets: Targets) -> dict[str, dict[str, Any]]:
    """{queue: {channel: level}} in the board's shape, from per-queue figures of each channel."""
    out: dict[str, dict[str, Any]] = {}
    for channel, rows in rows_by_channel.items():
        for row in rows:
            if row.group is None:
                continue
            out.setdefault(row.group, {})[channel] = {
                "target": targets(row.group, channel), "offered": row.offered, "answered": row.answered,
                "answered_in_target": row.answered_in_target, "abandoned": row.abandoned,
                "abandoned_in_target": row.abandoned_in_target, "short_abandoned": row.short_abandoned,
                "level": row.service_level, "average_answer": row.average_speed_of_answer}
    return out


class ServiceLevelBoard:
    def __init__(self, *, log: EventLogRecords, hub: EventHub, targets: Targets,
                 short_abandon: float = DEFAULT_SHORT_ABANDON) -> None:
        self._log = log
        self._targets = targets
        self._short_abandon = short_abandon
        # window -> (asked at, its computation): the first board to ask starts it, the rest await it.
        self._cache: dict[float, tuple[float, asyncio.Task[Any]]] = {}
        # The filter runs as the event is published, before anyone can ask again: a figure is
        # never served stale after an answer. It queues nothing.
        hub.subscribe(maxsize=1, wants=self._changed)

    def set_targets(self, targets: Targets) -> None:
        """New service targets (an admin's change): the cached levels are computed again."""
        self._targets = targets
        self._cache.clear()

    def _changed(self, event: DomainEvent) -> bool:
        if isinstance(event, InteractionAccepted | InteractionAbandoned):
            self._cache.clear()
        return False

    async def levels(self, window: float, now: float) -> Any:
        cached = self._cache.get(window)
        if cached is None or now - cached[0] > MAX_AGE:
            if len(self._cache) >= MAX_WINDOWS:
                self._cache.clear()
            task = asyncio.create_task(self._jsonable(now - window, now), name="board-levels")
            cached = self._cache[window] = (now, task)
        try:
            # Shielded: a board that goes away while waiting does not cancel the others' answer.
            return await asyncio.shield(cached[1])
        except Exception:
            if self._cache.get(window) is cached:  # a failure is not served again: the next ask retries
                del self._cache[window]
            raise

    async def _jsonable(self, start: float, now: float) -> Any:
        return jsonable(await self.compute(start, now))

    async def compute(self, start: float, now: float) -> dict[str, dict[str, Any]]:
        """Levels of the segments that started in [start, now], uncached."""
        end = math.nextafter(now, math.inf)  # ``now`` itself is in the window
        segments = all_segments(await self._log.touching(start, end), now=now)
        channels = sorted({s.channel for s in segments})
        return board_levels({c: figures(segments, start=start, end=end, by=None, targets=self._targets,
                                        short_abandon=self._short_abandon, group=GroupBy.QUEUE, channels={c})
                             for c in channels}, self._targets)
