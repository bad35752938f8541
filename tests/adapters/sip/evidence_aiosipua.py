"""Wire evidence: aiosipua dialling an agent's phone through kamailio (not a test).

Run (aiosipua is NOT a dependency: install it into a scratch environment first)::

    pip install aiosipua==0.7.1
    python -m tests.adapters.sip.evidence_aiosipua [--out DIR]

The same cases as ``evidence.py`` (pyVoIP 1.6.8): kamailio with the unchanged ``kamailio.cfg``
on a free port (record-route, in-dialog requests routed only by their Route set), SIPp phones
registered to it by a plain REGISTER, and aiosipua's own ``SipUAS`` + ``SipUAC`` on a
``UdpSipTransport`` (registered as ``line`` with its ``Registration``), dialling
``sip:<agent>@127.0.0.1:<kamailio port>`` with ``remote_addr`` = kamailio:

  A  answered (agent.xml + ``[last_Record-Route:]``): the ACK to 200, then ``hangup()``: the BYE;
  C  busy (486): is the 486 ACKed;
  D  rings for ever (agent_noanswer.xml), ``cancel()`` after 1 s: where the CANCEL goes, is the
     487 ACKed;
  R  two fresh UAC instances: Call-IDs and branches differ;
  P  CPU of this process while idle with the registration live (does anything poll).

What aiosipua sends and receives is recorded by wrapping its transport (no raw socket needed);
kamailio's log lines for each Call-ID and SIPp's error logs are added. About 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosipua import SipUAC, SipUAS, UdpSipTransport
from aiosipua.registration import Registration

from tests.adapters.sip.peers import SIPP_DIR
from tests.adapters.sip.wire import BUSY_XML, agent_with_record_route, register, start_kamailio, start_phone

SHOWN = ("via", "route", "record-route", "to", "contact", "cseq")


class Trace:
    def __init__(self) -> None:
        self.start = time.monotonic()
        self.lines: list[tuple[str, str]] = []  # (call-id, line)

    def record(self, direction: str, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        head, _, _ = text.partition("\r\n\r\n")
        first, *headers = head.split("\r\n")
        call_id = next((h.split(":", 1)[1].strip() for h in headers
                        if h.lower().startswith(("call-id:", "i:"))), "")
        shown = [h for h in headers if h.split(":", 1)[0].strip().lower() in SHOWN]
        at = time.monotonic() - self.start
        self.lines.append((call_id, f"{at:7.3f}s {direction} {addr[0]}:{addr[1]}  {first}"))
        self.lines.extend((call_id, f"{'':18}{h}") for h in shown)

    def of(self, call_id: str) -> list[str]:
        return [line for cid, line in self.lines if cid == call_id]


def wrap(transport: UdpSipTransport, trace: Trace) -> None:
    send, dispatch = transport.send, transport._dispatch

    def traced_send(message: Any, addr: tuple[str, int]) -> None:
        trace.record("sent to  ", bytes(message), addr)
        send(message, addr)

    def traced_dispatch(data: bytes, addr: tuple[str, int]) -> None:
        trace.record("recv from", data, addr)
        dispatch(data, addr)

    transport.send = traced_send  # type: ignore[method-assign]
    transport._dispatch = traced_dispatch  # type: ignore[method-assign]


def cpu() -> float:
    t = os.times()
    return t.user + t.system


async def main(out: Path) -> None:
    report: list[str] = []
    say = report.append
    kam = start_kamailio(out, "kamailio")
    proxy = ("127.0.0.1", kam.port)
    busy = out / "busy.xml"
    busy.write_text(BUSY_XML)
    phones = {
        "agentA": start_phone(out, "agentA", agent_with_record_route(out), "-set", "ring_ms", "300",
                              "-set", "talk_ms", "0"),
        "agentC": start_phone(out, "agentC", busy),
        "agentD": start_phone(out, "agentD", SIPP_DIR / "agent_noanswer.xml"),
    }
    for name, phone in phones.items():
        say(f"REGISTER {name} -> {register(kam.port, name, phone.port)}")
    trace = Trace()
    transport = UdpSipTransport(local_addr=("127.0.0.1", 0))
    wrap(transport, trace)
    uac = SipUAC(transport)
    uas = SipUAS(transport, uac=uac)
    await uas.start()
    sock = transport._udp_transport.get_extra_info("sockname")  # type: ignore[union-attr]
    transport.local_addr = (sock[0], sock[1])
    reg = Registration(uac, f"sip:line@127.0.0.1:{kam.port}", proxy, expires=60)
    reg.register()
    await asyncio.sleep(0.5)
    say(f"line registration state: {reg.state}")
    kam_uri = f"127.0.0.1:{kam.port}"

    # A: answered, then hung up by us
    call = uac.send_invite(f"sip:line@{kam_uri}", f"sip:agentA@{kam_uri}", proxy)
    await call.wait_answered(10)
    say(f"A answered; dialog route_set={call.dialog.route_set!r} remote_target={call.dialog.remote_target!r}")
    await asyncio.sleep(2.5)
    call.hangup(uac)
    await asyncio.sleep(1.5)
    cases = [("A answered, hung up after 2.5 s", call.call_id)]

    # C: busy
    call_c = uac.send_invite(f"sip:line@{kam_uri}", f"sip:agentC@{kam_uri}", proxy)
    try:
        await call_c.wait_answered(5)
    except RuntimeError as exc:
        say(f"C: {exc}")
    await asyncio.sleep(4.5)  # kamailio resends an unACKed final at 0.5, 1.5, 3.5 s
    cases.append(("C busy 486", call_c.call_id))

    # D: ringing, cancelled after 1 s
    call_d = uac.send_invite(f"sip:line@{kam_uri}", f"sip:agentD@{kam_uri}", proxy)
    await asyncio.sleep(1.0)
    cancel = call_d.cancel(uac)
    say(f"D: cancel() returned {cancel.method if cancel else None}")
    await asyncio.sleep(4.5)
    cases.append(("D ringing, cancel() after 1 s", call_d.call_id))

    for title, call_id in cases:
        say("")
        say(f"== {title}  Call-ID {call_id}")
        report.extend(trace.of(call_id))
        kam_lines = [ln.strip() for ln in kam.logs().splitlines() if call_id in ln and "WARN" in ln]
        say(f"kamailio warnings for this call: {len(kam_lines)}")
        report.extend(f"    {ln[-140:]}" for ln in kam_lines[:3])

    # R: identifiers of two fresh UACs (as after a restart)
    say("")
    for n in (1, 2):
        t2 = UdpSipTransport(local_addr=("127.0.0.1", 0))
        u2 = SipUAC(t2)
        t2.send = lambda *a: None  # type: ignore[method-assign]
        c2 = u2.send_invite("sip:line@x", "sip:agent@x", proxy)
        say(f"R fresh UAC {n}: Call-ID {c2.call_id}  branch {c2.invite.headers.get_first('via')}")

    # P: idle CPU, registration live
    before, t0 = cpu(), time.monotonic()
    await asyncio.sleep(10)
    used, took = cpu() - before, time.monotonic() - t0
    say(f"P idle: {used:.3f} s CPU in {took:.1f} s = {100 * used / took:.2f} % of a core")

    for name, phone in phones.items():
        say(f"SIPp {name} exit={phone.wait(0.1)} errors={phone.errors()[:3]}")
        phone.kill()
    await uas.stop()
    kam.stop()
    text = "\n".join(report)
    (out / "report.txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="aiosipua-evidence-"))
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(out))
