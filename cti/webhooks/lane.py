"""One subscriber's lane: its own bounded queue, the worker that sends from it, and the sweeper
that fills it from the database.

Nothing here is shared between subscribers, so one that is slow, failing or timing out only
ever holds up its own deliveries. The queue holds delivery ids, at most ``queue_size``; what does
not fit waits in the database, where the sweeper finds it as the queue empties. The sweeper also
brings back retries when they fall due and deliveries whose claim ran out (a node that died
while sending). It sleeps until the next such time, at most ``sweep_seconds``, or until poked.
"""

from __future__ import annotations

import asyncio
import logging

from cti.clock import Clock
from cti.retry import Backoff
from cti.settings.webhooks import SubscriberSettings
from cti.tasks import stop_tasks
from cti.webhooks.deliveries import WebhookStore
from cti.webhooks.sender import Sender

log = logging.getLogger(__name__)

# A claim outlives the attempt by this much, for the outcome's write to the database; if the
# node dies, the delivery is free again this long after the attempt's timeout.
CLAIM_MARGIN = 30.0


class Lane:
    def __init__(self, *, subscriber: SubscriberSettings, store: WebhookStore, sender: Sender, clock: Clock,
                 node: str, backoff: Backoff, timeout: float, queue_size: int, sweep_seconds: float) -> None:
        self.subscriber = subscriber
        self._store = store
        self._sender = sender
        self._clock = clock
        self._node = node
        self._backoff = backoff
        self._timeout = timeout
        self._sweep_seconds = sweep_seconds
        self._queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self._in_hand: set[str] = set()  # queued or being sent: never queued twice
        self._backlog = False  # due deliveries were left in the database for want of room
        self._poked = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def name(self) -> str:
        return self.subscriber.name

    def wants(self, event_type: str) -> bool:
        return event_type in self.subscriber.events

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work(), name=f"webhook-{self.name}"),
                           asyncio.create_task(self._sweep(), name=f"webhook-sweep-{self.name}")]

    async def aclose(self) -> None:
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks)

    def offer(self, delivery_id: str) -> None:
        """A delivery just recorded: into the queue if there is room (never waits)."""
        if delivery_id in self._in_hand:
            return
        try:
            self._queue.put_nowait(delivery_id)
        except asyncio.QueueFull:
            self._backlog = True  # it is in the database: the sweeper takes it when there is room
            return
        self._in_hand.add(delivery_id)

    def poke(self) -> None:
        self._poked.set()

    async def _work(self) -> None:
        while True:
            delivery_id = await self._queue.get()
            try:
                await self._attempt(delivery_id)
            except Exception:  # the next delivery must still go; this one's claim runs out
                log.exception("webhook %s: delivery %s not handled", self.name, delivery_id)
            finally:
                self._in_hand.discard(delivery_id)
                self._queue.task_done()
                if self._backlog:
                    self.poke()

    async def _attempt(self, delivery_id: str) -> None:
        now = self._clock.now()
        delivery = await self._store.claim(delivery_id, node=self._node, now=now,
                                           until=now + self._timeout + CLAIM_MARGIN)
        if delivery is None:
            return  # delivered or taken by another node meanwhile, or not due
        outcome = await self._sender.send(delivery, url=self.subscriber.url,
                                          secret=self.subscriber.secret.get_secret_value().encode(), now=now)
        done = self._clock.now()
        if outcome.ok:
            await self._store.delivered(delivery_id, node=self._node, now=done, status=outcome.status or 0)
            log.info("webhook %s: delivered %s (%s) attempt=%d", self.name, delivery_id, delivery.event_type,
                     delivery.attempts + 1)
            return
        error = outcome.error or "failed"
        attempts = delivery.attempts + 1
        wait = self._backoff.next_wait(attempts, done - delivery.series_started_at)
        if wait is None:
            await self._store.give_up(delivery_id, node=self._node, now=done, status=outcome.status,
                                      error=error)
            log.warning("webhook %s: gave up on %s after %d attempts: %s", self.name, delivery_id,
                        attempts, error)
            return
        await self._store.retry_later(delivery_id, node=self._node, now=done, at=done + wait,
                                      status=outcome.status, error=error)
        log.info("webhook %s: %s failed (%s), attempt %d; next in %.1f s", self.name, delivery_id, error,
                 attempts, wait)
        self.poke()  # the sweeper sleeps until the earliest retry: this one may be sooner

    async def _sweep(self) -> None:
        while True:
            self._poked.clear()
            try:
                delay = await self._sweep_once()
            except Exception:  # the database was away: look again later
                log.exception("webhook %s: sweep failed", self.name)
                delay = self._sweep_seconds
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await self._poked.wait()
                except TimeoutError:
                    pass

    async def _sweep_once(self) -> float:
        """Fill the queue with what is due; the seconds until something falls due next."""
        now = self._clock.now()
        room = self._queue.maxsize - self._queue.qsize()
        self._backlog = room <= 0
        if room > 0:
            limit = room + len(self._in_hand)
            due = await self._store.due(self.name, now=now, limit=limit)
            fresh = [d for d in due if d not in self._in_hand]
            for delivery_id in fresh[:room]:
                self.offer(delivery_id)
            self._backlog = len(fresh) > room or len(due) == limit
        next_at = await self._store.next_due(self.name, now=now)
        if next_at is None:
            return self._sweep_seconds
        return min(self._sweep_seconds, max(0.0, next_at - self._clock.now()))
