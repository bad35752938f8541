"""Screen pop benchmark: a chat's first message to the screen pop on an agent's desktop.

``python -m bench screen_pop [--agents N,N,...] [--prior N] [--rates R,R,...] [--step-seconds S]
[--db POSTGRESQL_URL] [--quick]``

For each number of agents in ``--agents`` (default 100, 1,000 and 5,000), the real server
(``cti serve``, a subprocess) runs with that many agents logged in and available on their
WebSockets, over a database seeded before it starts with ``--prior`` closed interactions (five
per customer, mixed channels, one or two messages each). It prints the time all agents took to
connect and the server's RSS growth per idle agent socket (RSS after the agents connected less
RSS after the first one, divided by the others: the socket, its subscription, its outbox, what
its hello left behind), and the CPU the server and the harness used while they connected (less
sensitive to the machine's load than the time). Visitors open the chat socket and say hello
with an identity signed by the embedding site (``identity.sites.bench.secret``, the e-mail of a
seeded customer as the identifier), so each is that customer, verified, and every screen pop runs
the unified timeline over real history (a typed e-mail alone is only a claim and would pop no
history) before the clock starts. Then, at a steady scheduled rate (open loop: a send never
waits for an earlier pop), each sends its first message. One latency
is from just before that message is written to the visitor's socket to the moment the
``interaction.offered`` naming the visitor is read off an agent's socket: the chat adapter,
customer resolution, the interaction stored and queued, routing, the offer stored, the screen
pop built, the event fanned out. The agent accepts and completes at once, so capacity frees.

Each rate step prints its arrivals, those lost (no offer within 10 s of the send), p50/p99/max
in ms, the harness's worst lateness against its own schedule, and the CPU the server process
(all threads) and the harness used over the step. A step that loses arrivals or has a p99 over
1 s ends the stepping: the server is saturated. Then the highest rate whose p99 stayed under
50 ms with nothing lost. The same harness then drives a bare aiohttp WebSocket relay
(``bench/relay.py``: no routing, no database) through the same steps, as the floor of what
Python, aiohttp and loopback cost, and the ratios server / relay at the same rate.

Measured, not asserted. Caveats: the client harness shares the machine with the server (2
cores on the reference box), so once the two together need more than that they compete and
the figures are pessimistic (each step prints both CPU shares, and the rest of the machine's,
which is the database server plus anything else running, to check); a step of fewer than
100 arrivals has its maximum as p99; the relay's offers are tiny while the server's carry a
50-entry timeline, and parsing it on the client is part of the path. The database is a SQLite
file in a temp dir (the embedded default) unless ``--db`` names PostgreSQL: then a fresh schema
is used, ANALYZEd after seeding (as autovacuum would soon do) and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import Connection, Table, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.common import (
    close_desks,
    cpu_seconds,
    emit,
    json_frames,
    log_in,
    machine_busy_seconds,
    memory_mib,
    open_socket,
    percentile,
    postgres_schema,
)
from context.migrate import sync_url, upgrade
from context.models import customers, identities, interactions, messages
from cti.domain import Role
from desktop_api.auth import issue_token
from tests.server_process import free_port, run_server

CHANNELS = ("email", "chat", "voice", "sms")
PER_CUSTOMER = 5
BATCH = 5000
DAY = 86400.0
LOST_AFTER = 10.0
P99_TARGET = 0.050
SATURATED_P99 = 1.0
CONNECT_CONCURRENCY = 32
WARMUP_RATE = 5.0
SITE = "bench"
TOKEN_SECRET = "bench-secret-not-for-production-at-least-32-bytes"
SITE_SECRET = "bench-site-secret-not-for-production-32+"


# ----- the database ------------------------------------------------------------------------


def customer_id(n: int) -> str:
    return f"cus-bench-{n:07d}"


def customer_email(n: int) -> str:
    return f"customer{n}@bench.example"


def customer_rows(count: int, now: float) -> Iterator[dict[str, Any]]:
    for n in range(count):
        cid = customer_id(n)
        yield {"id": cid, "display_name": f"Customer {n}", "created_at": now - 400 * DAY,
               "merged_into": None, "root_id": cid}


def identity_rows(count: int, now: float) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield {"kind": "email", "value": customer_email(n), "customer_id": customer_id(n),
               "added_at": now - 400 * DAY}


def interaction_at(k: int, prior: int, now: float) -> float:
    """Spread over the past year, oldest first."""
    return now - 365 * DAY + k * (365 * DAY / prior)


def interaction_rows(prior: int, n_customers: int, agents: int, now: float) -> Iterator[dict[str, Any]]:
    for k in range(prior):
        n, visit = k % n_customers, k // n_customers
        channel = CHANNELS[(n + visit) % len(CHANNELS)]
        at = interaction_at(k, prior, now)
        cid = customer_id(n)
        yield {"id": f"int-bench-{k:08d}", "customer_id": cid, "root_customer_id": cid, "channel": channel,
               "direction": "inbound", "queue": "support", "state": "closed", "priority": 1.0,
               "skills": {"english": 1}, "arrived_at": at, "queued_at": at, "offered_at": at + 5,
               "answered_at": at + 8, "ended_at": at + 300, "agent_id": agent_id(k % agents),
               "disposition": "resolved", "subject": f"Order {k}" if channel == "email" else None,
               "customer_left": False}


def message_rows(prior: int, agents: int, now: float) -> Iterator[dict[str, Any]]:
    for k in range(prior):
        at = interaction_at(k, prior, now)
        yield {"id": f"msg-bench-{k:08d}-c", "interaction_id": f"int-bench-{k:08d}", "sender": "customer",
               "body": f"Hello, my order {k} has not arrived yet; it was due last week. Can you check?",
               "at": at + 1, "agent_id": None, "channel_ref": None}
        if k % 2 == 0:
            yield {"id": f"msg-bench-{k:08d}-a", "interaction_id": f"int-bench-{k:08d}", "sender": "agent",
                   "body": f"Sorry about that: order {k} left the warehouse yesterday, tracking follows.",
                   "at": at + 60, "agent_id": agent_id(k % agents), "channel_ref": None}


def chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_all(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    for batch in chunks(rows, BATCH):
        conn.execute(insert(table), batch)
        count += len(batch)
    return count


def seed(url: str, *, prior: int, agents: int) -> dict[str, int]:
    """Migrate, then bulk-insert the history in one transaction; returns row counts."""
    upgrade(url)
    n_customers = max(1, prior // PER_CUSTOMER)
    now = time.time()
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            counts = {
                "customers": insert_all(conn, customers, customer_rows(n_customers, now)),
                "identities": insert_all(conn, identities, identity_rows(n_customers, now)),
                "interactions": insert_all(conn, interactions,
                                           interaction_rows(prior, n_customers, agents, now)),
                "messages": insert_all(conn, messages, message_rows(prior, agents, now)),
            }
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return counts


@contextlib.contextmanager
def database(db: str | None, tmp: Path) -> Iterator[str]:
    """The server's database URL: a SQLite file in ``tmp``, or a fresh schema in PostgreSQL."""
    if db is None:
        yield f"sqlite+aiosqlite:///{tmp / 'cti.db'}"
        return
    with postgres_schema(db) as url:
        yield url


