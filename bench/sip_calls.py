"""N relayed calls through the real SIP line: what each costs the server, and what the relay does
to the audio. ``python -m bench sip --calls [N] [--seconds 180]`` (see ``bench/sip.py``).

This process is the server (``SipLineAdapter`` from ``channels: sip:``, N agents with SIP phones,
each signed in on the desk and available). Everything else is another process: kamailio
(registrar and record-routing proxy), one SIPp UAS answering for every agent's address of record
(signalling only: its SDP names the agents' ear, a socket of the phones process), one SIPp UAC
placing the N calls (keys ``#``, then waits for our BYE; its SDP names the callers' socket of the
phones process). The phones process (one asyncio loop, two sockets) talks for the callers: it
learns each call's line RTP address from the hold audio, then sends stamped 20 ms packets to each
(``tests/adapters/sip/stamped_rtp.py``, paced against a monotonic start). The agents' ear reads
each packet the relay hands on — one way, caller → line → agent's phone: one relay pass, the
relay's own figure — and sends it back to where it came from, as a phone's echo; the callers'
socket reads it again — the round trip, caller → line → phone → line → caller: two relay passes
and the echo, both directions relayed as in a call. Both are measured on the same packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from adapters.sip.adapter import SipLineAdapter
from cti.domain import Channel, InteractionState
from tests.adapters.center import running_center
from tests.adapters.sip.peers import SIPP_DIR, Kamailio, free_udp_port, free_udp_range
from tests.adapters.sip.stamped_rtp import (
    added_variation,
    by_call,
    drift,
    drift_per_minute,
    percentile,
    read_stamp,
    stamped_packet,
)
from tests.adapters.sip.wire import agent_with_record_route, register

LINE = "line"
SLOTS = 10  # the callers' send times, spread over each 20 ms frame
CALLER_STREAM = """  <nop>
    <action>
      <exec rtp_stream="caller-voice.wav,-1,0" />
    </action>
  </nop>
