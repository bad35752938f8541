"""Reading the live figures for a scrape, from the parts that own them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from cti.clock import Clock
from cti.observe.metrics import LiveFigures
from cti.routing import RoutingStore

__all__ = ["LiveSources"]


@dataclass(frozen=True, slots=True)
class LiveSources:
    routing: RoutingStore
    clock: Clock
    open_counts: Callable[[], Awaitable[Mapping[tuple[str, str], int]]]  # the database
    sockets: Callable[[], Mapping[str, int]]
    # True/False, None while unknown (held by another node that has not spoken yet); the
    # source itself is None when no Asterisk is configured.
    ami_link_up: Callable[[], bool | None] | None = None

    async def read(self) -> LiveFigures:
        now = self.clock.now()
        stats = await self.routing.stats(now)
        waiting = {(queue, channel.value): count
                   for queue, channels in stats.waiting_by_queue.items()
                   for channel, count in channels.items()}
        link = self.ami_link_up() if self.ami_link_up is not None else None
        return LiveFigures(
            interactions=await self.open_counts(), waiting=waiting, longest_wait=dict(stats.oldest_wait),
            agents={state.value: count for state, count in stats.agents_by_state.items()},
            sockets=dict(self.sockets()), ami_link_up=link)
