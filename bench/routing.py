"""Routing benchmark: routing passes at scale (indexed vs the full sort), then the stores.

``python -m bench routing [--agents N] [--waiting N] [--passes N] [--baseline-passes N] [--runs N]
[--scale-agents N,N,..] [--scale-passes N] [--no-steady] [--redis URL] [--no-redis] [--cycles N]
[--workers N] [--engine-items N]``

Measured, never asserted; prints ``name: value`` lines. Each figure is measured ``--runs``
times and printed as ``<name>_min`` and ``<name>_median`` (for a rate, min is the worst run).

* **Routing pass**, steady state of a loaded centre (90 % of the agents near full, the rest
  free or away): before each pass a few agents finish an item (``--churn``) and as many new
  items arrive; then one pass decides. ``indexed`` is ``RoutingIndex.decide`` (what the
  engine runs now); ``full_sort`` is ``policy.decide`` on a snapshot of the same state (what
  it ran before; building the snapshot is not timed, which flatters it). Both answers are
  compared on every baseline pass: ``pass_answers_equal`` must be 1. Wall time (p50, p99,
  max) and, for the indexed pass, its thread's CPU time (the wall tail on a shared machine
  is mostly waiting for a core).
* **Burst**: the first pass with every agent free (thousands of assignments at once).
* **Scale** (``--scale-agents``): a pass's cost against the number of free agents. For each
  count, that many available agents with room on chat and one waiting chat per pass (a
  rotating skill need, or none); the assigned agent finishes it before the next pass, so the
  count of free agents stays put. Wall time (p50, p99) and CPU µs per pass, the feed's CPU µs
  per change, and ``scale_cpu_p50_ratio_<largest>_over_<smallest>``: 1.0 is flat.
* **Stores**: offer cycles (enqueue, offer, accept, release): ``sequential`` is one
  interaction at a time (four round trips, how the figure was taken before), ``concurrent``
  is ``--workers`` agents cycling at once (their script calls share pipelined round trips).
  ``offer_step``: the engine's part alone, ``try_offers`` of ``--workers`` assignments per trip,
  each offer then withdrawn (``remove``, also pipelined) to free the slot again.
  Then engines routing ``--engine-items`` interactions to 200 agents who accept and finish
  at once: one engine, and three engines on one Redis (``..._double_offers`` must be 0).
* **CPU**: for store figures, the bench process's CPU seconds plus Redis's (``INFO cpu``;
  Redis is shared with whatever else runs on the machine), ``..._cores`` = CPU / wall, and
  ``..._per_cpu_s`` = the rate per CPU-second, i.e. per fully used core. Split per operation
  (``..._bench_cpu_us_each``: the client side, this process; ``..._redis_cpu_us_each``: the
  server); ``..._per_s_one_core_each`` is the rate if the bench and Redis each had a core of
  their own (the busier one sets the pace): on a shared machine the wall-clock rate mostly
  measures the others. ``..._script_round_trips_each``: script round trips to Redis per
  operation (calls made at once share one; the engines' log reads are not counted). The
  routing pass runs on one core (one thread).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import redis.asyncio as redis_asyncio
import redis.exceptions

from bench.common import emit, percentile
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
from router.engine import RankingStore, RoutingEngine
from router.memory_store import MemoryRoutingStore
from router.policy import decide
from router.ranking import RoutingIndex
from router.redis_store import RedisRoutingStore

NOW = 1_800_000_000.0
SKILLS = ("billing", "sales", "tech", "spanish", "french", "vip")
CHANNELS = (Channel.VOICE, Channel.CHAT, Channel.CHAT, Channel.EMAIL, Channel.SMS, Channel.X)
TARGETS = {Channel.VOICE: 20.0, Channel.CHAT: 60.0, Channel.EMAIL: 14400.0, Channel.SMS: 900.0,
           Channel.X: 1800.0}
CAPACITY = {Channel.VOICE: 1, Channel.CHAT: 3, Channel.EMAIL: 5, Channel.SMS: 3, Channel.X: 2}
SETTINGS = RoutingSettings()
REASON = RoutingReason(rule="longest-idle", urgency=1.0, skill_match={}, preferred=False, waited=0.0)


class Figures:
    """Every run's value of each figure; printed as min and median at the end."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(value)

    def print(self) -> None:
        for name, values in self.values.items():
            if len(values) == 1:
                emit(name, values[0])
            else:
                emit(f"{name}_min", min(values))
                emit(f"{name}_median", statistics.median(values))


