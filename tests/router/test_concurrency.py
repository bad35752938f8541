"""Several engines (nodes) on one shared state: no double offer, nothing lost, no over-fill.

On Redis each engine has its own store and client, so their scripts truly interleave; the
memory store is shared by engines of one loop.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

from cti.clock import ManualClock
from cti.domain import AgentState, Channel
from cti.routing import Assignment, Offer, RoutingReason, RoutingSettings, WaitingItem
from router.engine import RoutingEngine
from tests.router.builders import NOW, item
from tests.router.conftest import StatsStore, StoreFactory

V, C, E = Channel.VOICE, Channel.CHAT, Channel.EMAIL
REASON = RoutingReason(rule="longest-idle", urgency=1.0, skill_match={}, preferred=False, waited=1.0)


class Auditor:
    """Watches every offer of every engine and records any broken rule.

    Its own load counts rise after the store's (on offer) and fall before them (before
    release), so they never exceed the real load: any excess they show is a real over-fill.
    """

    def __init__(self, capacity: dict[str, dict[Channel, int]]) -> None:
        self.capacity = capacity
        self.offered: dict[str, str] = {}
        self.load: dict[str, Counter[Channel]] = {a: Counter() for a in capacity}
        self.violations: list[str] = []

    async def on_offer(self, offer: Offer) -> None:
        iid, aid, ch = offer.interaction_id, offer.agent_id, offer.channel
        if iid in self.offered:
            self.violations.append(f"{iid} offered to {self.offered[iid]} and {aid}")
        self.offered[iid] = aid
        load = self.load[aid]
        if ch is V and sum(load.values()) > 0:
            self.violations.append(f"call {iid} offered to busy {aid}: {dict(load)}")
        if ch is not V and load[V] > 0:
            self.violations.append(f"{iid} offered to {aid} during a call")
        load[ch] += 1
        if load[ch] > self.capacity[aid].get(ch, 0):
            self.violations.append(f"{aid} over capacity on {ch}: {load[ch]}")

    async def on_requeue(self, waiting: WaitingItem, why: str) -> None:
        self.violations.append(f"{waiting.interaction_id} requeued ({why}): nothing should time out")

    async def work_done(self, store: StatsStore, offer: Offer) -> None:
        self.load[offer.agent_id][offer.channel] -= 1
        await store.release(offer.interaction_id, offer.agent_id, now=NOW, customer_id=None, wrap_up=0)


async def test_three_engines_share_the_work(make_store: StoreFactory) -> None:
    rng = random.Random(42)
    stores = [await make_store() for _ in range(3)]
    capacity: dict[str, dict[Channel, int]] = {}
    for n in range(40):
        cap = {V: 1, C: rng.randint(1, 3), E: rng.randint(0, 5)}
        capacity[f"a{n:02d}"] = cap
        skills = {"billing": rng.randint(3, 9)} | ({"sales": rng.randint(1, 9)} if n % 2 else {})
        await stores[0].register_agent(f"a{n:02d}", skills=skills, capacity=cap, now=NOW - n)
        await stores[0].set_agent_state(f"a{n:02d}", AgentState.AVAILABLE, reason=None, now=NOW - n)
    total = 300
    for n in range(total):
        skills = rng.choice([{}, {"billing": 2}, {"sales": 1}, {"billing": 1, "sales": 1}])
        await stores[n % 3].enqueue(item(f"i{n:03d}", rng.choice((V, C, C, E)), waited=rng.random() * 100,
                                         skills=skills))
    auditor = Auditor(capacity)
    clock = ManualClock(NOW)  # frozen: no offer ever expires, so every item is offered exactly once
    deadline = time.monotonic() + 15

    async def node(store: StatsStore) -> None:
        engine = RoutingEngine(store=store, clock=clock, settings=RoutingSettings(), offer_timeout=60.0,
                               on_offer=auditor.on_offer, on_requeue=auditor.on_requeue)
        while len(auditor.offered) < total and not auditor.violations:
            assert time.monotonic() < deadline, f"only {len(auditor.offered)} of {total} offered"
            offers = await engine.run_once()
            for offer in offers:
                await store.accept(offer.interaction_id, offer.agent_id, now=NOW)
            await asyncio.sleep(0)  # let the other nodes route while these agents work
            for offer in offers:
                await auditor.work_done(store, offer)
            await asyncio.sleep(0)

    await asyncio.gather(*(node(s) for s in stores))
    assert auditor.violations == []
    assert sorted(auditor.offered) == [f"i{n:03d}" for n in range(total)]
    snap = await stores[1].snapshot()
    assert snap.waiting == []
    assert {a.agent_id: sum(a.load.values()) for a in snap.agents} == dict.fromkeys(capacity, 0)
    stats = await stores[2].stats(NOW)
    assert (stats.waiting, stats.offered, stats.active, stats.wrapping) == (0, 0, 0, 0)


async def test_racing_offers_for_one_item_get_one_success(make_store: StoreFactory) -> None:
    stores = [await make_store() for _ in range(3)]
    for n in range(3):
        await stores[0].register_agent(f"a{n}", skills={}, capacity={C: 1}, now=NOW)
        await stores[0].set_agent_state(f"a{n}", AgentState.AVAILABLE, reason=None, now=NOW)
    for round_ in range(20):
        await stores[0].enqueue(item(f"i{round_}", C))
        results = await asyncio.gather(*(
            s.try_offer(Assignment(f"i{round_}", f"a{n}", REASON), now=NOW, timeout=30)
            for n, s in enumerate(stores)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        await stores[0].remove(f"i{round_}")


async def test_racing_offers_for_one_last_slot_get_one_success(make_store: StoreFactory) -> None:
    stores = [await make_store() for _ in range(3)]
    await stores[0].register_agent("a1", skills={}, capacity={C: 1, V: 1}, now=NOW)
    await stores[0].set_agent_state("a1", AgentState.AVAILABLE, reason=None, now=NOW)
    for round_ in range(20):
        channels = (C, V, C)
        for n, ch in enumerate(channels):
            await stores[0].enqueue(item(f"r{round_}-{n}", ch))
        results = await asyncio.gather(*(
            s.try_offer(Assignment(f"r{round_}-{n}", "a1", REASON), now=NOW, timeout=30)
            for n, s in enumerate(stores)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        agent = await stores[1].agent("a1")
        assert agent is not None and sum(agent.load.values()) == 1
        await stores[0].release(winners[0].interaction_id, "a1", now=NOW, customer_id=None, wrap_up=0)
        for n in range(3):
            await stores[0].remove(f"r{round_}-{n}")


async def test_three_engines_with_rejects_never_offer_an_item_twice_at_once(
        make_store: StoreFactory) -> None:
    """Agents reject a third of their offers: items come back (with the agent excluded) and
    every node must see that through its own picture of the queue before offering again."""
    rng = random.Random(7)
    stores = [await make_store() for _ in range(3)]
    capacity: dict[str, dict[Channel, int]] = {}
    for n in range(12):
        cap = {V: 1, C: rng.randint(1, 2), E: rng.randint(1, 3)}
        capacity[f"a{n:02d}"] = cap
        await stores[0].register_agent(f"a{n:02d}", skills={"billing": 5}, capacity=cap, now=NOW - n)
        await stores[0].set_agent_state(f"a{n:02d}", AgentState.AVAILABLE, reason=None, now=NOW - n)
    total = 120
    for n in range(total):
        await stores[n % 3].enqueue(item(f"i{n:03d}", rng.choice((V, C, E)), waited=rng.random() * 100))
    auditor = Auditor(capacity)
    live: dict[str, str] = {}  # interaction -> agent holding its current offer
    done: set[str] = set()
    clock = ManualClock(NOW)
    deadline = time.monotonic() + 20

    async def on_offer(offer: Offer) -> None:
        if offer.interaction_id in live:
            auditor.violations.append(f"{offer.interaction_id} offered to {offer.agent_id} while "
                                      f"{live[offer.interaction_id]} holds it")
        live[offer.interaction_id] = offer.agent_id
        auditor.offered.pop(offer.interaction_id, None)  # re-offers after a reject are fine
        await auditor.on_offer(offer)

    async def node(store: StatsStore) -> None:
        engine = RoutingEngine(store=store, clock=clock, settings=RoutingSettings(), offer_timeout=60.0,
                               on_offer=on_offer, on_requeue=auditor.on_requeue)
        while len(done) < total and not auditor.violations:
            assert time.monotonic() < deadline, f"only {len(done)} of {total} done"
            offers = await engine.run_once()
            await asyncio.sleep(0)
            for offer in offers:
                del live[offer.interaction_id]
                auditor.load[offer.agent_id][offer.channel] -= 1
                if rng.random() < 0.33:
                    await store.reject(offer.interaction_id, offer.agent_id, now=NOW)
                else:
                    await store.accept(offer.interaction_id, offer.agent_id, now=NOW)
                    await store.release(offer.interaction_id, offer.agent_id, now=NOW, customer_id=None,
                                        wrap_up=0)
                    done.add(offer.interaction_id)
            await asyncio.sleep(0)

    await asyncio.gather(*(node(s) for s in stores))
    assert auditor.violations == []
    assert len(done) == total
    stats = await stores[2].stats(NOW)
    assert (stats.waiting, stats.offered, stats.active) == (0, 0, 0)
