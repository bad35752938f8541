"""SIP layer benchmark: what idle registered lines cost (``adapters.sip.caller_leg`` on ``sipcore``).

``python -m bench sip --idle [--lines 10] [--seconds 20] [--expires 4]``
``python -m bench sip --core [--calls 20000]``
``python -m bench sip --relay [--calls 50] [--seconds 20]`` (``bench/sip_relay.py``)
``python -m bench sip --mix [--frames 20000] [--calls 20] [--seconds 10]`` (``bench/sip_mix.py``)
``python -m bench sip --calls [N] [--seconds 180]`` (``bench/sip_calls.py``)

A kamailio registrar/proxy (``tests/adapters/sip/kamailio.cfg``, a free loopback port) and
``--lines`` lines in this process, each the caller's half of a SIP line as the server runs it
(``CallerLine``: its own ``SipEndpoint`` and UDP socket) registered as ``lineN`` with ``--expires``
seconds, so each refreshes its binding every ``expires/2`` seconds through the layer (REGISTER
client transactions, timers E/F/K, the refresh and lapse timers). Once every line
is registered, the process's CPU time (user + system, ``time.process_time``) is read over
``--seconds`` of no calls; the figure is that over the wall time, as a percentage of one core.
Then each line is
probed by an OPTIONS to ``sip:lineN@proxy`` (routed by the registrar's location table to the line,
answered by its core): all must answer 200, or the idle figure would be that of dead lines.
Before the caller's half moved onto ``sipcore`` the line was a pyVoIP 1.6.8 phone (threads and a
socket timeout loop): 10 such lines idled at 5.3 % of a core on this bench's terms.

``--core``: the state machine alone, no socket, no loop: ``--calls`` agent legs, each the whole
exchange as bytes through ``on_datagram`` — INVITE out, 100, 180, 200 in (with Record-Route and
Contact), ACK out, BYE out, 200 in — the leg forgotten at its timer. Prints CPU µs per call
(parse, transactions, dialog, serialize; the answers are built once per call by ``response_to``,
their cost counted apart and subtracted) and legs/transactions left (must be 0).

``--calls [N]`` alone (default 50, 180 s): N concurrent calls through the real line, end to end.
This process is the server (``SipLineAdapter`` configured from ``channels: sip:`` with
``max_calls: N``, N agents each with a SIP phone in their profile and signed in on the desk,
available). kamailio with record-route between every party; one SIPp UAS registered as every
agent's address of record, answering after 200 ms, signalling only: its SDP names the agents' ear,
a socket of a third process; one SIPp UAC placing the N calls at 10 a second (keys ``#``, then
waits for our BYE), whose SDP names the callers' socket of that same process. That process (one
asyncio loop, the two sockets) talks for the callers: it learns each call's RTP address from the
line's hold audio, then sends 20 ms packets to every call, paced against a monotonic start, each
stamped with its send time and call (``tests/adapters/sip/stamped_rtp.py``). The agents' ear reads
each packet as the relay hands it on — **one way**, caller -> line -> agent's phone, one relay
pass: the relay's own figure — and sends it back to the relay leg it came from, as a phone's echo;
the callers' socket reads it again — the **round trip**, caller -> line -> phone -> line -> caller,
two relay passes and the echo, both directions relayed as in a call. Both figures come from the
same packets. Once every call is ACTIVE (each offer accepted by the phone answering), the server's
CPU (user + system of this process, ``time.process_time``), its RSS (``/proc/self/statm``, once a
second), its loop's wake-up lag (a 20 ms sleep) and the packets are measured over ``--seconds``.
Printed: calls answered and relayed; CPU as a share of a core, the same over 10 s before the calls
(registered, desks signed in), and per call over that idle figure, hence calls per core; packets
sent, heard at the phones and echoed back, lost each way, and the relay's own counts; for one way
and for the round trip apart: the added jitter p50/p99 (each packet's delay over its call's
lowest: the delay variation the path added), the delay p50/p99, the drift per minute (each call's
median delay over its last 10 s minus its first 10 s, per minute between them: the median call and
the worst) and the worst call's last-minute-minus-first-minute median delay (0 on runs of a minute
or less: both windows are the whole run); the server loop's lag p50/p99/max; RSS idle, at N calls
(the first minute's median), per call, and the first minute against the last (flat memory). The
machine's cores and load average are printed too: the figures are only as quiet as the machine.
kamailio's, SIPp's and the talking process's CPU are not counted; their scheduling is in the
delays (the one-way figure holds the talking process's reading once, the round trip twice).

Measured, not asserted. The goals (issue 15): at least 50 concurrent calls per core with an added
relay jitter p99 of at most 5 ms (read against the one-way figure: one relay pass), no drift, flat
memory. The idle goal is under 1 % of a core for 10 lines: pyVoIP 2.0.0a4's waiting threads
busy-polled (85 s of CPU in 79 s). kamailio's CPU is not counted (another process).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from adapters.sip.caller_leg import CallerCall, CallerEvents, CallerLine
from adapters.sip.config import SipConfig
from adapters.sip.sipcore.core import SipCore
from adapters.sip.sipcore.message import Request, response_to
from tests.adapters.sip.peers import Kamailio, free_udp_port, sip_request


def cpu_seconds() -> float:
    return time.process_time()  # user + system of this process, finer than os.times


class _Adapter:
    """Stands in for the adapter: the lines' registration news, no calls expected."""

    def __init__(self) -> None:
        self.up: set[str] = set()
        self.losses = 0
        self.changed = asyncio.Event()

    def for_line(self, name: str) -> CallerEvents:
        bench = self

        class Events:
            def on_registered(self, ok: bool, why: str) -> None:
                if ok:
                    bench.up.add(name)
                else:
                    bench.up.discard(name)
                    bench.losses += 1
                bench.changed.set()

            def on_incoming(self, call: CallerCall) -> None:
                call.hangup()

            def on_dtmf(self, call: CallerCall, digit: str) -> None:
                return None

            def on_ended(self, call: CallerCall, why: str) -> None:
                return None

        return Events()