"""
PHONE_STREAM = CALLER_STREAM.replace("caller-voice", "phone-voice")


def relay_counts(adapter: SipLineAdapter, interactions: list[str]) -> dict[str, int]:
    """The relay's own packet counts over the calls' two media legs (the caller's, the agent
    phone's), read from the live calls."""
    totals: Counter[str] = Counter()
    for interaction_id in interactions:
        talk = adapter.call_for(interaction_id)
        if talk is None:
            continue
        for side, leg in (("caller", talk.leg), ("agent", talk.agent_media)):
            if leg is not None:
                totals.update({f"{side}_received": leg.counts.received, f"{side}_relayed": leg.counts.relayed,
                               f"{side}_dropped": leg.counts.dropped})
    return dict(totals)


async def loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    """How late this process's loop wakes from a 20 ms sleep: the relay runs on this loop, so a
    late wake-up is a packet waiting here; a tail seen only at the far end is somewhere else."""
    while not stop.is_set():
        asked = time.monotonic()
        await asyncio.sleep(0.02)
        lags.append(time.monotonic() - asked - 0.02)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- the phones process: talks for every caller, reads the echoes -------------------------------

class _Phones(asyncio.DatagramProtocol):
    """One socket of the phones process: the callers' (``echo`` False: learns the calls from the
    hold audio, reads the round trip) or the agents' ear (``echo`` True: reads the one-way pass and
    sends each stamped packet back to the relay leg it came from)."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.calls: dict[tuple[str, int], int] = {}  # the line's caller-leg RTP address -> call
        self.samples: list[Any] = []
        self.measuring_from: float | None = None
        self.sent = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # A stall of this loop (it shares the cores with the server) would overflow the default
        # buffer and drop packets unseen; held, they count as the late packets they are.
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # capped at rmem_max

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        now = time.monotonic_ns()
        sample = read_stamp(data, now)
        if sample is None:
            if not self.echo:  # hold audio: a call to talk to
                self.calls.setdefault((str(addr[0]), int(addr[1])), len(self.calls))
            return
        if self.echo and self.transport is not None:
            self.transport.sendto(data, addr)
        if self.measuring_from is not None and sample.sent >= self.measuring_from:
            self.samples.append(sample)


async def _talk(ear_port: int, agent_ear_port: int, control: Any, out: Any) -> None:
    # Millions of samples kept: a full collection over them would stall this loop for tens of ms
    # and read as jitter; nothing here makes reference cycles.
    gc.disable()
    loop = asyncio.get_running_loop()
    _, phones = await loop.create_datagram_endpoint(_Phones, local_addr=("127.0.0.1", ear_port))
    _, agents = await loop.create_datagram_endpoint(lambda: _Phones(echo=True),
                                                    local_addr=("127.0.0.1", agent_ear_port))
    stop = asyncio.Event()
    out.put("ready")  # the calls may come: their hold audio tells us where to talk

    async def commands() -> None:
        seconds = await asyncio.to_thread(control.get)  # all calls answered: measure from now
        phones.measuring_from = agents.measuring_from = time.monotonic()
        phones.sent = 0
        await asyncio.sleep(seconds)
        phones.measuring_from = agents.measuring_from = None
        stop.set()
        out.put({"talking": len(phones.calls), "sent": phones.sent,
                 "one_way": _figures(agents.samples), "round_trip": _figures(phones.samples)})

    task = asyncio.create_task(commands())
    start = time.monotonic()
    tick = 0
    while not stop.is_set():
        # Callers do not talk in step: call c sends in slot c % SLOTS of each 20 ms, so the relay
        # sees packets spread over the frame rather than one burst of N (whose tail would wait
        # behind its head in every hop and read as jitter).
        assert phones.transport is not None
        frame, slot = divmod(tick, SLOTS)
        for address, call in list(phones.calls.items()):
            if call % SLOTS == slot:
                phones.transport.sendto(stamped_packet(call, frame, 0, time.monotonic_ns()), address)
                phones.sent += 1
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * 0.02 / SLOTS - time.monotonic()))
    await task


def _figures(samples: list[Any]) -> dict[str, Any]:
    calls = by_call(samples)
    jitter = added_variation(samples)
    delays = sorted(s.delay for s in samples)
    slopes = [d for c in calls.values() if (d := drift_per_minute(c, 10.0)) is not None]
    ends = [d for c in calls.values() if (d := drift(c, 60.0)) is not None]
    return {"heard_calls": len(calls), "received": len(samples),
            "delay_p50": percentile(delays, 50) if delays else None,
            "delay_p99": percentile(delays, 99) if delays else None,
            "jitter_p50": percentile(jitter, 50) if jitter else None,
            "jitter_p99": percentile(jitter, 99) if jitter else None,
            "drift_per_min_median": statistics.median(slopes) if slopes else None,
            "drift_per_min_worst": max(slopes, key=abs) if slopes else None,
            "last_minus_first_minute_worst": max(ends, key=abs) if ends else None}


def _phones_process(ear_port: int, agent_ear_port: int, control: Any, out: Any) -> None:
    asyncio.run(_talk(ear_port, agent_ear_port, control, out))


# --- SIPp ----------------------------------------------------------------------------------------

def _sipp(workdir: Path, name: str, scenario: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    where = workdir / name
    where.mkdir()
    port = free_udp_port()
    binary = shutil.which("sipp") or "sipp"
    proc = subprocess.Popen([binary, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
                             "-nostdin", "-trace_err", "-trace_msg", *args],
                            cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    return proc, port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _scenarios(workdir: Path, ear_port: int, agent_ear_port: int) -> tuple[Path, Path]:
    caller = (SIPP_DIR / "caller.xml").read_text()
    media = "m=audio [rtpstream_audio_port] RTP/AVP 0"
    assert caller.count(media) == 1 and caller.count(CALLER_STREAM) == 1, "caller.xml changed"
    caller_path = workdir / "bench_caller.xml"
    caller_path.write_text(caller.replace(media, f"m=audio {ear_port} RTP/AVP 0").replace(CALLER_STREAM, ""))
    agent = agent_with_record_route(workdir).read_text()
    assert agent.count(media) == 1 and agent.count(PHONE_STREAM) == 1, "agent.xml changed"
    agent_path = workdir / "bench_agent.xml"
    agent_path.write_text(agent.replace(media, f"m=audio {agent_ear_port} RTP/AVP 0")
                          .replace(PHONE_STREAM, ""))
    return caller_path, agent_path


# --- the run -------------------------------------------------------------------------------------

async def calls(n: int, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sip-calls-"))
    handler = logging.FileHandler(tmp / "server.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    sip_log = logging.getLogger("adapters.sip")
    sip_log.addHandler(handler)
    sip_log.setLevel(logging.INFO)
    try:
        all_answered = await _run(tmp, n, seconds)
    finally:
        sip_log.removeHandler(handler)
        handler.close()
    if all_answered:
        shutil.rmtree(tmp, ignore_errors=True)
    else:  # the peers' logs and the line's, to find out why
        print(f"kept: {tmp}")


async def _run(tmp: Path, n: int, seconds: float) -> bool:
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    (tmp / "kamailio").mkdir()
    kam = Kamailio(port=free_udp_port(), workdir=tmp / "kamailio", binary=binary)
    kam.start()
    procs: list[subprocess.Popen[bytes]] = []
    ctx = mp.get_context("spawn")
    control, out = ctx.Queue(), ctx.Queue()
    ear_port, agent_ear_port = free_udp_port(), free_udp_port()
    phones = ctx.Process(target=_phones_process, args=(ear_port, agent_ear_port, control, out), daemon=True)
    try:
        agents: list[dict[str, Any]] = [
            {"id": f"agent{i}", "name": f"Agent {i}", "team": "support", "password": f"agent{i}",
             "skills": {"english": 5}, "capacity": {"voice": 1},
             "endpoints": {"sip": f"sip:agent{i}@127.0.0.1:{kam.port}"}} for i in range(1, n + 1)]
        agents.append({"id": "sam", "name": "Sam", "role": "supervisor", "team": "support",
                       "password": "sam", "capacity": {}})
        rtp_low = free_udp_range(2 * n + 2)
        section = {"server": "127.0.0.1", "port": kam.port, "user": LINE, "password": "secret",
                   "sip_port": free_udp_port(), "rtp_port_low": rtp_low, "rtp_port_high": rtp_low + 2 * n + 1,
                   "max_calls": n, "register_expires": 300, "digits_seconds": 4, "queue": "support"}
        caller_xml, agent_xml = _scenarios(tmp, ear_port, agent_ear_port)
        async with running_center(tmp, {"sip": section}, agents=agents) as center:
            adapter = next(c for c in center.services.call_controls if isinstance(c, SipLineAdapter))
            await asyncio.wait_for(adapter.registered.wait(), 10)
            phone, phone_port = _sipp(tmp, "phones", agent_xml, "-mp", str(free_udp_range(4)),
                                      "-set", "ring_ms", "200", "-set", "talk_ms", "0", "-m", str(n))
            procs.append(phone)
            await asyncio.sleep(0.3)
            for i in range(1, n + 1):
                assert register(kam.port, f"agent{i}", phone_port) == "SIP/2.0 200 OK"
            desks = [await center.agent_socket(a["id"]) for a in agents[:-1]]
            phones.start()
            assert await asyncio.to_thread(out.get, True, 60) == "ready"
            await asyncio.sleep(2)
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(10)  # registered, every desk signed in, no call
            idle_share = (time.process_time() - cpu0) / (time.monotonic() - wall0)
            rss_idle = rss_bytes()
            caller, _ = _sipp(tmp, "callers", caller_xml, "-s", LINE, "-m", str(n), "-l", str(n), "-r", "10",
                              "-key", "dtmf", "#", "-key", "cli", "15551234567", "-set", "hangup_ms", "0",
                              f"127.0.0.1:{kam.port}")
            procs.append(caller)
            t0 = time.monotonic()
            talking: list[str] = []
            while time.monotonic() - t0 < 30 + n / 5:
                found = await center.services.context.list_interactions(limit=n + 10)
                talking = [i.id for i in found
                           if i.channel is Channel.VOICE and i.state is InteractionState.ACTIVE]
                if len(talking) == n:
                    break
                await asyncio.sleep(0.5)
            active = len(talking)
            if active < n:  # say why: where the other calls and their agents are
                states = Counter(str(i.state) for i in found if i.channel is Channel.VOICE)
                views = [await center.services.agents.view(a["id"]) for a in agents[:-1]]
                agent_states = Counter(f"{v.get('state')}/{v.get('reason')}" for v in views)
                print(f"not_all_answered: calls {dict(states)}  agents {dict(agent_states)}", flush=True)
            setup = time.monotonic() - t0
            await asyncio.sleep(1)  # the last bridges' echoes under way
            control.put(seconds)
            counts0 = relay_counts(adapter, talking)
            rss: list[tuple[float, int]] = []
            lags: list[float] = []
            lag_stop = asyncio.Event()
            lag_task = asyncio.create_task(loop_lag(lags, lag_stop))
            cpu0, wall0 = time.process_time(), time.monotonic()
            while time.monotonic() - wall0 < seconds:
                rss.append((time.monotonic() - wall0, rss_bytes()))
                await asyncio.sleep(1)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            lag_stop.set()
            await lag_task
            result_lag = sorted(lags)
            await asyncio.sleep(0.5)  # the last packets through
            counts = {k: v - counts0.get(k, 0) for k, v in relay_counts(adapter, talking).items()}
            result: dict[str, Any] = await asyncio.to_thread(out.get)
            load = os.getloadavg()
            for desk in desks:
                await desk.close()
        _report(n, seconds, active, setup, cpu, wall, idle_share, rss_idle, rss, result, counts,
                result_lag, load)
        return active == n
    finally:
        if phones.is_alive():
            phones.kill()
        for proc in procs:
            _stop(proc)
        kam.stop()


def _report(n: int, seconds: float, active: int, setup: float, cpu: float, wall: float, idle_share: float,
            rss_idle: int,
            rss: list[tuple[float, int]], r: dict[str, Any], counts: dict[str, int], lags: list[float],
            load: tuple[float, float, float]) -> None:
    def ms(value: float | None, sign: str = "") -> str:
        return "n/a" if value is None else f"{1e3 * value:{sign}.2f}"

    core_share = cpu / wall
    first = statistics.median(b for t, b in rss if t < 60) if rss else 0
    last = statistics.median(b for t, b in rss if t >= rss[-1][0] - 60) if rss else 0
    mib = 1024 * 1024
    print(f"calls: {n}  answered_and_relayed: {active}  setup_s: {setup:.1f}  seconds: {seconds:.0f}")
    print(f"machine_cores: {os.cpu_count()}  load_average_1_5_15: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    per_call = (core_share - idle_share) / n
    print(f"server_cpu_percent_of_a_core: {100 * core_share:.1f}  idle_before_calls: {100 * idle_share:.1f}  "
          f"per_call_over_idle: {100 * per_call:.3f}")
    print(f"calls_per_core: {1 / per_call:.0f}" if per_call > 0 else "calls_per_core: n/a")
    one, two = r["one_way"], r["round_trip"]
    print(f"packets_sent: {r['sent']}  heard_at_phones: {one['received']}  echoed_back: {two['received']}  "
          f"lost_one_way: {r['sent'] - one['received']}  lost_round_trip: {r['sent'] - two['received']}  "
          f"calls_talking: {r['talking']}  calls_heard_at_phones: {one['heard_calls']}  "
          f"calls_heard_back: {two['heard_calls']}")
    if counts:
        # where packets went missing: into the line, to and back from the phones' echo, or the relay
        print(f"relay_counts_in_window: from_callers {counts['caller_received']}  "
              f"to_phones {counts['agent_relayed']}  from_phones {counts['agent_received']}  "
              f"to_callers {counts['caller_relayed']}  "
              f"dropped {counts['caller_dropped'] + counts['agent_dropped']}")
    print("one way, caller -> line -> agent's phone (one relay pass):")
    print(f"  one_way_added_jitter_p50_ms: {ms(one['jitter_p50'])}  p99_ms: {ms(one['jitter_p99'])}")
    print(f"  one_way_delay_p50_ms: {ms(one['delay_p50'])}  p99_ms: {ms(one['delay_p99'])}")
    print(f"  drift_ms_per_minute_median: {ms(one['drift_per_min_median'], '+')}  "
          f"worst_call: {ms(one['drift_per_min_worst'], '+')}  "
          f"last_minus_first_minute_worst_ms: {ms(one['last_minus_first_minute_worst'], '+')}")
    print("round trip, caller -> line -> phone -> line -> caller (two relay passes and the echo):")
    print(f"  round_trip_added_jitter_p50_ms: {ms(two['jitter_p50'])}  p99_ms: {ms(two['jitter_p99'])}")
    print(f"  round_trip_delay_p50_ms: {ms(two['delay_p50'])}  p99_ms: {ms(two['delay_p99'])}")
    print(f"  drift_ms_per_minute_median: {ms(two['drift_per_min_median'], '+')}  "
          f"worst_call: {ms(two['drift_per_min_worst'], '+')}  "
          f"last_minus_first_minute_worst_ms: {ms(two['last_minus_first_minute_worst'], '+')}")
    if lags:
        print(f"server_loop_lag_p50_ms: {ms(percentile(lags, 50))}  p99_ms: {ms(percentile(lags, 99))}  "
              f"max_ms: {ms(lags[-1])}")
    print(f"rss_idle_mib: {rss_idle / mib:.1f}  rss_at_calls_mib: {first / mib:.1f}  "
          f"rss_per_call_kib: {(first - rss_idle) / n / 1024:.1f}")
    print(f"rss_first_minute_mib: {first / mib:.1f}  rss_last_minute_mib: {last / mib:.1f}  "
          f"change_mib: {(last - first) / mib:+.2f}")
