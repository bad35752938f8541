"""Both stores feed their index with every change: their ``decide`` equals the full sort on a snapshot.

On Redis the index is a mirror fed from the change log, so a second store (another node)
making the changes checks that a node follows what the others do.
"""

from __future__ import annotations

import logging
import random

import pytest

from cti.domain import AgentState, Channel
from cti.routing import Assignment, RoutingSettings
from router.policy import decide
from router.redis_store import RedisRoutingStore
from tests.router.builders import NOW, item
from tests.router.conftest import StatsStore, StoreFactory

SETTINGS = RoutingSettings(preferred_window=600.0)
CHANNELS = (Channel.VOICE, Channel.CHAT, Channel.EMAIL)
SKILLS = ("billing", "sales")


async def full_sort(store: StatsStore) -> list[Assignment]:
    return decide(await store.snapshot(), now=NOW, settings=SETTINGS)


async def indexed(store: StatsStore) -> list[Assignment]:
    result: list[Assignment] = await store.decide(now=NOW, settings=SETTINGS)  # type: ignore[attr-defined]
    return result


async def test_decide_follows_every_kind_of_change(make_store: StoreFactory) -> None:
    rng = random.Random(11)
    engine_store, other = await make_store(), await make_store()
    agents = [f"a{n}" for n in range(8)]
    for n, agent_id in enumerate(agents):
        skills = {s: rng.randint(1, 3) for s in rng.sample(SKILLS, n % 3)}
        await other.register_agent(agent_id, skills=skills, now=NOW - n,
                                   capacity={Channel.VOICE: 1, Channel.CHAT: 2, Channel.EMAIL: 3})
        await other.set_agent_state(agent_id, AgentState.AVAILABLE, reason=None, now=NOW - n)
    assert await indexed(engine_store) == await full_sort(engine_store) == []
    fresh = decided = 0
    for step in range(60):
        op = rng.choice(("enqueue", "enqueue", "offer", "reject", "release", "state", "remove"))
        snap = await other.snapshot()
        if op == "enqueue":
            await other.enqueue(item(f"i{fresh:03d}", rng.choice(CHANNELS), waited=rng.choice((0, 10, 30)),
                                     skills={s: 1 for s in rng.sample(SKILLS, rng.randint(0, 1))},
                                     customer=f"c{rng.randint(0, 3)}"))
            fresh += 1
        elif op == "offer":
            for assignment in await full_sort(other):
                await other.try_offer(assignment, now=NOW, timeout=30)
        elif op in ("reject", "release"):
            offers = [o for w in range(fresh) if (o := await other.offer_for(f"i{w:03d}")) is not None]
            if offers:
                offer = rng.choice(offers)
                if op == "reject":
                    await other.reject(offer.interaction_id, offer.agent_id, now=NOW)
                else:
                    await other.accept(offer.interaction_id, offer.agent_id, now=NOW)
                    await other.release(offer.interaction_id, offer.agent_id, now=NOW,
                                        customer_id=f"c{rng.randint(0, 3)}", wrap_up=0)
        elif op == "state":
            state = rng.choice((AgentState.AVAILABLE, AgentState.AWAY))
            await other.set_agent_state(rng.choice(agents), state, reason=None, now=NOW)
        elif op == "remove" and snap.waiting:
            await other.remove(rng.choice(snap.waiting).interaction_id)
        got = await indexed(engine_store)
        assert got == await full_sort(engine_store), f"step {step}: {op}"
        decided += len(got)
    assert decided > 20  # the comparisons were not all of empty answers


async def test_a_node_that_lost_the_log_reads_everything_again(make_store: StoreFactory,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    engine_store, other = await make_store(), await make_store()
    await other.register_agent("a1", skills={}, capacity={Channel.CHAT: 5}, now=NOW)
    await other.set_agent_state("a1", AgentState.AVAILABLE, reason=None, now=NOW)
    await other.enqueue(item("i1", Channel.CHAT, waited=5))
    assert [a.interaction_id for a in await indexed(engine_store)] == ["i1"]
    await other.enqueue(item("i2", Channel.CHAT, waited=10))
    await other.remove("i1")
    if isinstance(other, RedisRoutingStore):
        # As if the log had been trimmed past what this node read.
        await other._redis.delete(other.keys[other.keys.index(other._log_key)])
    await other.enqueue(item("i3", Channel.CHAT, waited=1))
    with caplog.at_level(logging.INFO, logger="router.redis_store"):
        got = await indexed(engine_store)
    assert [a.interaction_id for a in got] == ["i2", "i3"]
    if isinstance(other, RedisRoutingStore):
        assert "reading it all" in caplog.text
    assert got == await full_sort(engine_store)
