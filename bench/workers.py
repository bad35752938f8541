"""Chats per second at 1 and 2 server processes: ``cti serve`` against ``cti serve --workers 2``.

``python -m bench workers [--agents N] [--rates R,R,...] [--step-seconds S] [--workers 1,2]
[--db POSTGRESQL_URL] [--redis REDIS_URL] [--quick]``

Each configuration is the real server (a subprocess) on PostgreSQL and Redis, a fresh schema and
key prefix each, dropped after: ``--workers 1`` is one plain node, ``--workers 2`` the supervisor
and its two worker nodes on one port. ``--agents`` agents log in and go available, each on a
connection of its own, so the kernel spreads them over the workers. Then, at a steady scheduled
rate (open loop: each chat starts on time whatever the earlier ones do), each chat runs end to
end: the visitor's socket opens, says hello (a name only) and its first message; the offer
reaches an agent's socket (on whichever worker); the agent accepts and completes; the visitor
sees the chat closed. Two latencies per chat, from its scheduled start: to the offer on the
agent's socket, and to the agent's complete answered (the chat done).

Each rate step prints its chats, those lost (not done within 10 s), p50/p99 of both latencies,
the harness's worst lateness, and the CPU over the step of the server (the supervisor and all
its workers, all threads), of this harness and of the rest of the machine (PostgreSQL, Redis,
anything else). A rate is sustained when nothing is lost, the chat p99 stays under 500 ms and
the harness kept its schedule (lateness under 100 ms). Stepping stops when chats are lost or
fewer than 80 % of the rate complete per second. Printed per configuration: the highest
sustained rate with its p50/p99 and server CPU per chat, and the most chats per second completed
at any step without loss (whatever the latency: the throughput when the machine is shared), then
both ratios 2:1.

Measured, not asserted. The machine has 2 cores and the harness, PostgreSQL and Redis share them
with the server: with 2 workers the server can use both cores only when nothing else needs
them, so the ratio is a floor of what a machine with spare cores would show; on a machine busy
with other work (other_cpu_pct near 200) it is the reverse: two processes get two shares of the
scheduler where one gets one, and the ratio can pass 2. Compare server CPU per chat at 1 and 2
to see what the second process itself costs. Each step prints
the harness's CPU share to see how much of a core it took.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import redis
import yaml

from bench.common import (
    close_desks,
    cpu_seconds,
    emit,
    machine_busy_seconds,
    memory_mib,
    open_desks,
    percentile,
    postgres_schema,
)
from bench.screen_pop import agent_id, write_config
from tests.server_process import RunningServer, run_server

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
LOST_AFTER = 10.0
CHAT_P99_LIMIT = 0.5  # seconds: a rate whose chats take longer at p99 is not sustained
LAG_LIMIT = 0.1  # seconds: the harness fell behind its own schedule, the rate was not offered
WARMUP_CHATS = 20


OUR_CODE = re.compile(r"\((?:cti|context|desktop_api|router|adapters)/")
PASS_THROUGH = re.compile(r"\(cti/(?:cli|serve)\.py|_middleware \(")
IDLE_FRAMES = ("select (selectors.py", "_worker (concurrent/futures/thread.py", "wait (threading.py")


def profile_start(pids: Sequence[int], seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy sampling each server process (not the idle supervisor) for ``seconds``."""
    duration = str(max(1, round(seconds)))
    return [subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", duration, "--rate", "100",
                              "--format", "raw", "--nonblocking", "-o", str(out / f"{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]


def profile_report(prefix: str, out: Path, top: int = 12) -> None:
    """The frames where the server's busy samples were (self time, all workers together)."""
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()  # inclusive, our own functions: which step of a chat costs
    busy = 0
    for path in out.glob("*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            if not count.isdigit() or any(idle in frames[-1] for idle in IDLE_FRAMES):
                continue
            busy += int(count)
            own[frames[-1]] += int(count)
            for frame in {f.split(":")[0] for f in frames if OUR_CODE.search(f)}:
                ours[frame] += int(count)
    emit(f"{prefix}_profile_busy_samples", busy)
    for k, (frame, samples) in enumerate(own.most_common(top), 1):
        emit(f"{prefix}_profile_self_top{k:02d}", f"{100 * samples / max(busy, 1):.1f}% {frame}")
    # Not the frames every request passes through (main, the serve loop, the middlewares).
    shallow = [(f, n) for f, n in ours.most_common() if not PASS_THROUGH.search(f)][:top]
    for k, (frame, samples) in enumerate(shallow, 1):
        emit(f"{prefix}_profile_ours_top{k:02d}", f"{100 * samples / max(busy, 1):.1f}% {frame})")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children (the supervisor's workers), from Linux ``/proc``."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


def tree_cpu(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


@dataclass
class StepResult:
    rate: float
    chats: int
    offer: list[float]  # seconds, sorted: scheduled start to the offer on an agent's socket
    done: list[float]  # seconds, sorted: scheduled start to the complete answered
    max_lag: float
    elapsed: float
    completed_per_s: float  # chats done / (last one done - first one due): what was delivered
    server_cpu: float
    harness_cpu: float
    other_cpu: float

    @property
    def lost(self) -> int:
        return self.chats - len(self.done)

    def sustained(self) -> bool:
        return (self.lost == 0 and bool(self.done) and percentile(self.done, 0.99) < CHAT_P99_LIMIT
                and self.max_lag < LAG_LIMIT)

    def saturated(self) -> bool:
        """Stop stepping: chats lost, or completed at under 80 % of the rate offered."""
        return self.lost > 0 or self.completed_per_s < 0.8 * self.rate


class Harness:
    """The agents of one server, and chats started on a schedule."""

    def __init__(self, session: aiohttp.ClientSession, srv: RunningServer) -> None:
        self.session = session
        self.srv = srv
        self.agents: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.started: dict[str, float] = {}  # chat name -> scheduled start
        self.offered: dict[str, float] = {}
        self.done: dict[str, asyncio.Future[float]] = {}
        self.names: dict[str, str] = {}  # interaction id -> chat name
        self.errors: Counter[str] = Counter()

    async def connect_agents(self, count: int) -> None:
        opened = await open_desks(self.session, self.srv.url, self.srv.ws_url,
                                  [agent_id(n) for n in range(count)], concurrency=16)
        self.agents.extend(opened)
        self.readers.extend(asyncio.create_task(self._agent(ws)) for ws in opened)

    async def _agent(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            data: dict[str, Any] = msg.json()
            kind = data.get("type")
            if kind == "interaction.offered":
                now = time.perf_counter()
                iid = data["interaction_id"]
                pop = data.get("screen_pop") or {}
                name = ((pop.get("interaction") or {}).get("context") or {}).get("chat.name")
                if isinstance(name, str) and name in self.started:
                    self.offered[name] = now - self.started[name]
                    self.names[iid] = name
                await ws.send_json({"type": "accept", "interaction_id": iid, "ref": "accept"})
                await ws.send_json({"type": "complete", "interaction_id": iid, "disposition": "resolved",
                                    "ref": f"complete:{iid}"})
            elif kind == "error":
                self.errors[str(data.get("error_id"))] += 1
            elif kind == "ack" and str(data.get("ref")).startswith("complete:"):
                name = self.names.pop(data["ref"].partition(":")[2], None)
                future = self.done.get(name) if name else None
                if name is not None and future is not None and not future.done():
                    future.set_result(time.perf_counter() - self.started[name])

    async def chat(self, name: str, due: float) -> float:
        """One visitor from its scheduled start to the chat closed; returns the lateness."""
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = time.perf_counter() - due
        self.started[name] = due
        try:
            async with self.session.ws_connect(f"{self.srv.ws_url}/ws/chat") as ws:
                await ws.send_json({"type": "hello", "name": name})
                welcome = await ws.receive_json(timeout=LOST_AFTER)
                if welcome.get("type") != "welcome":
                    self.errors[f"visitor-{welcome.get('error_id')}"] += 1
                    return lag
                await ws.send_json({"type": "message", "body": f"Hello, I am {name}: where is my order?"})
                async with asyncio.timeout(LOST_AFTER):
                    async for msg in ws:  # until the agent's complete closes the chat
                        if msg.type is not aiohttp.WSMsgType.TEXT:
                            continue
                        said = msg.json()
                        if said.get("type") == "error":
                            self.errors[f"visitor-{said.get('error_id')}"] += 1
                            break
                        if said.get("state") == "closed":
                            break
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.errors[f"visitor-{type(exc).__name__}"] += 1
        return lag

    async def step(self, rate: float, count: int, tag: str) -> StepResult:
        loop = asyncio.get_running_loop()
        names = [f"{tag}-{k}-{uuid.uuid4().hex[:6]}" for k in range(count)]
        for name in names:
            self.done[name] = loop.create_future()
        pids = process_tree(self.srv.process.pid)
        cpu = tree_cpu(pids), time.process_time(), machine_busy_seconds()
        start = time.perf_counter() + 0.05
        lags = await asyncio.gather(*(self.chat(n, start + k / rate) for k, n in enumerate(names)))
        futures = [self.done[n] for n in names]
        await asyncio.wait(futures, timeout=LOST_AFTER)
        elapsed = time.perf_counter() - start
        server_cpu, harness_cpu = tree_cpu(pids) - cpu[0], time.process_time() - cpu[1]
        other_cpu = machine_busy_seconds() - cpu[2] - server_cpu - harness_cpu
        done = sorted(f.result() for f in futures if f.done())
        finished = [k / rate + f.result() for k, f in enumerate(futures) if f.done()]
        completed_per_s = len(finished) / max(finished) if finished else 0.0
        offer = sorted(self.offered.pop(n) for n in names if n in self.offered)
        for name in names:
            self.done.pop(name).cancel()
            self.started.pop(name, None)
        return StepResult(rate=rate, chats=count, offer=offer, done=done, max_lag=max(lags),
                          elapsed=elapsed, completed_per_s=completed_per_s, server_cpu=server_cpu,
                          harness_cpu=harness_cpu, other_cpu=other_cpu)

    async def aclose(self) -> None:
        await close_desks(self.agents, self.readers)


def report_step(prefix: str, step: StepResult) -> None:
    rate = f"{prefix}_rate_{step.rate:g}"
    emit(f"{rate}_chats", step.chats)
    emit(f"{rate}_lost", step.lost)
    emit(f"{rate}_start_lag_max_ms", step.max_lag * 1000)
    emit(f"{rate}_completed_per_s", step.completed_per_s)
    for what, values in (("offer", step.offer), ("chat", step.done)):
        if values:
            emit(f"{rate}_{what}_p50_ms", statistics.median(values) * 1000)
            emit(f"{rate}_{what}_p99_ms", percentile(values, 0.99) * 1000)
    emit(f"{rate}_server_cpu_pct", 100 * step.server_cpu / step.elapsed)
    emit(f"{rate}_server_cpu_ms_per_chat", 1000 * step.server_cpu / step.chats)
    emit(f"{rate}_harness_cpu_pct", 100 * step.harness_cpu / step.elapsed)
    emit(f"{rate}_harness_cpu_ms_per_chat", 1000 * step.harness_cpu / step.chats)
    emit(f"{rate}_other_cpu_pct", 100 * step.other_cpu / step.elapsed)
    emit(f"{rate}_sustained", "yes" if step.sustained() else "no")


def bench_config(tmp: Path, agents: int) -> Path:
    """screen_pop's center, with the per-address visitor limits lifted: every bench visitor
    comes from 127.0.0.1, and the limits (per node, in memory) would cap 1 and 2 workers
    differently."""
    path = write_config(tmp, agents)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["traffic"] = {"visitor_sockets_per_address": 1_000_000,
                         "visitor_conversations_per_minute": 1_000_000,
                         "visitor_messages_per_minute": 1_000_000}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextlib.contextmanager
def center(args: argparse.Namespace, workers: int, tmp: Path) -> Iterator[RunningServer]:
    """The server on a fresh schema and Redis prefix, both removed after."""
    prefix = f"bw{uuid.uuid4().hex[:8]}"
    config = bench_config(tmp, args.agents)
    with postgres_schema(args.db) as url:
        try:
            with run_server(tmp, db_url=url, redis_url=args.redis, redis_prefix=prefix, config=config,
                            workers=workers, startup_timeout=60) as srv:
                yield srv
        finally:
            client = redis.Redis.from_url(args.redis)
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()


async def drive(srv: RunningServer, args: argparse.Namespace, prefix: str) -> list[StepResult]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        harness = Harness(session, srv)
        await harness.connect_agents(args.agents)
        pids = process_tree(srv.process.pid)
        emit(f"{prefix}_server_processes", len(pids))
        steps: list[StepResult] = []
        try:
            await harness.step(5.0, WARMUP_CHATS, f"{prefix}-warmup")  # caches and pools filled
            for rate in args.rates:
                spies = []
                if args.profile:
                    out = Path(args.profile) / f"{prefix}_rate_{rate:g}"
                    out.mkdir(parents=True, exist_ok=True)
                    spies = profile_start(pids[1:] or pids, args.step_seconds, out)
                step = await harness.step(rate, max(1, round(rate * args.step_seconds)), f"{prefix}-{rate:g}")
                for spy in spies:
                    await asyncio.to_thread(spy.wait)
                if args.profile:
                    profile_report(f"{prefix}_rate_{rate:g}", out)
                report_step(prefix, step)
                steps.append(step)
                if step.saturated():
                    break
            emit(f"{prefix}_rss_mib_total", sum(memory_mib(p) for p in pids))
        finally:
            emit(f"{prefix}_errors", ", ".join(f"{k}={v}" for k, v in sorted(harness.errors.items())) or "0")
            await harness.aclose()
    return steps


def best(steps: Sequence[StepResult]) -> StepResult | None:
    held = [s for s in steps if s.sustained()]
    return max(held, key=lambda s: s.rate) if held else None


def summary(prefix: str, top: StepResult | None) -> None:
    emit(f"{prefix}_max_sustained_chats_per_s", f"{top.rate:g}" if top else "0")
    if top is not None:
        emit(f"{prefix}_at_max_chat_p50_ms", statistics.median(top.done) * 1000)
        emit(f"{prefix}_at_max_chat_p99_ms", percentile(top.done, 0.99) * 1000)
        emit(f"{prefix}_at_max_server_cpu_ms_per_chat", 1000 * top.server_cpu / top.chats)
        emit(f"{prefix}_at_max_harness_cpu_pct", 100 * top.harness_cpu / top.elapsed)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench workers")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--rates", type=_floats, default=[2, 5, 10, 20, 30, 40, 50, 60, 80, 100, 120])
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=lambda t: [int(x) for x in t.split(",")], default=[1, 2])
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (a fresh key prefix is used)")
    parser.add_argument("--profile", default=None,
                        help="a folder: py-spy samples each server process during each step; "
                             "the busiest frames are printed")
    parser.add_argument("--quick", action="store_true", help="a short smoke run: 10 agents, two low rates")
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.rates, args.step_seconds = 10, [5.0, 10.0], 3.0
    return args


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    emit("cores", len(os.sched_getaffinity(0)))
    emit("agents", args.agents)
    tops: dict[int, StepResult | None] = {}
    delivered: dict[int, float] = {}
    for workers in args.workers:
        prefix = f"workers_{workers}"
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp, \
                center(args, workers, Path(tmp)) as srv:
            steps = asyncio.run(drive(srv, args, prefix))
        tops[workers] = best(steps)
        summary(prefix, tops[workers])
        # Past saturation: the most chats per second it completed at any step, whatever the latency.
        delivered[workers] = max((s.completed_per_s for s in steps if s.lost == 0), default=0.0)
        emit(f"{prefix}_max_completed_per_s_without_loss", delivered[workers])
    one, two = tops.get(1), tops.get(2)
    if one is not None and two is not None:
        emit("ratio_2_to_1_sustained_chats_per_s", two.rate / one.rate)
    if delivered.get(1) and delivered.get(2):
        emit("ratio_2_to_1_max_completed_per_s", delivered[2] / delivered[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