def make_item(rng: random.Random, interaction_id: str, *, waited: float | None = None) -> WaitingItem:
    channel = rng.choice(CHANNELS)
    wanted = rng.sample(SKILLS[:4], rng.choice((0, 1, 1, 2)))
    wait = rng.random() * TARGETS[channel] * 1.5 if waited is None else waited
    return WaitingItem(
        interaction_id=interaction_id, channel=channel, queue=rng.choice(("support", "sales")),
        customer_id=f"c{rng.randrange(1_000_000)}", enqueued_at=NOW - wait,
        service_target=TARGETS[channel], priority=rng.choice((1.0, 1.0, 1.0, 2.0)),
        skills={s: rng.randint(1, 5) for s in wanted})


def make_items(rng: random.Random, count: int) -> list[WaitingItem]:
    return [make_item(rng, f"i{n}") for n in range(count)]


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


# ----- routing passes (pure, one core) ------------------------------------------------------

def apply(index: RoutingIndex, agents: dict[str, AgentSnapshot], assignments: Sequence[Assignment]) -> None:
    """What a store does when the offers succeed: items leave, loads grow."""
    for a in assignments:
        item = index.drop_item(a.interaction_id)
        if item is None:
            raise RuntimeError(f"{a.interaction_id} assigned but not waiting")
        agent = agents[a.agent_id]
        load = dict(agent.load)
        load[item.channel] = load.get(item.channel, 0) + 1
        agents[a.agent_id] = agent = replace(agent, load=load)
        index.put_agent(agent)


def finish_one(rng: random.Random, index: RoutingIndex, agents: dict[str, AgentSnapshot], now: float) -> None:
    """A random busy agent finishes one item."""
    ids = list(agents)
    for _ in range(100):
        agent = agents[rng.choice(ids)]
        busy = [c for c, n in agent.load.items() if n > 0]
        if busy:
            channel = rng.choice(busy)
            load = dict(agent.load)
            load[channel] -= 1
            agents[agent.agent_id] = agent = replace(agent, load=load, idle_since=now)
            index.put_agent(agent)
            return