async def idle(lines: int, seconds: float, expires: int) -> None:
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
        kam = Kamailio(port=free_udp_port(), workdir=Path(tmp), binary=binary)
        kam.start()
        adapter = _Adapter()
        running: list[CallerLine] = []
        registers = 0

        def count(way: str, data: bytes, addr: tuple[str, int]) -> None:
            nonlocal registers
            registers += way == "out" and data.startswith(b"REGISTER ")

        try:
            for n in range(1, lines + 1):
                config = SipConfig(server="127.0.0.1", port=kam.port, user=f"line{n}", password="",
                                   sip_port=0, register_expires=expires)
                line = CallerLine(config, adapter.for_line(f"line{n}"))
                await line.start()
                assert line.endpoint is not None
                line.endpoint.tap = count
                running.append(line)
            async with asyncio.timeout(10):
                while len(adapter.up) < lines:
                    adapter.changed.clear()
                    await adapter.changed.wait()
            refreshes_before = registers
            start_cpu, start = cpu_seconds(), time.monotonic()
            await asyncio.sleep(seconds)
            used, took = cpu_seconds() - start_cpu, time.monotonic() - start
            refreshes = registers - refreshes_before
            answered = 0
            for n in range(1, lines + 1):  # in a thread: the lines answer on this loop
                status = await asyncio.to_thread(sip_request, kam.port, "OPTIONS",
                                                 f"sip:line{n}@127.0.0.1:{kam.port}")
                answered += status == "SIP/2.0 200 OK"
            timers = sum(ln.endpoint.pending_timers for ln in running if ln.endpoint is not None)
            print(f"lines: {lines}")
            print(f"register_expires_s: {expires}")
            print(f"idle_wall_s: {took:.1f}")
            print(f"idle_cpu_s: {used:.3f}")
            print(f"idle_cpu_percent_of_core: {100 * used / took:.2f}")
            print(f"register_refreshes: {refreshes}")
            print(f"registrations_lost: {adapter.losses}")
            print(f"timers_pending_per_line: {timers / lines:.1f}")
            print(f"lines_answering_options: {answered}/{lines}")
        finally:
            for line in running:
                await line.stop()
            kam.stop()


