"""SIP layer benchmark: what idle registered lines cost (``adapters.sip.sipcore``).

``python -m bench sip --idle [--lines 10] [--seconds 20] [--expires 4]``

A kamailio registrar/proxy (``tests/adapters/sip/kamailio.cfg``, a free loopback port) and
``--lines`` lines in this process, each a ``SipEndpoint`` with its own UDP socket registered as
``lineN`` with ``--expires`` seconds, so each refreshes its binding every ``expires/2`` seconds
through the layer (REGISTER client transactions, timers E/F/K, the refresh timer). Once every line
is registered, the process's CPU time (user + system, ``os.times``) is read over ``--seconds`` of
no calls; the figure is that over the wall time, as a percentage of one core. Then each line is
probed by an OPTIONS to ``sip:lineN@proxy`` (routed by the registrar's location table to the line,
answered by its core): all must answer 200, or the idle figure would be that of dead lines.

Measured, not asserted. The goal (issue 15) is under 1 % of a core for 10 lines: pyVoIP 2.0.0a4's
waiting threads busy-polled (85 s of CPU in 79 s). kamailio's CPU is not counted (another process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from adapters.sip.sipcore.core import Registered, RegistrationFailed
from adapters.sip.sipcore.transport import SipEndpoint
from tests.adapters.sip.peers import Kamailio, free_udp_port, sip_request


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


async def idle(lines: int, seconds: float, expires: int) -> None:
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
        kam = Kamailio(port=free_udp_port(), workdir=Path(tmp), binary=binary)
        kam.start()
        endpoints: list[SipEndpoint] = []
        try:
            proxy = ("127.0.0.1", kam.port)
            for n in range(1, lines + 1):
                ep = await SipEndpoint.open("127.0.0.1", 0, outbound=proxy, user=f"line{n}")
                ep.run(ep.core.register(f"sip:line{n}@127.0.0.1:{kam.port}", expires))
                endpoints.append(ep)
            for ep in endpoints:
                await ep.next_event(Registered, timeout=10)
            failures = 0
            refreshes = 0
            start_cpu, start = cpu_seconds(), time.monotonic()
            await asyncio.sleep(seconds)
            used, took = cpu_seconds() - start_cpu, time.monotonic() - start
            for ep in endpoints:
                while not ep.events.empty():
                    event = ep.events.get_nowait()
                    refreshes += isinstance(event, Registered)
                    failures += isinstance(event, RegistrationFailed)
            answered = 0
            for n in range(1, lines + 1):  # in a thread: the lines answer on this loop
                status = await asyncio.to_thread(sip_request, kam.port, "OPTIONS",
                                                 f"sip:line{n}@127.0.0.1:{kam.port}")
                answered += status == "SIP/2.0 200 OK"
            print(f"lines: {lines}")
            print(f"register_expires_s: {expires}")
            print(f"idle_wall_s: {took:.1f}")
            print(f"idle_cpu_s: {used:.3f}")
            print(f"idle_cpu_percent_of_core: {100 * used / took:.2f}")
            print(f"register_refreshes: {refreshes}")
            print(f"register_failures: {failures}")
            print(f"timers_pending_per_line: {sum(ep.pending_timers for ep in endpoints) / lines:.1f}")
            print(f"lines_answering_options: {answered}/{lines}")
        finally:
            for ep in endpoints:
                ep.close()
            kam.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", action="store_true", help="idle registered lines (the only mode yet)")
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--expires", type=int, default=4)
    args = parser.parse_args(argv)
    if not args.idle:
        parser.error("only --idle is implemented (relayed calls come with the RTP relay)")
    asyncio.run(idle(args.lines, args.seconds, args.expires))
    return 0
