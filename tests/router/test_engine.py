"""The routing engine over the memory store with a manual clock."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cti.clock import ManualClock
from cti.domain import AgentState, Channel
from cti.errors import NotFound
from cti.routing import Assignment, Offer, RoutingSettings, WaitingItem
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore
from tests.router.builders import NOW, item

C, E = Channel.CHAT, Channel.EMAIL
TIMEOUT = 20.0


class Recorder:
    def __init__(self) -> None:
        self.offers: list[Offer] = []
        self.requeued: list[tuple[str, str]] = []
        self.wrap_ups: list[str] = []
        self.offered = asyncio.Event()
        self.requeued_event = asyncio.Event()

    async def on_offer(self, offer: Offer) -> None:
        self.offers.append(offer)
        self.offered.set()

    async def on_requeue(self, waiting: WaitingItem, why: str) -> None:
        self.requeued.append((waiting.interaction_id, why))
        self.requeued_event.set()

    async def on_wrap_up_end(self, agent_id: str) -> None:
        self.wrap_ups.append(agent_id)


def make_engine(store: MemoryRoutingStore, clock: ManualClock, rec: Recorder, *,
                max_sleep: float = 0.25) -> RoutingEngine:
    return RoutingEngine(store=store, clock=clock, settings=RoutingSettings(), offer_timeout=TIMEOUT,
                         on_offer=rec.on_offer, on_requeue=rec.on_requeue, on_wrap_up_end=rec.on_wrap_up_end,
                         max_sleep=max_sleep)


async def ready(store: MemoryRoutingStore, agent_id: str, *, idle_since: float) -> None:
    await store.register_agent(agent_id, skills={}, capacity={C: 1, E: 1}, now=idle_since)
    await store.set_agent_state(agent_id, AgentState.AVAILABLE, reason=None, now=idle_since)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


async def test_run_once_offers_and_announces(clock: ManualClock) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await ready(store, "a2", idle_since=NOW - 50)
    await store.enqueue(item("i1", C, waited=30))
    await store.enqueue(item("i2", C, waited=10))
    engine = make_engine(store, clock, rec)
    offers = await engine.run_once()
    assert [(o.interaction_id, o.agent_id) for o in offers] == [("i1", "a1"), ("i2", "a2")]
    assert rec.offers == offers
    assert offers[0].expires_at == NOW + TIMEOUT
    assert await store.offer_for("i1") == offers[0]
    assert await engine.run_once() == []


async def test_a_timed_out_offer_is_requeued_and_goes_to_someone_else(clock: ManualClock) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await ready(store, "a2", idle_since=NOW - 50)
    await store.enqueue(item("i1", C, waited=30))
    engine = make_engine(store, clock, rec)
    (first,) = await engine.run_once()
    assert first.agent_id == "a1"
    clock.advance(TIMEOUT)
    (second,) = await engine.run_once()
    assert rec.requeued == [("i1", "timeout")]
    assert second.agent_id == "a2"
    assert second.reason.waited == pytest.approx(30 + TIMEOUT)  # the original wait is kept


async def test_the_end_of_a_wrap_up_is_announced_and_the_agent_routed(clock: ManualClock) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await store.enqueue(item("i1", C))
    engine = make_engine(store, clock, rec)
    await engine.run_once()
    await store.accept("i1", "a1", now=NOW)
    await store.release("i1", "a1", now=NOW, customer_id="cust-i1", wrap_up=15)
    await store.enqueue(item("i2", C))
    assert await engine.run_once() == []
    clock.advance(15)
    (offer,) = await engine.run_once()
    assert rec.wrap_ups == ["a1"]
    assert (offer.interaction_id, offer.agent_id) == ("i2", "a1")


class RacedStore(MemoryRoutingStore):
    """Another node takes "i1" between this engine's decision and its offers."""

    async def decide(self, *, now: float, settings: RoutingSettings) -> list[Assignment]:
        assignments = await super().decide(now=now, settings=settings)
        await self.remove("i1")
        return assignments


async def test_a_lost_race_is_skipped(clock: ManualClock) -> None:
    store, rec = RacedStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await ready(store, "a2", idle_since=NOW - 50)
    await store.enqueue(item("i1", C, waited=30))
    await store.enqueue(item("i2", C, waited=10))
    offers = await make_engine(store, clock, rec).run_once()
    assert [(o.interaction_id, o.agent_id) for o in offers] == [("i2", "a2")]