def routing_passes(figs: Figures, args: argparse.Namespace, run: int) -> None:
    rng = random.Random(100 + run)
    items = make_items(random.Random(1), args.waiting)
    agent_list = make_agents(random.Random(2), args.agents, busy=0.9)
    started = time.perf_counter()
    index = RoutingIndex.of(RoutingSnapshot(waiting=items, agents=agent_list, last_served={}))
    figs.add("index_build_s", time.perf_counter() - started)
    agents = {a.agent_id: a for a in agent_list}
    now = NOW
    apply(index, agents, index.decide(now=now, settings=SETTINGS))  # whoever is free now: a burst
    fresh = itertools.count()
    every = max(1, args.passes // max(1, args.baseline_passes))
    indexed: list[float] = []
    indexed_cpu: list[float] = []
    full: list[float] = []
    feed: list[float] = []
    equal = True
    assigned = 0
    for n in range(args.passes):
        now += 0.1
        started = time.perf_counter()
        for _ in range(args.churn):
            finish_one(rng, index, agents, now)
            index.put_item(make_item(rng, f"new{run}-{next(fresh)}", waited=0.0))
        feed.append((time.perf_counter() - started) / (2 * args.churn))
        baseline = n % every == 0 and len(full) < args.baseline_passes
        snapshot = None
        if baseline:
            snapshot = RoutingSnapshot(waiting=list(index.items()), agents=list(index.agents()),
                                       last_served={})
        started, cpu = time.perf_counter(), time.thread_time()
        got = index.decide(now=now, settings=SETTINGS)
        indexed.append(time.perf_counter() - started)
        indexed_cpu.append(time.thread_time() - cpu)
        if snapshot is not None:
            started = time.perf_counter()
            want = decide(snapshot, now=now, settings=SETTINGS)
            full.append(time.perf_counter() - started)
            equal = equal and got == want
        apply(index, agents, got)
        assigned += len(got)
    indexed.sort()
    indexed_cpu.sort()
    full.sort()
    figs.add("pass_waiting", len(index))
    figs.add("pass_assignments_per_pass", assigned / args.passes)
    figs.add("pass_feed_us_per_change", statistics.mean(feed) * 1e6)
    for name, times in (("indexed", indexed), ("full_sort", full)):
        figs.add(f"pass_{name}_samples", len(times))
        figs.add(f"pass_{name}_p50_ms", statistics.median(times) * 1000)
        figs.add(f"pass_{name}_p99_ms", percentile(times, 0.99) * 1000)
        figs.add(f"pass_{name}_max_ms", times[-1] * 1000)
    # CPU time of the pass alone: the wall figures include waiting for a core on a busy machine.
    figs.add("pass_indexed_cpu_p50_ms", statistics.median(indexed_cpu) * 1000)
    figs.add("pass_indexed_cpu_p99_ms", percentile(indexed_cpu, 0.99) * 1000)
    figs.add("pass_indexed_cpu_max_ms", indexed_cpu[-1] * 1000)
    figs.add("pass_full_sort_over_indexed_p50", statistics.median(full) / statistics.median(indexed))
    figs.add("pass_full_sort_over_indexed_p99", percentile(full, 0.99) / percentile(indexed, 0.99))
    figs.add("pass_answers_equal", int(equal))


def burst_pass(figs: Figures, args: argparse.Namespace) -> None:
    items = make_items(random.Random(1), args.waiting)
    snapshot = RoutingSnapshot(waiting=items, agents=make_agents(random.Random(2), args.agents, busy=0.0),
                               last_served={})
    index = RoutingIndex.of(snapshot)
    started = time.perf_counter()
    got = index.decide(now=NOW, settings=SETTINGS)
    figs.add("burst_indexed_ms", (time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    want = decide(snapshot, now=NOW, settings=SETTINGS)
    figs.add("burst_full_sort_ms", (time.perf_counter() - started) * 1000)
    figs.add("burst_assignments", len(got))
    figs.add("burst_answers_equal", int(got == want))


def scale_agents(rng: random.Random, count: int) -> dict[str, AgentSnapshot]:
    """``count`` available agents, each with room on chat (some already chatting)."""
    agents = {}
    for n in range(count):
        agents[f"a{n}"] = AgentSnapshot(
            agent_id=f"a{n}", state=AgentState.AVAILABLE,
            skills={s: rng.randint(1, 10) for s in rng.sample(SKILLS, 3)}, capacity=CAPACITY,
            load={Channel.CHAT: rng.randint(0, 1)}, idle_since=NOW - rng.random() * 3600)
    return agents


def scale_passes(figs: Figures, args: argparse.Namespace, run: int) -> None:
    """One waiting chat per pass against 100 ... 5,000 free agents: does a pass grow with them?"""
    counts = [int(n) for n in args.scale_agents.split(",") if n.strip()]
    if not counts:
        return
    needs: list[dict[str, int]] = [{}, {"billing": 3}, {"sales": 5}, {"tech": 2, "spanish": 2}]
    cpu_p50: dict[int, float] = {}
    for count in counts:
        rng = random.Random(200 + run)
        agents = scale_agents(rng, count)
        index = RoutingIndex.of(RoutingSnapshot(waiting=[], agents=list(agents.values()), last_served={}))
        now = NOW
        walls: list[float] = []
        cpus: list[float] = []
        feed = 0.0
        changes = 0
        for n in range(args.scale_passes):
            now += 0.1
            cpu = time.thread_time()
            index.put_item(WaitingItem(
                interaction_id=f"s{run}-{count}-{n}", channel=Channel.CHAT, queue="support",
                customer_id=f"c{n}", enqueued_at=now - 1.0, service_target=TARGETS[Channel.CHAT],
                skills=needs[n % len(needs)]))
            feed += time.thread_time() - cpu
            started, cpu = time.perf_counter(), time.thread_time()
            got = index.decide(now=now, settings=SETTINGS)
            cpus.append(time.thread_time() - cpu)
            walls.append(time.perf_counter() - started)
            cpu = time.thread_time()
            for a in got:
                # The offer lands and the chat ends at once: the agent is free again, idle from now.
                index.drop_item(a.interaction_id)
                agent = agents[a.agent_id]
                busier = {**agent.load, Channel.CHAT: agent.load.get(Channel.CHAT, 0) + 1}
                index.put_agent(replace(agent, load=busier))
                agents[a.agent_id] = agent = replace(agent, idle_since=now)
                index.put_agent(agent)
                changes += 3  # the drop_item and the two put_agents
            feed += time.thread_time() - cpu
            changes += 1  # the put_item
        walls.sort()
        cpus.sort()
        cpu_p50[count] = statistics.median(cpus)
        figs.add(f"scale_{count}_pass_p50_us", statistics.median(walls) * 1e6)
        figs.add(f"scale_{count}_pass_p99_us", percentile(walls, 0.99) * 1e6)
        figs.add(f"scale_{count}_pass_cpu_p50_us", cpu_p50[count] * 1e6)
        figs.add(f"scale_{count}_pass_cpu_p99_us", percentile(cpus, 0.99) * 1e6)
        figs.add(f"scale_{count}_pass_cpu_mean_us", statistics.mean(cpus) * 1e6)
        figs.add(f"scale_{count}_feed_cpu_us_per_change", feed / changes * 1e6)
    low, high = min(counts), max(counts)
    figs.add(f"scale_cpu_p50_ratio_{high}_over_{low}", cpu_p50[high] / cpu_p50[low])


# ----- stores ---------------------------------------------------------------------------------

class Cpu:
    """CPU seconds of this process and of the Redis server (if any) over a measurement."""

    def __init__(self, client: redis_asyncio.Redis | None) -> None:
        self.client = client
        self.stores: list[RedisRoutingStore] = []  # whose script round trips are counted

    def trips(self) -> int:
        return sum(store.script_trips for store in self.stores)

    async def read(self) -> tuple[float, float, float]:
        redis_cpu = 0.0
        if self.client is not None:
            info: dict[str, Any] = await self.client.info("cpu")
            redis_cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return time.perf_counter(), time.process_time(), redis_cpu

    async def measure(self, figs: Figures, name: str, count: int,
                      work: Callable[[], Awaitable[None]]) -> None:
        trips0 = self.trips()
        wall0, own0, redis0 = await self.read()
        await work()
        wall1, own1, redis1 = await self.read()
        trips = self.trips() - trips0
        wall, cpu = wall1 - wall0, (own1 - own0) + (redis1 - redis0)
        figs.add(f"{name}_per_s", count / wall)
        figs.add(f"{name}_ms_each", wall / count * 1000)
        figs.add(f"{name}_cores", cpu / wall)
        figs.add(f"{name}_per_cpu_s", count / cpu if cpu > 0 else float("nan"))
        figs.add(f"{name}_bench_cpu_us_each", (own1 - own0) / count * 1e6)
        if self.client is not None:
            figs.add(f"{name}_redis_cpu_us_each", (redis1 - redis0) / count * 1e6)
            # With a core for this process and one for Redis: the busier side sets the pace.
            figs.add(f"{name}_per_s_one_core_each", count / max(own1 - own0, redis1 - redis0, 1e-9))
            figs.add(f"{name}_script_round_trips_each", trips / count)


async def setup_agents(store: RoutingStore, count: int) -> None:
    for n in range(count):
        await store.register_agent(f"a{n}", skills={s: 5 for s in SKILLS}, capacity=CAPACITY, now=NOW)
        await store.set_agent_state(f"a{n}", AgentState.AVAILABLE, reason=None, now=NOW)


def cycle_items(count: int, tag: str) -> list[WaitingItem]:
    rng = random.Random(3)
    return [replace(w, interaction_id=f"cycle-{tag}-{w.interaction_id}", skills={}, priority=1.0)
            for w in make_items(rng, count)]


async def one_cycle(store: RoutingStore, w: WaitingItem, agent_id: str) -> None:
    await store.enqueue(w)
    offer = await store.try_offer(Assignment(w.interaction_id, agent_id, REASON), now=NOW, timeout=30)
    if offer is None:
        raise RuntimeError(f"offer refused for {w.interaction_id}")
    await store.accept(w.interaction_id, agent_id, now=NOW)
    await store.release(w.interaction_id, agent_id, now=NOW, customer_id=w.customer_id, wrap_up=0)


async def bench_cycles(figs: Figures, cpu: Cpu, name: str, store: RoutingStore, cycles: int,
                       workers: int, run: int) -> None:
    """Offer cycles, one at a time and then from ``workers`` agents at once."""
    await setup_agents(store, workers)
    items = cycle_items(cycles, f"s{run}")

    async def sequential() -> None:
        for n, w in enumerate(items):
            await one_cycle(store, w, f"a{n % workers}")

    await cpu.measure(figs, f"{name}_sequential_offer_cycles", cycles, sequential)
    items = cycle_items(cycles, f"c{run}")

    async def worker(k: int) -> None:
        for w in items[k::workers]:
            await one_cycle(store, w, f"a{k}")

    async def concurrent() -> None:
        await asyncio.gather(*(worker(k) for k in range(workers)))

    await cpu.measure(figs, f"{name}_concurrent_offer_cycles", cycles, concurrent)
    await bench_offer_step(figs, cpu, name, store, cycles, workers, run)


async def bench_offer_step(figs: Figures, cpu: Cpu, name: str, store: RoutingStore, count: int,
                           agents: int, run: int) -> None:
    """The engine's offer step alone: ``try_offers`` of a pass's assignments, one per agent per call."""
    if not isinstance(store, RankingStore):
        return
    items = cycle_items(count, f"o{run}")
    for w in items:
        await store.enqueue(w)
    assignments = [Assignment(w.interaction_id, f"a{n % agents}", REASON) for n, w in enumerate(items)]

    async def offer() -> None:
        for start in range(0, count, agents):
            batch = assignments[start:start + agents]
            for offer in await store.try_offers(batch, now=NOW, timeout=30):
                if offer is None:
                    raise RuntimeError("offer refused")
            # Each slot back at once, so the next batch finds every agent free again.
            await asyncio.gather(*(store.remove(a.interaction_id) for a in batch))

    await cpu.measure(figs, f"{name}_offer_step_offers_and_withdrawals", count, offer)


async def bench_engine(figs: Figures, cpu: Cpu, name: str, stores: Sequence[RoutingStore], count: int,
                       agents: int) -> None:
    """Engines (one per store) route ``count`` interactions; agents accept and finish at once."""
    rng = random.Random(5)
    await setup_agents(stores[0], agents)
    for w in make_items(rng, count):
        await stores[0].enqueue(w)
    clock = ManualClock(NOW)
    offered: dict[str, int] = {}

    async def on_offer(offer: Offer) -> None:
        offered[offer.interaction_id] = offered.get(offer.interaction_id, 0) + 1

    async def on_requeue(item: WaitingItem, why: str) -> None:
        raise RuntimeError(f"unexpected requeue of {item.interaction_id}: {why}")

    passes = 0

    async def node(store: RoutingStore) -> None:
        nonlocal passes
        engine = RoutingEngine(store=store, clock=clock, settings=SETTINGS, offer_timeout=60.0,
                               on_offer=on_offer, on_requeue=on_requeue)
        deadline = time.monotonic() + 60
        while len(offered) < count and time.monotonic() < deadline:
            offers = await engine.run_once()
            passes += 1

            async def work(offer: Offer, store: RoutingStore = store) -> None:
                await store.accept(offer.interaction_id, offer.agent_id, now=NOW)
                await store.release(offer.interaction_id, offer.agent_id, now=NOW, customer_id=None,
                                    wrap_up=0)

            await asyncio.gather(*(work(o) for o in offers))
            await asyncio.sleep(0)

    async def route() -> None:
        await asyncio.gather(*(node(s) for s in stores))

    await cpu.measure(figs, f"{name}_assignments", count, route)
    figs.add(f"{name}_routed", len(offered))
    figs.add(f"{name}_double_offers", sum(n - 1 for n in offered.values()))
    figs.add(f"{name}_passes", passes)


async def bench_stores(figs: Figures, args: argparse.Namespace, run: int) -> None:
    no_redis = Cpu(None)
    await bench_cycles(figs, no_redis, "memory_store", MemoryRoutingStore(), args.cycles, args.workers, run)
    await bench_engine(figs, no_redis, "memory_engine", [MemoryRoutingStore()], args.engine_items, 200)
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
    cpu = Cpu(clients[0])
    try:
        def store(tag: str) -> RedisRoutingStore:
            made = RedisRoutingStore(redis=client(), prefix=f"{prefix}{tag}")
            cpu.stores.append(made)
            return made

        await bench_cycles(figs, cpu, "redis_store", store("a"), args.cycles // 2, args.workers, run)
        await bench_engine(figs, cpu, "redis_engine", [store("b")], args.engine_items, 200)
        shared = [store("c") for _ in range(3)]  # three nodes on one Redis
        await bench_engine(figs, cpu, "redis_3engines", shared, args.engine_items, 200)
    finally:
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
    parser.add_argument("--passes", type=int, default=500, help="routing passes timed per run")
    parser.add_argument("--baseline-passes", type=int, default=10,
                        help="of those, how many are also timed with the full sort")
    parser.add_argument("--churn", type=int, default=5, help="agents finishing and items arriving per pass")
    parser.add_argument("--runs", type=int, default=3, help="measure every figure this many times")
    parser.add_argument("--scale-agents", default="100,1000,5000",
                        help="free-agent counts of the scale figures (comma-separated; empty: skip)")
    parser.add_argument("--scale-passes", type=int, default=2000, help="passes timed per scale count")
    parser.add_argument("--no-steady", action="store_true", help="skip the loaded steady-state passes")
    parser.add_argument("--no-burst", action="store_true", help="skip the all-agents-free burst pass")
    parser.add_argument("--no-stores", action="store_true", help="skip the store and engine figures")
    parser.add_argument("--cycles", type=int, default=10_000, help="offer cycles per store figure")
    parser.add_argument("--workers", type=int, default=50, help="agents cycling at once")
    parser.add_argument("--engine-items", type=int, default=2000, help="interactions routed by the engines")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    emit("machine_cores", os.cpu_count() or 0)
    emit("pass_cores_used", 1)
    figs = Figures()
    for run in range(args.runs):
        if not args.no_steady:
            routing_passes(figs, args, run)
        scale_passes(figs, args, run)
        if not args.no_burst:
            burst_pass(figs, args)
        if not args.no_stores:
            asyncio.run(bench_stores(figs, args, run))
    figs.print()
    emit("total_seconds", time.perf_counter() - started)
    return 0
