"""Service levels for the supervisors' boards, computed once per change rather than per ask.

One computation reads every inbound interaction of the window: 250 ms for an hour at 10 a second
on SQLite (measured), and every board asks every few seconds. The figures change only when a
customer is answered or gives up, which the hub tells every node; until then, and for at most
``MAX_AGE`` seconds (interactions leave the window as time passes), the last result is served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cti.domain import Channel, jsonable
from cti.events import DomainEvent, InteractionAbandoned, InteractionAccepted
from cti.hub import EventHub
from cti.ports import ContextStore
from cti.service_level import service_levels

MAX_AGE = 30.0
MAX_WINDOWS = 16  # windows asked for through ``?window=``: a few are kept


class ServiceLevelBoard:
    def __init__(self, *, context: ContextStore, hub: EventHub,
                 targets: Mapping[str, Mapping[Channel, float]]) -> None:
        self._context = context
        self._targets = targets
        self._cache: dict[float, tuple[float, Any]] = {}  # window -> (computed at, levels)
        # The filter runs as the event is published, before anyone can ask again: a figure is
        # never served stale after an answer. It queues nothing.
        hub.subscribe(maxsize=1, wants=self._changed)


    def set_targets(self, targets: Mapping[str, Mapping[Channel, float]]) -> None:
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
            outcomes = await self._context.outcomes(now - window)
            cached = self._cache[window] = (now, jsonable(service_levels(outcomes, self._targets)))
        return cached[1]
