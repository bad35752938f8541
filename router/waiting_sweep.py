"""The loop that applies ``router.waiting_rules``: once a ``interval``, the waiting items are read,
the pure rules decide which moves are due, and each is handed to ``on_move`` (the interaction
service, which takes the item out of the store atomically, saves and logs the change, and puts
it back). Several nodes may sweep at once: the store's ``remove`` gives each item to one of them.

A sweep reads the whole waiting list (one snapshot): it runs once a second, not per pass, and
only when some rule can apply (a queue with overflow rules, or work aimed at one agent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cti.clock import Clock
from cti.domain import QueueConfig
from cti.routing import RoutingStore, WaitingItem, WaitingMove
from cti.tasks import stop_tasks
from router.waiting_rules import due_moves

log = logging.getLogger(__name__)

OnMove = Callable[[WaitingMove, WaitingItem], Awaitable[object]]  # the move, the entry it was decided on


class WaitingSweep:
    def __init__(self, *, store: RoutingStore, clock: Clock, queues: Callable[[], dict[str, QueueConfig]],
                 fallback: Callable[[QueueConfig], float], on_move: OnMove, interval: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._queues = queues  # read at each sweep: an admin's change counts at once
        self._fallback = fallback
        self._on_move = on_move
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> list[WaitingMove]:
        """One sweep; returns the moves it handed on."""
        snapshot = await self._store.snapshot()
        moves = due_moves(snapshot.waiting, queues=self._queues(), fallback=self._fallback,
                          now=self._clock.now())
        items = {w.interaction_id: w for w in snapshot.waiting} if moves else {}
        for move in moves:
            try:
                await self._on_move(move, items[move.interaction_id])
            except Exception:  # one item's trouble must not stop the others' moves
                log.exception("waiting move failed id=%s why=%s", move.interaction_id, move.why)
        return moves

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="waiting-sweep")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("waiting sweep failed")
