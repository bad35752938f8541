"""The assignment engine: applies the pure policy to the shared state through a store.

One pass (``run_once``): withdraw expired offers, end wrap-ups, snapshot, decide, and try
each assignment. Several engines (on one node or many) may run passes at once: the store's
``try_offer`` is atomic, so a pass that lost a race simply skips that assignment and the
next pass sees the new picture. The background loop runs a pass when poked (an interaction
queued, an agent available) and at least every ``max_sleep`` seconds for the timeouts.

Stores that keep a ``RoutingIndex`` (both of ours: ``RankingStore``) decide from it, so a
pass does not read or sort the whole queue, and offer in batches (one round trip on Redis).
Any other ``RoutingStore`` is routed from a snapshot by the full-sort ``policy.decide``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from cti.clock import Clock
from cti.observe.logs import about
from cti.routing import Assignment, Explanation, Offer, RoutingSettings, RoutingStore, WaitingItem
from cti.tasks import stop_tasks
from router import policy

log = logging.getLogger(__name__)

OnOffer = Callable[[Offer], Awaitable[None]]
OnRequeue = Callable[[WaitingItem, str], Awaitable[None]]
OnWrapUpEnd = Callable[[str], Awaitable[None]]

_MAX_BACKOFF = 5.0


@runtime_checkable
class RankingStore(Protocol):
    """A store that decides from its own incremental index and offers in batches."""

    async def decide(self, *, now: float, settings: RoutingSettings) -> list[Assignment]: ...
    async def try_offers(self, assignments: Sequence[Assignment], *, now: float,
                         timeout: float) -> list[Offer | None]: ...


class RoutingEngine:
    def __init__(self, *, store: RoutingStore, clock: Clock, settings: RoutingSettings,
                 offer_timeout: float, on_offer: OnOffer, on_requeue: OnRequeue,
                 on_wrap_up_end: OnWrapUpEnd | None = None, max_sleep: float = 0.25,
                 max_offers_per_pass: int = 2,
                 on_pass: Callable[[float], None] | None = None) -> None:
        self._store = store
        self._on_pass = on_pass  # told each pass's duration in seconds (the metrics)
        self._clock = clock
        self._settings = settings
        self._offer_timeout = offer_timeout
        self._on_offer = on_offer
        self._on_requeue = on_requeue
        self._on_wrap_up_end = on_wrap_up_end
        self._max_sleep = max_sleep
        # Each offer builds a screen pop (~15 ms); a pass offering a burst of 300 e-mails would
        # keep a chat that arrives meanwhile waiting seconds. When something arrived during the
        # pass (a poke), it stops after a few offers and ranks again, so the most urgent
        # newcomer goes next; with nothing new, it finishes the burst in one pass. Two a batch:
        # a chat poked in amid 200 e-mails a second waits for two pops instead of four (bench
        # email, 32 clients: chat offered at p50 78-95 ms against 94-108 ms with four).
        self._max_offers_per_pass = max_offers_per_pass
        self._wake = asyncio.Event()
        self._pass_lock = asyncio.Lock()  # one pass at a time per engine; other engines race freely
        self._task: asyncio.Task[None] | None = None


    def reconfigure(self, *, settings: RoutingSettings, offer_timeout: float) -> None:
        """An admin's change to the routing section: counts from the next pass."""
        self._settings = settings
        self._offer_timeout = offer_timeout
    async def run_once(self) -> list[Offer]:
        """One routing pass; returns the offers it made."""
        async with self._pass_lock:
            now = self._clock.now()
            for item in await self._store.expire_offers(now):
                with about(interaction=item.interaction_id):
                    log.info("offer timed out id=%s", item.interaction_id)
                    await self._notify(self._on_requeue(item, "timeout"), "on_requeue", item.interaction_id)
            for agent_id in await self._store.tick(now):
                if self._on_wrap_up_end is not None:
                    await self._notify(self._on_wrap_up_end(agent_id), "on_wrap_up_end", agent_id)
            store = self._store
            if isinstance(store, RankingStore):
                assignments = await store.decide(now=now, settings=self._settings)
            else:
                assignments = policy.decide(await store.snapshot(), now=now, settings=self._settings)
            offers: list[Offer] = []
            done = 0
            while done < len(assignments):
                if len(offers) >= self._max_offers_per_pass and self._wake.is_set():
                    break  # the rest go in the next pass (the wake is still set), ranked afresh
                # Offered in batches of the per-pass bound, so a poke is heeded between batches.
                batch = assignments[done:done + self._max_offers_per_pass]
                done += len(batch)
                # Another engine got there first, or the agent changed state: None, normal.
                made = [offer for offer in await self._try_offers(batch, now) if offer is not None]
                offers.extend(made)
                # Announced side by side: each is a write and a screen-pop read of its own
                # interaction, so a batch takes as long as its slowest offer, not their sum, and
                # a newcomer (a chat amid an e-mail burst) is ranked that much sooner.
                await asyncio.gather(*(self._announce(offer) for offer in made))
            return offers

    async def _announce(self, offer: Offer) -> None:
        # In a task of its own (gather), so the ids bound here are this offer's alone.
        with about(interaction=offer.interaction_id, agent=offer.agent_id):
            log.debug("offer id=%s agent=%s rule=%s", offer.interaction_id, offer.agent_id, offer.reason.rule)
            await self._notify(self._on_offer(offer), "on_offer", offer.interaction_id)

    async def _try_offers(self, batch: Sequence[Assignment], now: float) -> list[Offer | None]:
        store = self._store
        if isinstance(store, RankingStore):
            return await store.try_offers(batch, now=now, timeout=self._offer_timeout)
        return [await store.try_offer(a, now=now, timeout=self._offer_timeout) for a in batch]

    async def explain(self, interaction_id: str) -> Explanation:
        snapshot = await self._store.snapshot()
        return policy.explain(snapshot, interaction_id, now=self._clock.now(), settings=self._settings)

    def poke(self) -> None:
        """Run a pass soon (something changed); cheap, safe to call from any coroutine."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="routing-engine")
            log.info("routing engine started")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])
        log.info("routing engine stopped")

    async def _loop(self) -> None:
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._max_sleep):
                    await self._wake.wait()
            # Cleared before the pass, so a poke during the pass causes another one.
            self._wake.clear()
            started = time.perf_counter()
            try:
                await self.run_once()
                if self._on_pass is not None:
                    self._on_pass(time.perf_counter() - started)
            except Exception:
                failures += 1
                delay = min(_MAX_BACKOFF, self._max_sleep * 2 ** failures)
                log.exception("routing pass failed (%d in a row), next in %.2fs", failures, delay)
                await asyncio.sleep(delay)
            else:
                failures = 0

    @staticmethod
    async def _notify(call: Awaitable[None], name: str, subject: str) -> None:
        # A failing callback must not stop the pass: the store already changed, and the
        # other offers of this pass still have to be announced.
        try:
            await call
        except Exception:
            log.exception("routing callback %s failed for %s", name, subject)