def core_calls(calls: int) -> None:
    proxy = ("127.0.0.1", 5060)
    core = SipCore(("127.0.0.1", 5070), outbound=proxy)
    sdp = (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           b"m=audio 4000 RTP/AVP 0\r\n")
    answers_s = 0.0
    start = cpu_seconds()
    for _ in range(calls):
        leg, out = core.invite("sip:agent1@127.0.0.1:5060", from_uri="sip:line@127.0.0.1", body=sdp)
        invite = next(a.message for a in out if hasattr(a, "message"))
        assert isinstance(invite, Request)
        t0 = cpu_seconds()
        answers = []
        for status in (100, 180, 200):
            resp = response_to(invite, status, to_tag="ph" if status > 100 else "")
            if status > 100:
                resp.add("Record-Route", "<sip:127.0.0.1:5060;lr;ftag=x;did=1>")
                resp.add("Contact", "<sip:agent1@127.0.0.1:5071>")
            if status == 200:
                resp.body = sdp
            answers.append(resp.encode())
        answers_s += cpu_seconds() - t0
        for data in answers:
            core.on_datagram(data, proxy)
        bye = next(a.message for a in core.bye(leg) if hasattr(a, "message"))
        assert isinstance(bye, Request)
        t0 = cpu_seconds()
        ok = response_to(bye, 200).encode()
        answers_s += cpu_seconds() - t0
        core.on_datagram(ok, proxy)
        for key in [k for k in list(core.clients) + list(core.servers)]:
            for name in ("D", "K", "J", "I"):
                core.on_timer((key, name))
        core.on_timer((leg, "forget"))
    used = cpu_seconds() - start - answers_s
    print(f"calls: {calls}")
    print(f"core_cpu_us_per_call: {1e6 * used / calls:.0f}")
    print(f"answers_built_us_per_call: {1e6 * answers_s / calls:.0f}")
    print(f"calls_per_core_second: {calls / used:.0f}")
    print(f"legs_left: {len(core.legs)}")
    print(f"transactions_left: {len(core.clients) + len(core.servers)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", action="store_true", help="idle registered lines")
    parser.add_argument("--core", action="store_true", help="call flows through the state machine")
    parser.add_argument("--relay", action="store_true", help="bridged calls through the RTP relay")
    parser.add_argument("--mix", action="store_true", help="a supervisor's 3-party mix, alone and relayed")
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--calls", type=int, nargs="?", const=0, default=None,
                        help="alone: N relayed calls through the real line (default 50); with "
                             "--core, --relay or --mix: how many calls (default 20000, 50, 20)")
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=None, help="default 20 (180 for --calls)")
    parser.add_argument("--expires", type=int, default=4)
    args = parser.parse_args(argv)
    if not (args.idle or args.core or args.relay or args.mix or args.calls is not None):
        parser.error("--idle, --core, --relay, --mix or --calls [N]")
    seconds = args.seconds if args.seconds is not None else 20.0
    if args.mix:
        from bench.sip_mix import mix

        mix(args.frames, args.calls or 20, args.seconds if args.seconds is not None else 10.0)
    if args.relay:
        from bench.sip_relay import relay

        asyncio.run(relay(args.calls or 50, seconds))
    if args.core:
        core_calls(args.calls or 20000)
    if args.idle:
        asyncio.run(idle(args.lines, seconds, args.expires))
    if args.calls is not None and not (args.relay or args.core or args.mix):
        from bench.sip_calls import calls

        asyncio.run(calls(args.calls or 50, args.seconds if args.seconds is not None else 180.0))
    return 0