async def test_a_failing_callback_does_not_stop_the_pass(clock: ManualClock,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await ready(store, "a2", idle_since=NOW - 50)
    await store.enqueue(item("i1", C, waited=30))
    await store.enqueue(item("i2", C, waited=10))

    async def flaky(offer: Offer) -> None:
        if offer.interaction_id == "i1":
            raise RuntimeError("socket gone")
        await rec.on_offer(offer)

    engine = RoutingEngine(store=store, clock=clock, settings=RoutingSettings(), offer_timeout=TIMEOUT,
                           on_offer=flaky, on_requeue=rec.on_requeue)
    with caplog.at_level(logging.ERROR, logger="router.engine"):
        offers = await engine.run_once()
    assert len(offers) == 2
    assert [o.interaction_id for o in rec.offers] == ["i2"]
    assert "on_offer failed for i1" in caplog.text


async def test_a_slow_announcement_does_not_hold_the_others_of_its_batch(clock: ManualClock) -> None:
    """Each announcement is a write and a screen pop of its own interaction: one waiting on the
    database must not keep the agents of the same pass from hearing of theirs."""
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await ready(store, "a2", idle_since=NOW - 50)
    await store.enqueue(item("i1", C, waited=30))
    await store.enqueue(item("i2", C, waited=10))
    slow = asyncio.Event()

    async def announce(offer: Offer) -> None:
        if offer.interaction_id == "i1":
            await slow.wait()
        await rec.on_offer(offer)

    engine = RoutingEngine(store=store, clock=clock, settings=RoutingSettings(), offer_timeout=TIMEOUT,
                           on_offer=announce, on_requeue=rec.on_requeue)
    passing = asyncio.create_task(engine.run_once())
    async with asyncio.timeout(5):
        await rec.offered.wait()
    assert [o.interaction_id for o in rec.offers] == ["i2"]  # while i1's is still being made
    slow.set()
    offers = await passing
    assert sorted(o.interaction_id for o in offers) == ["i1", "i2"]
    assert sorted(o.interaction_id for o in rec.offers) == ["i1", "i2"]


async def test_explain_through_the_engine(clock: ManualClock) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await store.enqueue(item("i1", C, waited=30))
    engine = make_engine(store, clock, rec)
    explanation = await engine.explain("i1")
    assert explanation.chosen is not None and explanation.chosen.agent_id == "a1"
    await engine.run_once()
    with pytest.raises(NotFound):
        await engine.explain("i1")  # offered: no longer waiting
    assert await store.offer_for("i1") is not None  # explain changed nothing


async def test_poke_wakes_the_background_loop(clock: ManualClock) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    engine = make_engine(store, clock, rec, max_sleep=60.0)  # only a poke can wake it in time
    await engine.start()
    try:
        await store.enqueue(item("i1", C))
        engine.poke()
        async with asyncio.timeout(5):
            await rec.offered.wait()
        assert [o.interaction_id for o in rec.offers] == ["i1"]
    finally:
        await engine.aclose()
    await engine.aclose()  # idempotent


async def test_the_loop_handles_timeouts_without_a_poke(clock: ManualClock) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await store.enqueue(item("i1", C))
    engine = make_engine(store, clock, rec, max_sleep=0.01)
    await engine.start()
    try:
        async with asyncio.timeout(5):
            await rec.offered.wait()
        clock.advance(TIMEOUT)
        async with asyncio.timeout(5):
            await rec.requeued_event.wait()
        assert rec.requeued == [("i1", "timeout")]
    finally:
        await engine.aclose()


class FailingOnceStore(MemoryRoutingStore):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def decide(self, *, now: float, settings: RoutingSettings) -> list[Assignment]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("redis went away")
        return await super().decide(now=now, settings=settings)


async def test_the_loop_survives_a_failing_pass(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    store, rec = FailingOnceStore(), Recorder()
    await ready(store, "a1", idle_since=NOW - 100)
    await store.enqueue(item("i1", C))
    engine = make_engine(store, clock, rec, max_sleep=0.005)
    with caplog.at_level(logging.ERROR, logger="router.engine"):
        await engine.start()
        try:
            async with asyncio.timeout(5):
                await rec.offered.wait()
        finally:
            await engine.aclose()
    assert store.failures == 0
    assert "routing pass failed" in caplog.text


async def test_a_pass_offers_a_bounded_number_so_newcomers_are_ranked_soon(clock: ManualClock) -> None:
    store, rec = MemoryRoutingStore(), Recorder()
    for n in range(5):
        await ready(store, f"a{n}", idle_since=NOW - 100 + n)
    for n in range(5):
        await store.enqueue(item(f"mail{n}", E, waited=100, target=14400))
    engine = RoutingEngine(store=store, clock=clock, settings=RoutingSettings(), offer_timeout=TIMEOUT,
                           on_offer=rec.on_offer, on_requeue=rec.on_requeue, max_offers_per_pass=2)
    # Nothing new arrives: the whole burst in one pass.
    assert len(await engine.run_once()) == 5
    # Something arrives while a pass runs (it pokes): the pass stops early and ranks again.
    store2, rec2 = MemoryRoutingStore(), Recorder()
    for n in range(5):
        await ready(store2, f"a{n}", idle_since=NOW - 100 + n)
    for n in range(5):
        await store2.enqueue(item(f"mail{n}", E, waited=100, target=14400))

    async def on_offer(offer: Offer) -> None:
        await rec2.on_offer(offer)
        if len(rec2.offers) == 1:  # a chat arrives during the first offer
            await store2.enqueue(item("chat", C, waited=30, target=60))
            engine2.poke()

    engine2 = RoutingEngine(store=store2, clock=clock, settings=RoutingSettings(), offer_timeout=TIMEOUT,
                            on_offer=on_offer, on_requeue=rec2.on_requeue, max_offers_per_pass=2)
    assert len(await engine2.run_once()) == 2
    offers = await engine2.run_once()
    assert offers[0].interaction_id == "chat"
