"""Routing benchmark: the pure policy at scale, then offer cycles through each store.

``python -m bench routing [--redis URL] [--no-redis] [--agents N] [--waiting N] [--repeat N]``

Prints ``name: value`` lines; measured, not asserted. The Redis part uses a fresh key prefix
and deletes its keys afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence

import redis.asyncio as redis_asyncio
import redis.exceptions

from cti.clock import ManualClock
from cti.domain import AgentState, Channel
from cti.routing import (
    AgentSnapshot,
    Assignment,
    Offer,
    RoutingReason,
    RoutingSettings,
    RoutingSnapshot,
    RoutingStore,
    WaitingItem,
)
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore
from router.policy import decide
from router.redis_store import RedisRoutingStore

NOW = 1_800_000_000.0
SKILLS = ("billing", "sales", "tech", "spanish", "french", "vip")
CHANNELS = (Channel.VOICE, Channel.CHAT, Channel.CHAT, Channel.EMAIL, Channel.SMS, Channel.X)
TARGETS = {Channel.VOICE: 20.0, Channel.CHAT: 60.0, Channel.EMAIL: 14400.0, Channel.SMS: 900.0,
           Channel.X: 1800.0}
CAPACITY = {Channel.VOICE: 1, Channel.CHAT: 3, Channel.EMAIL: 5, Channel.SMS: 3, Channel.X: 2}
SETTINGS = RoutingSettings()
REASON = RoutingReason(rule="longest-idle", urgency=1.0, skill_match={}, preferred=False, waited=0.0)


def emit(name: str, value: float | int | str) -> None:
    if isinstance(value, float):
        print(f"{name}: {value:.3f}")
    else:
        print(f"{name}: {value}")


def make_items(rng: random.Random, count: int) -> list[WaitingItem]:
    items = []
    for n in range(count):
        channel = rng.choice(CHANNELS)
        wanted = rng.sample(SKILLS[:4], rng.choice((0, 1, 1, 2)))
        items.append(WaitingItem(
            interaction_id=f"i{n}", channel=channel, queue=rng.choice(("support", "sales")),
            customer_id=f"c{rng.randrange(count)}", enqueued_at=NOW - rng.random() * TARGETS[channel] * 1.5,
            service_target=TARGETS[channel], priority=rng.choice((1.0, 1.0, 1.0, 2.0)),
            skills={s: rng.randint(1, 5) for s in wanted}))
    return items


def make_agents(rng: random.Random, count: int, *, busy: float) -> list[AgentSnapshot]:
    """``busy``: the share of agents already near full (steady state of a loaded center)."""
    agents = []
    for n in range(count):
        load: dict[Channel, int] = {}
        if rng.random() < busy:
            load = {c: cap - (1 if rng.random() < 0.1 else 0)
                    for c, cap in CAPACITY.items() if c is not Channel.VOICE}
        agents.append(AgentSnapshot(
            agent_id=f"a{n}", state=AgentState.AVAILABLE if rng.random() < 0.9 else AgentState.AWAY,
            skills={s: rng.randint(1, 10) for s in rng.sample(SKILLS, 3)}, capacity=CAPACITY,
            load=load, idle_since=NOW - rng.random() * 3600))
    return agents


def bench_policy(name: str, snapshot: RoutingSnapshot, repeat: int) -> None:
    times: list[float] = []
    assigned = 0
    for _ in range(repeat):
        started = time.perf_counter()
        assigned = len(decide(snapshot, now=NOW, settings=SETTINGS))
        times.append(time.perf_counter() - started)
    times.sort()
    total = sum(times)
    emit(f"policy_{name}_agents", len(snapshot.agents))
    emit(f"policy_{name}_waiting", len(snapshot.waiting))
    emit(f"policy_{name}_assignments_per_decide", assigned)
    emit(f"policy_{name}_decide_p50_ms", statistics.median(times) * 1000)
    emit(f"policy_{name}_decide_p99_ms", times[min(len(times) - 1, int(len(times) * 0.99))] * 1000)
    emit(f"policy_{name}_decides_per_s", repeat / total)
    emit(f"policy_{name}_assignments_per_s", assigned * repeat / total)
    emit(f"policy_{name}_items_ranked_per_s", len(snapshot.waiting) * repeat / total)


def bench_policy_memory(snapshot: RoutingSnapshot) -> None:
    tracemalloc.start()
    decide(snapshot, now=NOW, settings=SETTINGS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    emit("policy_decide_peak_mib", peak / 2**20)


async def setup_agents(store: RoutingStore, count: int) -> None:
    for n in range(count):
        await store.register_agent(f"a{n}", skills={s: 5 for s in SKILLS}, capacity=CAPACITY, now=NOW)
        await store.set_agent_state(f"a{n}", AgentState.AVAILABLE, reason=None, now=NOW)


async def bench_cycles(name: str, store: RoutingStore, cycles: int) -> None:
    """enqueue + try_offer + accept + release, one interaction at a time."""
    rng = random.Random(3)
    items = make_items(rng, cycles)
    items = [WaitingItem(interaction_id=f"cycle-{w.interaction_id}", channel=w.channel, queue=w.queue,
                         customer_id=w.customer_id, enqueued_at=w.enqueued_at,
                         service_target=w.service_target) for w in items]
    agents = 50
    await setup_agents(store, agents)
    started = time.perf_counter()
    for n, w in enumerate(items):
        await store.enqueue(w)
        agent_id = f"a{n % agents}"
        offer = await store.try_offer(Assignment(w.interaction_id, agent_id, REASON), now=NOW, timeout=30)
        if offer is None:
            raise RuntimeError(f"offer refused for {w.interaction_id}")
        await store.accept(w.interaction_id, agent_id, now=NOW)
        await store.release(w.interaction_id, agent_id, now=NOW, customer_id=w.customer_id, wrap_up=0)
    elapsed = time.perf_counter() - started
    emit(f"{name}_offer_cycles_per_s", cycles / elapsed)
    emit(f"{name}_offer_cycle_ms", elapsed / cycles * 1000)


async def bench_engine(name: str, stores: Sequence[RoutingStore], count: int, agents: int) -> None:
    """Engines (one per store) route ``count`` interactions; agents accept and finish at once."""
    rng = random.Random(5)
    await setup_agents(stores[0], agents)
    for w in make_items(rng, count):
        await stores[0].enqueue(w)
    clock = ManualClock(NOW)
    offered: set[str] = set()

    async def on_offer(offer: Offer) -> None:
        offered.add(offer.interaction_id)

    async def on_requeue(item: WaitingItem, why: str) -> None:
        raise RuntimeError(f"unexpected requeue of {item.interaction_id}: {why}")

    passes = 0

    async def node(store: RoutingStore) -> None:
        nonlocal passes
        engine = RoutingEngine(store=store, clock=clock, settings=SETTINGS, offer_timeout=60.0,
                               on_offer=on_offer, on_requeue=on_requeue)
        deadline = time.monotonic() + 20
        while len(offered) < count and time.monotonic() < deadline:
            offers = await engine.run_once()
            passes += 1
            for offer in offers:
                await store.accept(offer.interaction_id, offer.agent_id, now=NOW)
                await store.release(offer.interaction_id, offer.agent_id, now=NOW, customer_id=None,
                                    wrap_up=0)
            await asyncio.sleep(0)

    started = time.perf_counter()
    await asyncio.gather(*(node(s) for s in stores))
    elapsed = time.perf_counter() - started
    emit(f"{name}_engines", len(stores))
    emit(f"{name}_routed", len(offered))
    emit(f"{name}_passes", passes)
    emit(f"{name}_assignments_per_s", len(offered) / elapsed)


async def bench_stores(args: argparse.Namespace) -> None:
    await bench_cycles("memory_store", MemoryRoutingStore(), args.cycles)
    await bench_engine("memory_engine", [MemoryRoutingStore()], args.engine_items, 200)
    if args.no_redis:
        return
    clients: list[redis_asyncio.Redis] = []
    prefix = f"bench{uuid.uuid4().hex[:10]}"

    def client() -> redis_asyncio.Redis:
        c = redis_asyncio.Redis.from_url(args.redis, socket_timeout=10)
        clients.append(c)
        return c

    try:
        await client().ping()
    except (redis.exceptions.ConnectionError, OSError) as exc:
        emit("redis", f"unavailable ({exc.__class__.__name__})")
        for c in clients:
            await c.aclose()
        return
    try:
        await bench_cycles("redis_store", RedisRoutingStore(redis=client(), prefix=f"{prefix}a"),
                           max(1, args.cycles // 5))
        await bench_engine("redis_engine", [RedisRoutingStore(redis=client(), prefix=f"{prefix}b")],
                           args.engine_items, 200)
        await bench_engine("redis_3engines", [RedisRoutingStore(redis=client(), prefix=f"{prefix}c")
                                              for _ in range(3)], args.engine_items, 200)
    finally:
        if clients:
            keys = [k async for k in clients[0].scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await clients[0].delete(*keys)
        for c in clients:
            await c.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench routing", description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis store")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20, help="decide calls per policy scenario")
    parser.add_argument("--cycles", type=int, default=10_000, help="offer cycles through the memory store")
    parser.add_argument("--engine-items", type=int, default=2000, help="interactions routed by the engines")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = random.Random(1)
    items = make_items(rng, args.waiting)
    scenarios: list[tuple[str, Callable[[], list[AgentSnapshot]]]] = [
        ("idle", lambda: make_agents(random.Random(2), args.agents, busy=0.0)),
        ("loaded", lambda: make_agents(random.Random(2), args.agents, busy=0.9)),
    ]
    for name, agents in scenarios:
        bench_policy(name, RoutingSnapshot(waiting=items, agents=agents(), last_served={}), args.repeat)
    bench_policy_memory(RoutingSnapshot(waiting=items, agents=scenarios[0][1](), last_served={}))
    asyncio.run(bench_stores(args))
    emit("total_seconds", time.perf_counter() - started)
    return 0