def signed(identifier: str) -> str:
    """The site's signature of ``identifier``, as the embedding website's back end computes it."""
    return hmac.new(SITE_SECRET.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def write_config(tmp: Path, agents: int) -> Path:
    config = {
        "token_secret": TOKEN_SECRET,
        "demo": True,  # the passwords are the ids, in plain text
        "identity": {"sites": {SITE: {"secret": SITE_SECRET}}},
        # Every visitor comes from 127.0.0.1: the per-address caps would refuse the load itself.
        "traffic": {"visitor_sockets_per_address": 100_000, "visitor_conversations_per_minute": 100_000,
                    "visitor_messages_per_minute": 100_000, "visitor_sockets_per_node": 100_000,
                    "http_max_connections": 19_000},
        # So are the log-ins in flight from one address (the harness opens CONNECT_CONCURRENCY).
        "login": {"address_attempts_in_flight": 64},
        "routing": {"offer_timeout": 30},
        "queues": [{"name": "support", "skills": {"english": 1}, "service_targets": {"chat": 60}}],
        "chat": {"queue": "support"},
        "agents": [{"id": agent_id(n), "password": agent_id(n), "skills": {"english": 5},
                    "capacity": {"chat": 3}} for n in range(agents)]
        + [{"id": "admin", "role": "admin", "password": "admin"}],
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def agent_id(n: int) -> str:
    return f"a{n:03d}"


# ----- the servers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    ws_url: str
    pid: int


@contextlib.contextmanager
def run_relay(tmp: Path, *, startup_timeout: float = 15.0) -> Iterator[Endpoint]:
    port = free_port()
    log_path = tmp / f"relay-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "bench.relay", "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the relay did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield Endpoint("relay", url, f"ws://127.0.0.1:{port}", process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


# ----- the client harness ------------------------------------------------------------------


@dataclass
class Visitor:
    name: str
    ws: aiohttp.ClientWebSocketResponse


@dataclass
class StepResult:
    rate: float
    sent: int
    latencies: list[float]  # seconds, sorted, of the arrivals whose pop came
    lost: int
    max_lag: float  # how late the harness sent against its schedule, at worst
    sending: float  # from the first send to the last
    elapsed: float  # from the first send to the last pop (or the loss deadline)
    server_cpu: float  # seconds, over ``elapsed``
    harness_cpu: float
    other_cpu: float  # the rest of the machine: the database server, and anyone else

    def held(self) -> bool:
        return self.lost == 0 and bool(self.latencies) and percentile(self.latencies, 0.99) < P99_TARGET

    def saturated(self) -> bool:
        return self.lost > 0 or not self.latencies or percentile(self.latencies, 0.99) > SATURATED_P99


@dataclass
class Pops:
    """What the harness saw in the screen pops (the relay's carry none of it)."""

    timeline_sizes: list[int] = field(default_factory=list)
    frame_bytes: list[int] = field(default_factory=list)
    without_messages: int = 0
    unmatched: int = 0


class Harness:
    """Agents and visitors of one endpoint; measures message-to-offer latencies."""

    def __init__(self, session: aiohttp.ClientSession, endpoint: Endpoint) -> None:
        self.session = session
        self.endpoint = endpoint
        self.agents: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.sent_at: dict[str, float] = {}
        self.working: set[str] = set()  # offered, not yet completed
        self.idle = asyncio.Event()  # set while ``working`` is empty
        self.idle.set()
        self.arrived: dict[str, asyncio.Future[float]] = {}
        self.pops = Pops()
        self.agent_errors: Counter[str] = Counter()
        self.visitor_errors: Counter[str] = Counter()

    async def log_in(self, agents: Sequence[str]) -> dict[str, str]:
        """Each agent's token: the first one logs in over HTTP, the others' are signed here with
        the server's own secret, as the tokens agents hold when their desktops reconnect (after a
        restart, a network blip). A log-in checks a password hash (tens of ms of CPU by design,
        on purpose slow), which is not what the sockets' connect time is about."""
        first, *others = agents
        tokens = {first: await log_in(self.session, self.endpoint.url, first)}
        now = time.time()
        for agent in others:
            tokens[agent] = issue_token(secret=TOKEN_SECRET, agent_id=agent, role=Role.AGENT, now=now,
                                        ttl=3600)
        return tokens

    async def connect_agents(self, tokens: Mapping[str, str]) -> None:
        """Each socket opened, its hello read, set available, and read from then on (so it
        answers the server's pings while the others connect)."""
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(agent: str, token: str) -> None:
            async with gate:
                ws = await open_socket(self.session, self.endpoint.ws_url, agent, token)
            self.agents.append(ws)
            self.readers.append(asyncio.create_task(self._agent_loop(ws)))

        await asyncio.gather(*(one(a, t) for a, t in tokens.items()))

    async def _agent_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for data, size, received in json_frames(ws):
            kind = data.get("type")
            if kind == "interaction.offered":
                self._offered(data, size, received)
                # The server runs one socket's commands in order, so no need to wait in between.
                iid = data["interaction_id"]
                self.working.add(iid)
                self.idle.clear()
                await ws.send_json({"type": "accept", "interaction_id": iid, "ref": "accept"})
                await ws.send_json({"type": "complete", "interaction_id": iid, "disposition": "resolved",
                                    "ref": f"complete:{iid}"})  # a ref is a string or an integer
            elif kind in ("ack", "error"):
                self._answered(data)

    def _answered(self, data: dict[str, Any]) -> None:
        if data["type"] == "error":
            self.agent_errors[str(data.get("error_id"))] += 1
        ref = data.get("ref")
        if isinstance(ref, str) and ref.startswith("complete:"):
            self.working.discard(ref.removeprefix("complete:"))
            if not self.working:
                self.idle.set()

    def _offered(self, event: dict[str, Any], size: int, received: float) -> None:
        pop = event.get("screen_pop") or {}
        name = ((pop.get("interaction") or {}).get("context") or {}).get("chat.name")
        done = self.arrived.get(name) if isinstance(name, str) else None
        if not isinstance(name, str) or done is None or done.done():
            self.pops.unmatched += 1
            return
        done.set_result(received - self.sent_at[name])
        self.pops.frame_bytes.append(size)
        if "timeline" in pop:
            self.pops.timeline_sizes.append(len(pop["timeline"]))
            if not pop.get("messages"):
                self.pops.without_messages += 1

    async def open_visitors(self, names: Sequence[str], emails: Sequence[str]) -> list[Visitor]:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(name: str, email: str) -> Visitor:
            async with gate:
                ws = await self.session.ws_connect(f"{self.endpoint.ws_url}/ws/chat")
                await ws.send_json({"type": "hello", "name": name, "site": SITE, "identifier": email,
                                    "identifier_hash": signed(email)})
                welcome = await ws.receive_json()
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"visitor {name}: no welcome: {welcome}")
            return Visitor(name, ws)

        return list(await asyncio.gather(*(one(n, e) for n, e in zip(names, emails, strict=True))))

    async def close_visitors(self, visitors: Sequence[Visitor]) -> None:
        """Once the agents have completed: a visitor leaving an open offer would abandon it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), LOST_AFTER)
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(v: Visitor) -> None:
            async with gate:
                with contextlib.suppress(ConnectionError, TimeoutError):
                    await v.ws.send_json({"type": "leave"})
                    async with asyncio.timeout(LOST_AFTER):
                        async for msg in v.ws:  # until the server closes it
                            if msg.type is aiohttp.WSMsgType.TEXT:
                                self._visitor_said(json.loads(msg.data))
                await v.ws.close()

        await asyncio.gather(*(one(v) for v in visitors))

    def _visitor_said(self, data: dict[str, Any]) -> None:
        if data.get("type") == "error":
            self.visitor_errors[str(data.get("error_id"))] += 1

    async def step(self, rate: float, names: Sequence[str], emails: Sequence[str]) -> StepResult:
        visitors = await self.open_visitors(names, emails)
        result = await self.run_step(rate, visitors)
        await self.close_visitors(visitors)
        return result

    async def run_step(self, rate: float, visitors: Sequence[Visitor]) -> StepResult:
        loop = asyncio.get_running_loop()
        for v in visitors:
            self.arrived[v.name] = loop.create_future()
        cpu = cpu_seconds(self.endpoint.pid), time.process_time(), machine_busy_seconds()
        start = time.perf_counter() + 0.05
        max_lag = await self._send_paced(rate, visitors, start)
        sending = time.perf_counter() - start
        futures = [self.arrived[v.name] for v in visitors]
        await asyncio.wait(futures, timeout=LOST_AFTER)
        elapsed = time.perf_counter() - start
        server_cpu, harness_cpu = cpu_seconds(self.endpoint.pid) - cpu[0], time.process_time() - cpu[1]
        other_cpu = machine_busy_seconds() - cpu[2] - server_cpu - harness_cpu
        latencies = sorted(x for x in (f.result() for f in futures if f.done()) if x <= LOST_AFTER)
        for v in visitors:
            self.arrived.pop(v.name).cancel()
            self.sent_at.pop(v.name, None)
        return StepResult(rate=rate, sent=len(visitors), latencies=latencies,
                          lost=len(visitors) - len(latencies), max_lag=max_lag, sending=sending,
                          elapsed=elapsed, server_cpu=server_cpu, harness_cpu=harness_cpu,
                          other_cpu=other_cpu)

    async def _send_paced(self, rate: float, visitors: Sequence[Visitor], start: float) -> float:
        """Each visitor's first message on schedule; returns the worst lateness."""
        max_lag = 0.0
        for k, v in enumerate(visitors):
            due = start + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            max_lag = max(max_lag, sent - due)
            self.sent_at[v.name] = sent
            await v.ws.send_json({"type": "message", "body": f"Hello, I am {v.name}: where is my order?"})
        return max_lag

    async def aclose(self) -> None:
        await close_desks(self.agents, self.readers)


# ----- the run -----------------------------------------------------------------------------


def report_step(prefix: str, step: StepResult) -> None:
    rate = f"{prefix}_rate_{step.rate:g}"
    emit(f"{rate}_arrivals", step.sent)
    emit(f"{rate}_lost", step.lost)
    emit(f"{rate}_sent_per_s", (step.sent - 1) / step.sending if step.sending > 0 else float(step.sent))
    emit(f"{rate}_send_lag_max_ms", step.max_lag * 1000)
    emit(f"{rate}_server_cpu_pct", 100 * step.server_cpu / step.elapsed)
    emit(f"{rate}_server_cpu_ms_per_arrival", 1000 * step.server_cpu / step.sent)
    emit(f"{rate}_harness_cpu_pct", 100 * step.harness_cpu / step.elapsed)
    emit(f"{rate}_other_cpu_pct", 100 * step.other_cpu / step.elapsed)
    if step.latencies:
        emit(f"{rate}_p50_ms", statistics.median(step.latencies) * 1000)
        emit(f"{rate}_p99_ms", percentile(step.latencies, 0.99) * 1000)
        emit(f"{rate}_max_ms", step.latencies[-1] * 1000)


def report_pops(prefix: str, harness: Harness) -> None:
    pops = harness.pops
    if pops.timeline_sizes:
        emit(f"{prefix}_timeline_entries_sample", pops.timeline_sizes[0])
        emit(f"{prefix}_timeline_entries_min", min(pops.timeline_sizes))
        emit(f"{prefix}_pops_without_first_message", pops.without_messages)
    if pops.frame_bytes:
        emit(f"{prefix}_offer_frame_bytes_p50", int(statistics.median(pops.frame_bytes)))
    emit(f"{prefix}_unmatched_offers", pops.unmatched)
    emit(f"{prefix}_agent_errors", counted(harness.agent_errors))
    emit(f"{prefix}_visitor_errors", counted(harness.visitor_errors))


def counted(errors: Counter[str]) -> str:
    """``0``, or ``total (id=n, ...)``."""
    if not errors:
        return "0"
    return f"{errors.total()} ({', '.join(f'{k}={v}' for k, v in sorted(errors.items()))})"


async def drive(endpoint: Endpoint, args: argparse.Namespace, agents: int,
                emails: Sequence[str]) -> list[StepResult]:
    """Connect the agents, then run the rate steps in order until one saturates."""
    prefix = endpoint.name
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        harness = Harness(session, endpoint)
        started = time.perf_counter()
        tokens = await harness.log_in([agent_id(n) for n in range(agents)])
        emit(f"{prefix}_agents_login_s", time.perf_counter() - started)
        # The first agent alone: what the first socket warms up (imports, caches, pools) is not
        # counted as the cost of an idle socket.
        first, *others = tokens.items()
        await harness.connect_agents(dict([first]))
        rss_one = memory_mib(endpoint.pid)
        cpu = cpu_seconds(endpoint.pid), time.process_time()
        started = time.perf_counter()
        await harness.connect_agents(dict(others))
        connect_s = time.perf_counter() - started
        connect_cpu = cpu_seconds(endpoint.pid) - cpu[0]
        emit(f"{prefix}_agents_connected", len(harness.agents))
        emit(f"{prefix}_agents_connect_s", connect_s)
        emit(f"{prefix}_agents_connect_per_s", (agents - 1) / connect_s if connect_s > 0 else 0.0)
        # Less sensitive to the machine's load than the wall time: the server's CPU per connect.
        emit(f"{prefix}_agents_connect_server_cpu_s", connect_cpu)
        emit(f"{prefix}_agents_connect_harness_cpu_s", time.process_time() - cpu[1])
        if agents > 1:
            emit(f"{prefix}_agents_connect_server_cpu_ms_per_agent", 1000 * connect_cpu / (agents - 1))
        rss_all = memory_mib(endpoint.pid)
        emit(f"{prefix}_rss_mib_before", rss_all)
        if agents > 1:
            emit(f"{prefix}_bytes_per_idle_socket", int((rss_all - rss_one) * 1024 * 1024 / (agents - 1)))
        try:
            steps = await run_steps(harness, args, itertools.cycle(emails))
            emit(f"{prefix}_rss_mib_after", memory_mib(endpoint.pid))
            report_pops(prefix, harness)
        finally:
            await harness.aclose()
    held = [s.rate for s in steps if s.held()]
    emit(f"{prefix}_max_rate_p99_under_50ms", f"{max(held):g}" if held else "0")
    return steps


async def run_steps(harness: Harness, args: argparse.Namespace, emails: Iterator[str]) -> list[StepResult]:
    prefix = harness.endpoint.name

    def batch(tag: str, count: int) -> tuple[list[str], list[str]]:
        names = [f"{prefix}-{tag}-{k}" for k in range(count)]
        return names, [next(emails) for _ in names]

    if args.warmup:
        # Not reported: the first arrivals fill the server's statement caches and pool.
        await harness.step(WARMUP_RATE, *batch("warmup", args.warmup))
        emit(f"{prefix}_warmup_arrivals", args.warmup)
    steps: list[StepResult] = []
    for rate in args.rates:
        step = await harness.step(rate, *batch(f"{rate:g}", max(1, round(rate * args.step_seconds))))
        report_step(prefix, step)
        steps.append(step)
        if step.saturated():
            emit(f"{prefix}_stopped_after_rate", f"{rate:g}")
            break
    return steps


def report_ratios(prefix: str, server: Sequence[StepResult], relay: Sequence[StepResult]) -> None:
    baseline = {s.rate: s for s in relay if s.latencies}
    common = [s for s in server if s.latencies and s.rate in baseline]
    for s in common:
        b = baseline[s.rate]
        emit(f"{prefix}_rate_{s.rate:g}_p50_ratio_vs_relay",
             statistics.median(s.latencies) / statistics.median(b.latencies))
        emit(f"{prefix}_rate_{s.rate:g}_p99_ratio_vs_relay",
             percentile(s.latencies, 0.99) / percentile(b.latencies, 0.99))
    if not common:
        return
    # The reference: the highest rate the server held, else the lowest it ran.
    held = [s for s in common if s.held()]
    ref = held[-1] if held else common[0]
    b = baseline[ref.rate]
    emit(f"{prefix}_ratio_reference_rate", f"{ref.rate:g}")
    emit(f"{prefix}_p50_ratio_vs_relay", statistics.median(ref.latencies) / statistics.median(b.latencies))
    emit(f"{prefix}_p99_ratio_vs_relay", percentile(ref.latencies, 0.99) / percentile(b.latencies, 0.99))


def cpu_per_chat(steps: Sequence[StepResult]) -> float | None:
    """Server CPU seconds per chat over the steps that lost nothing (all of them, if each lost some)."""
    kept = [s for s in steps if s.lost == 0] or list(steps)
    sent = sum(s.sent for s in kept)
    return sum(s.server_cpu for s in kept) / sent if sent else None


def run_agents(args: argparse.Namespace, agents: int) -> float | None:
    """One number of agents: the server's steps, then the relay's; returns CPU seconds per chat."""
    prefix = f"screen_pop_a{agents}"
    with tempfile.TemporaryDirectory(prefix="bench-screen-pop-") as tmp_name:
        tmp = Path(tmp_name)
        with database(args.db, tmp) as url:
            emit(f"{prefix}_database", make_url(url).get_backend_name())
            seeding = time.perf_counter()
            counts = seed(url, prior=args.prior, agents=agents)
            emit(f"{prefix}_seed_s", time.perf_counter() - seeding)
            for table, count in counts.items():
                emit(f"{prefix}_seeded_{table}", count)
            emails = [customer_email(n) for n in range(counts["customers"])]
            booting = time.perf_counter()
            with run_server(tmp, db_url=url, config=write_config(tmp, agents)) as server:
                emit(f"{prefix}_server_start_s", time.perf_counter() - booting)
                endpoint = Endpoint(prefix, server.url, server.ws_url, server.process.pid)
                server_steps = asyncio.run(drive(endpoint, args, agents, emails))
        with run_relay(tmp) as relay:
            relay_steps = asyncio.run(drive(replace(relay, name=f"relay_a{agents}"), args, agents, emails))
    report_ratios(prefix, server_steps, relay_steps)
    per_chat = cpu_per_chat(server_steps)
    if per_chat is not None:
        emit(f"{prefix}_server_cpu_ms_per_chat", 1000 * per_chat)
    return per_chat


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench screen_pop", description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=counts, default=counts("100,1000,5000"),
                        help="numbers of agents, comma-separated: one server run each")
    parser.add_argument("--prior", type=int, default=100_000, help="closed interactions seeded beforehand")
    parser.add_argument("--rates", type=rates, default=rates("5,10,20,30,40,80,160"),
                        help="arrival rates per second, stepped through in order")
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=int, default=20,
                        help=f"arrivals at {WARMUP_RATE:g}/s before the steps, not reported")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (a fresh schema is used); "
                        "default: a SQLite file in a temp dir")
    parser.add_argument("--quick", action="store_true",
                        help="small numbers, for a smoke run (overrides the options above)")
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.prior, args.rates = [20], 2000, [5.0, 10.0, 20.0]
        args.step_seconds, args.warmup = 2.0, 5
    if args.db is not None and make_url(args.db).get_backend_name() != "postgresql":
        parser.error("--db: only PostgreSQL URLs (the default is already a SQLite file)")
    return args


def rates(text: str) -> list[float]:
    values = [float(r) for r in text.split(",") if r.strip()]
    if not values or any(r <= 0 for r in values):
        raise argparse.ArgumentTypeError("rates are positive numbers, comma-separated")
    return values


def counts(text: str) -> list[int]:
    values = [int(n) for n in text.split(",") if n.strip()]
    if not values or any(n < 1 for n in values):
        raise argparse.ArgumentTypeError("numbers of agents are positive integers, comma-separated")
    return values


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    emit("screen_pop_cores", os.cpu_count() or 0)
    per_chat = {agents: run_agents(args, agents) for agents in args.agents}
    measured = {a: c for a, c in per_chat.items() if c}
    if len(measured) > 1:
        # Flat means the same cost per chat whatever the number of agents (the goal: within 20 %).
        low, high = min(measured.values()), max(measured.values())
        emit("screen_pop_cpu_per_chat_spread_pct", 100 * (high - low) / low)
    emit("total_seconds", time.perf_counter() - started)
    return 0
