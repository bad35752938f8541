"""AMI benchmark: the recorded Asterisk sessions through the call tracker, and a caller's screen pop.

``python -m bench ami [--rounds N] [--samples N] [--warmup N] [--server-log FILE] [--quick]``

**Throughput** (one process, no event loop, no I/O). The corpus is every real Asterisk 22 session
in ``tests/fixtures/ami``: the frames Asterisk sent (``in``), the banner and the EOF left out, one
list per session. It is cut into frames once, before any clock starts, in the two shapes the two
readers get them off the socket: ours as ``split_stream`` cuts them (each with its blank line),
panoramisk's as ``AMIProtocol.data_received`` cuts them (``str.split`` on the blank line). Three
variants then run ``--rounds`` times over the whole corpus, interleaved, best of three:

* ``panoramisk_parse``: what ``AMIProtocol.data_received`` does per frame after its split,
  ``Message.from_line(line.strip())``, plus the ``'event' in message`` test its
  ``handle_message`` starts with; no dispatch, no logging call, no event loop.
* ``parse``: ours, ``parse_frame`` and the ``msg.event`` test the link routes on.
* ``fold``: ``parse`` and every event fed to ``CallTracker.feed`` (a fresh tracker per session,
  agent phones ``PJSIP/agent1..3``, spy phone ``PJSIP/super1``), what the link and bridge do
  before the first await.

Rates are events (messages with an ``Event`` header) per second; the ratios are our throughput over
panoramisk's parse-only throughput (below 1: we are slower), and ``tracker_us_per_event`` is the
fold's time minus the parse's, per event.

**Latency.** The real server (``cti serve``, a subprocess, SQLite in a temp dir) is configured
with three agents whose phones are ``PJSIP/agent1..3`` and an AMI link to a ``FakeAmi`` running in
this process's event loop (empty resync answers: an idle Asterisk). Once the fake has seen the
resync (``CoreShowChannels``) and ``Setvar CTI_ONLINE``, the agents log in over HTTP, open their
WebSockets and go available. Then, one caller at a time, the fake plays the recorded events of
``inbound_hold_originate_bridge`` up to the caller's ``UserEvent CtiQueued``, with the caller's
channel, Uniqueid and number rewritten so every sample is a new caller and a new customer. The
frames before the ``UserEvent`` go first, untimed, followed by a pause of 20 ms; the clock starts
just before the ``UserEvent`` frame is written to the server's socket and stops when the
``interaction.offered`` naming that Uniqueid is read off an agent's WebSocket: the link, the
tracker, the bridge, the customer resolved by phone, the interaction stored and queued, routing,
the offer stored, the screen pop built and fanned out. ``ring`` is the same start to the moment the
fake reads the ``Originate`` that rings the agent's phone. Then the fake plays the caller's
recorded ``Hangup`` (renamed) and ``abandon`` runs to the ``interaction.abandoned`` (or
``offer_withdrawn``) on the agent's socket, which frees the agent for the next sample. The first
``--warmup`` samples are run the same way and not reported. A sample whose offer does not come
within 5 s is lost.

Measured, not asserted. Caveats: the harness (the WebSocket clients and the fake Asterisk, one
event loop) shares the machine with the server and competes with it for the CPU; the samples are
sequential (one caller at a time, never a queue), so this is the latency of an idle center, not
its capacity; the router's longest-idle rule does not move an agent's ``idle_since`` for an offer
that ends unanswered, so one agent usually takes every sample (``offers_per_agent`` shows it); with
fewer than 100 samples p99 is the maximum; the server log's warning and error lines are counted,
not judged (``--server-log`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from panoramisk.message import Message

from bench.common import cpu_seconds, emit, json_frames, open_desk, percentile
from cti.ami.frames import BANNER_PREFIX, FRAME_END, parse_frame
from cti.ami.tracker import CallTracker
from tests.ami.center import idle_asterisk, phases
from tests.ami.fake_ami import FakeAmi, header
from tests.ami.recordings import load, scenario_names
from tests.server_process import run_server_async

AGENT_DEVICES = ("PJSIP/agent1", "PJSIP/agent2", "PJSIP/agent3")
SPY_DEVICES = ("PJSIP/super1",)
REPEATS = 3

SCENARIO = "inbound_hold_originate_bridge"
RECORDED_CHANNEL = "PJSIP/sipp-00000001"
RECORDED_UNIQUEID = "refpbx-1795460320.1"
RECORDED_NUMBER = "0601000002"
AGENTS = ("alice", "bob", "carol")
LOST_AFTER = 5.0
PRE_SETTLE = 0.02  # after the frames before the UserEvent, so they are not on the clock
LINK_UP_TIMEOUT = 30.0


# ----- throughput --------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    ours: list[list[str]]  # per session, each frame with its blank line (split_stream's cut)
    theirs: list[list[str]]  # the same frames as data_received's str.split leaves them
    recordings: int
    frames: int


def load_corpus() -> Corpus:
    ours: list[list[str]] = []
    theirs: list[list[str]] = []
    names = scenario_names()
    for name in names:
        sessions: dict[int, list[str]] = {}
        for frame in load(name).incoming():
            if not frame.frame or frame.frame.startswith(BANNER_PREFIX):
                continue
            if not frame.frame.endswith(FRAME_END):
                raise RuntimeError(f"{name}: a frame without its blank line: {frame.frame[-40:]!r}")
            sessions.setdefault(frame.session, []).append(frame.frame)
        for frames in sessions.values():
            ours.append(frames)
            theirs.append([f[: -len(FRAME_END)] for f in frames])
    return Corpus(ours=ours, theirs=theirs, recordings=len(names), frames=sum(len(s) for s in ours))


def panoramisk_parse(corpus: Corpus) -> int:
    from_line = Message.from_line
    events = 0
    for session in corpus.theirs:
        for line in session:
            message = from_line(line.strip())
            if message is not None and "event" in message:
                events += 1
    return events


def our_parse(corpus: Corpus) -> int:
    events = 0
    for session in corpus.ours:
        for frame in session:
            for msg in parse_frame(frame):
                if msg.event is not None:
                    events += 1
    return events


def our_fold(corpus: Corpus) -> int:
    events = 0
    for session in corpus.ours:
        tracker = CallTracker(hold_context="cti-hold", agent_devices=AGENT_DEVICES, spy_devices=SPY_DEVICES)
        feed = tracker.feed
        for frame in session:
            for msg in parse_frame(frame):
                if msg.event is not None:
                    events += 1
                    feed(msg)
    return events


def signals_per_round(corpus: Corpus) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for session in corpus.ours:
        tracker = CallTracker(hold_context="cti-hold", agent_devices=AGENT_DEVICES, spy_devices=SPY_DEVICES)
        for frame in session:
            for msg in parse_frame(frame):
                if msg.event is not None:
                    kinds.update(type(s).__name__ for s in tracker.feed(msg))
    return kinds


def bench_throughput(rounds: int) -> None:
    corpus = load_corpus()
    variants: dict[str, Callable[[Corpus], int]] = {
        "panoramisk_parse": panoramisk_parse, "parse": our_parse, "fold": our_fold}
    counts = {name: fn(corpus) for name, fn in variants.items()}  # also a warm-up
    if len(set(counts.values())) != 1:
        raise RuntimeError(f"the variants disagree on the number of events: {counts}")
    events = counts["fold"]
    signals = signals_per_round(corpus)
    emit("ami_recordings", corpus.recordings)
    emit("ami_sessions", len(corpus.ours))
    emit("ami_frames_per_round", corpus.frames)
    emit("ami_events_per_round", events)
    emit("ami_signals_per_round", signals.total())
    emit("ami_rounds", rounds)
    emit("ami_events_total", events * rounds)
    best = dict.fromkeys(variants, math.inf)
    for _ in range(REPEATS):  # interleaved, so a slow spell of the machine hits all three
        for name, fn in variants.items():
            gc.collect()
            started = time.perf_counter()
            for _ in range(rounds):
                fn(corpus)
            best[name] = min(best[name], time.perf_counter() - started)
    total = events * rounds
    for name in variants:
        emit(f"ami_{name}_best_s", best[name])
        emit(f"ami_{name}_events_per_s", total / best[name])
        emit(f"ami_{name}_us_per_event", best[name] / total * 1e6)
    emit("ami_tracker_us_per_event", (best["fold"] - best["parse"]) / total * 1e6)
    emit("ami_parse_vs_panoramisk_parse_ratio", best["panoramisk_parse"] / best["parse"])
    emit("ami_fold_vs_panoramisk_parse_ratio", best["panoramisk_parse"] / best["fold"])


# ----- latency: the callers ----------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    uniqueid: str
    channel: str
    before: tuple[bytes, ...]  # the events before the UserEvent, untimed
    queued: bytes  # the UserEvent CtiQueued frame
    hangup: bytes


class CallerTemplate:
    """The recorded caller, up to its ``CtiQueued``, and its ``Hangup``; renamed per sample."""

    def __init__(self) -> None:
        first = phases(SCENARIO)[0].frames
        at = next(k for k, f in enumerate(first)
                  if f.startswith("Event: UserEvent\r\n") and "UserEvent: CtiQueued\r\n" in f)
        # The login burst (FullyBooted, SuccessfulAuth) is the fake's own business.
        self.before = tuple(f for f in first[:at] if RECORDED_UNIQUEID in f or "Device: PJSIP/sipp" in f)
        self.queued = first[at]
        self.hangup = next(f.frame for f in load(SCENARIO).frames
                           if f.dir == "in" and f.frame.startswith("Event: Hangup\r\n")
                           and f"Uniqueid: {RECORDED_UNIQUEID}\r\n" in f.frame)

    def caller(self, n: int) -> Caller:
        uniqueid = f"refpbx-1795470000.{n + 1000}"
        channel = f"PJSIP/sipp-{0x10000 + n:08x}"
        number = f"06{20_000_000 + n:08d}"

        def renamed(frame: str) -> bytes:
            text = (frame.replace(RECORDED_CHANNEL, channel).replace(RECORDED_UNIQUEID, uniqueid)
                    .replace(RECORDED_NUMBER, number))
            return text.encode("utf-8")

        return Caller(uniqueid=uniqueid, channel=channel, before=tuple(renamed(f) for f in self.before),
                      queued=renamed(self.queued), hangup=renamed(self.hangup))


# ----- latency: the agents -----------------------------------------------------------------


@dataclass
class Desks:
    """The agents' sockets: offers by caller Uniqueid, their end by interaction id."""

    offers: dict[str, asyncio.Future[tuple[float, str, str]]] = field(default_factory=dict)
    ended: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    per_agent: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    offer_bytes: list[int] = field(default_factory=list)

    def end_of(self, interaction_id: str) -> asyncio.Future[float]:
        if interaction_id not in self.ended:
            self.ended[interaction_id] = asyncio.get_running_loop().create_future()
        return self.ended[interaction_id]

    async def read(self, agent: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for data, size, received in json_frames(ws):
            kind = data.get("type")
            if kind == "interaction.offered":
                refs = data.get("screen_pop", {}).get("interaction", {}).get("channel_refs", {})
                waiting = self.offers.get(refs.get("asterisk_uniqueid", ""))
                if waiting is None or waiting.done():
                    self.unmatched += 1
                    continue
                self.offer_bytes.append(size)
                self.per_agent[agent] += 1
                waiting.set_result((received, agent, data["interaction_id"]))
            elif kind in ("interaction.abandoned", "interaction.offer_withdrawn"):
                ended = self.end_of(data["interaction_id"])
                if not ended.done():
                    ended.set_result(received)
            elif kind in ("error", "lagged"):
                self.errors[str(data.get("error_id", kind))] += 1


# ----- latency: the run --------------------------------------------------------------------


def write_config(tmp: Path, port: int) -> Path:
    agents: list[dict[str, Any]] = [
        {"id": a, "password": a, "team": "support", "skills": {"english": 5},
         "capacity": {"voice": 1, "chat": 2}, "endpoints": {"pjsip": device, "exten": f"20{n + 1}"}}
        for n, (a, device) in enumerate(zip(AGENTS, AGENT_DEVICES, strict=True))]
    agents.append({"id": "sam", "password": "sam", "role": "supervisor", "team": "support", "skills": {},
                   "capacity": {}, "endpoints": {"pjsip": SPY_DEVICES[0]}})
    config = {
        "token_secret": "bench-ami-secret-not-for-production-32-bytes",
        "demo": True,  # the passwords are the ids, in plain text
        "default_country_code": "33",
        "routing": {"offer_timeout": 20},
        "teams": [{"name": "support", "supervisors": ["sam"]}],
        "queues": [{"name": "support", "skills": {"english": 1},
                    "service_targets": {"voice": 20, "chat": 60}}],
        "chat": {"queue": "support"},
        "agents": agents,
        "ami": {"host": "127.0.0.1", "port": port, "username": "cti", "secret": "cti-secret",
                "heartbeat_seconds": 30},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@dataclass
class Samples:
    pop: list[float] = field(default_factory=list)
    ring: list[float] = field(default_factory=list)
    abandon: list[float] = field(default_factory=list)
    lost: int = 0
    not_rung: int = 0
    not_freed: int = 0


async def one_sample(ami: FakeAmi, desks: Desks, caller: Caller, samples: Samples) -> None:
    loop = asyncio.get_running_loop()
    offered = desks.offers[caller.uniqueid] = loop.create_future()
    session = ami.current
    for frame in caller.before:
        session.write(frame)
    await session.writer.drain()
    await asyncio.sleep(PRE_SETTLE)
    originates = len(ami.actions_named("Originate"))

    async def rung() -> float:
        await ami.wait_action("Originate", originates + 1, timeout=LOST_AFTER)
        return time.perf_counter()

    ringing = asyncio.create_task(rung())
    started = time.perf_counter()
    session.write(caller.queued)
    await session.writer.drain()
    interaction_id: str | None = None
    try:
        async with asyncio.timeout(LOST_AFTER):
            received, _, interaction_id = await offered
        samples.pop.append(received - started)
    except TimeoutError:
        samples.lost += 1
    try:
        rang = await ringing
        action = ami.actions_named("Originate")[originates]
        variables = [v for k, v in action if k == "Variable"]
        if f"CTI_CALLER={caller.channel}" in variables:
            samples.ring.append(rang - started)
        else:
            samples.not_rung += 1
    except TimeoutError:
        samples.not_rung += 1
    hung_up = time.perf_counter()
    session = ami.current
    session.write(caller.hangup)
    await session.writer.drain()
    if interaction_id is None:
        return
    try:
        async with asyncio.timeout(LOST_AFTER):
            ended = await desks.end_of(interaction_id)
        samples.abandon.append(ended - hung_up)
    except TimeoutError:
        samples.not_freed += 1


def report(prefix: str, values: list[float]) -> None:
    if not values:
        return
    ordered = sorted(values)
    emit(f"{prefix}_p50_ms", statistics.median(ordered) * 1000)
    emit(f"{prefix}_p99_ms", percentile(ordered, 0.99) * 1000)
    emit(f"{prefix}_max_ms", ordered[-1] * 1000)


async def bench_latency(args: argparse.Namespace, tmp: Path) -> None:
    template = CallerTemplate()
    async with FakeAmi() as ami:
        idle_asterisk(ami)
        booting = time.perf_counter()
        async with run_server_async(tmp, config=write_config(tmp, ami.port)) as server:
            emit("ami_server_start_s", time.perf_counter() - booting)
            await ami.wait_action("CoreShowChannels", timeout=LINK_UP_TIMEOUT)
            await ami.wait_for(lambda: any(header(a, "Variable") == "CTI_ONLINE" and header(a, "Value") == "1"
                                           for a in ami.actions_named("Setvar")), timeout=LINK_UP_TIMEOUT)
            emit("ami_link_up_s", time.perf_counter() - booting)
            desks = Desks()
            async with aiohttp.ClientSession() as http:
                sockets = [await open_desk(http, server.url, server.ws_url, agent) for agent in AGENTS]
                readers = [asyncio.create_task(desks.read(agent, ws)) for agent, ws in zip(AGENTS, sockets,
                                                                                           strict=True)]
                try:
                    warm = Samples()
                    for n in range(args.warmup):
                        await one_sample(ami, desks, template.caller(n), warm)
                    emit("ami_pop_warmup_samples", args.warmup)
                    desks.per_agent.clear()
                    samples = Samples()
                    cpu = cpu_seconds(server.process.pid)
                    measuring = time.perf_counter()
                    for n in range(args.warmup, args.warmup + args.samples):
                        await one_sample(ami, desks, template.caller(n), samples)
                    elapsed = time.perf_counter() - measuring
                    server_cpu = cpu_seconds(server.process.pid) - cpu
                finally:
                    for ws in sockets:
                        await ws.close()
                    for task in readers:
                        task.cancel()
                    await asyncio.gather(*readers, return_exceptions=True)
        log = server.log()
        if args.server_log:
            shutil.copyfile(server.log_path, args.server_log)
    emit("ami_pop_samples", args.samples)
    emit("ami_pop_count", len(samples.pop))
    emit("ami_pop_lost", samples.lost)
    report("ami_pop_latency", samples.pop)
    emit("ami_ring_count", len(samples.ring))
    emit("ami_ring_missing", samples.not_rung)
    report("ami_ring_latency", samples.ring)
    emit("ami_abandon_count", len(samples.abandon))
    emit("ami_abandon_not_freed", samples.not_freed)
    report("ami_abandon_latency", samples.abandon)
    emit("ami_pop_offers_per_agent", ",".join(f"{a}={desks.per_agent[a]}" for a in AGENTS))
    emit("ami_pop_unmatched_offers", desks.unmatched)
    emit("ami_pop_agent_errors", sum(desks.errors.values()))
    if desks.offer_bytes:
        emit("ami_pop_offer_frame_bytes_p50", int(statistics.median(desks.offer_bytes)))
    emit("ami_pop_samples_per_s", args.samples / elapsed)
    emit("ami_server_cpu_ms_per_sample", 1000 * server_cpu / args.samples)
    actions = Counter(header(a, "Action") or "?" for a in ami.actions)
    emit("ami_fake_actions", ",".join(f"{k}={v}" for k, v in sorted(actions.items())))
    emit("ami_fake_sessions", len(ami.sessions))
    lines = log.splitlines()
    emit("ami_server_log_warnings", sum(1 for line in lines if " WARNING " in line))
    emit("ami_server_log_errors", sum(1 for line in lines if " ERROR " in line or " CRITICAL " in line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ami", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="passes over all the recordings")
    parser.add_argument("--samples", type=int, default=200, help="callers timed to their screen pop")
    parser.add_argument("--warmup", type=int, default=10, help="callers before those, not reported")
    parser.add_argument("--server-log", type=Path, default=None, help="keep a copy of the server's log here")
    parser.add_argument("--quick", action="store_true",
                        help="small numbers, for a smoke run (overrides the options above)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.samples, args.warmup = 10, 30, 3
    if args.rounds < 1 or args.samples < 1 or args.warmup < 0:
        parser.error("--rounds and --samples must be positive, --warmup not negative")
    started = time.perf_counter()
    bench_throughput(args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-ami-") as tmp_name:
        asyncio.run(bench_latency(args, Path(tmp_name)))
    emit("total_seconds", time.perf_counter() - started)
    return 0
