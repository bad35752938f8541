"""Wire evidence: stock pyVoIP 1.6.8 dialling an agent's phone through kamailio (not a test).

Run (as root: the SIP packets are read from a raw socket on ``lo``)::

    python -m tests.adapters.sip.evidence [--out DIR]

It starts kamailio with ``tests/adapters/sip/kamailio.cfg`` (``peers.Kamailio``), SIPp phones
(``tests/fixtures/ami/sipp``) registered to it by a plain REGISTER, and a plain
``pyVoIP.VoIP.VoIPPhone`` (none of the fixes the line carried while on pyVoIP) registered as ``line``;
then it dials with ``phone.call(number)`` and prints every SIP datagram on loopback per call.
Nothing of pyVoIP is changed; its ``debug`` function is only replaced by a recorder so the
exceptions its receive loop swallows are seen. The sniffer, the SIPp phones and the report come
from ``wire`` (shared with ``evidence_v2.py``, the same for pyVoIP 2.0.0a4).

Phase 1, kamailio as in the tests (a free port): where the port-less INVITE goes.
Phase 2, kamailio also told that ``127.0.0.1:5060`` is itself (``--alias``), as a proxy on the
default port would be, so the INVITE reaches the phones:
  controls: a correct caller (SIPp UAC, control.xml written here) -> agent0 (agent.xml plus
    ``[last_Record-Route:]``, written here) and -> agentP (agent.xml as it is: its 200 OK
    does not copy Record-Route);
  A answered (agent.xml + Record-Route, talk_ms 0), never hung up: the ACK, the 200 retransmissions;
  B the same, then ``call.hangup()``: pyVoIP's BYE;
  C busy (486, busy.xml written here): no ACK, the call state;
  D never answers (agent_noanswer.xml): no CANCEL, kamailio's timeout, the call state;
  E a user that is not registered: ``phone.call`` itself.
Traces (one file per call) and ``report.txt`` go to ``--out`` (default: a temp dir); ~2 minutes.
Packet times are the kernel's receive stamps. Used for the "Evidence" section of
``docs/channels/sip.md``.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import IO, Any

from tests.adapters.sip.peers import KAMAILIO_CFG, SIPP_DIR, Kamailio, free_udp_port, free_udp_range
from tests.adapters.sip.wire import (
    BUSY_XML,
    Packet,
    Recorder,
    Report,
    Sniffer,
    agent_with_record_route,
    arguments,
    in_thread,
    out_dir,
    register,
    select,
    start_kamailio,
    start_phone,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop
    import pyVoIP
    from pyVoIP.VoIP import VoIP as pv  # first: ``pyVoIP.SIP`` alone is a circular import
    from pyVoIP import SIP  # isort: skip

# A correct caller (SIPp UAC) for comparison: ACK and BYE to the Contact with the Route set
CONTROL_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="control caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@127.0.0.1:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:control@[local_ip]>;tag=[pid]CT[call_number]
      To: <sip:[service]@127.0.0.1>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:control@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=control 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="200" rrs="true" />
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:control@[local_ip]>;tag=[pid]CT[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="2000" />
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:control@[local_ip]>;tag=[pid]CT[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />
</scenario>
"""


class AliasedKamailio(Kamailio):
    """kamailio.cfg unchanged; kamailio also takes ``127.0.0.1:5060`` (a port-less URI) as itself."""

    def _spawn(self, rundir: Path, out: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.binary, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-n", "1", "-l", f"udp:127.0.0.1:{self.port}",
             "--alias=udp:127.0.0.1:5060",
             "-Y", str(rundir), "-w", str(self.workdir), "-m", "32", "-M", "4"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


# --- pyVoIP, stock -----------------------------------------------------------------------------

def start_line(kamailio_port: int, recorder: Recorder) -> pv.VoIPPhone:
    SIP.debug = recorder  # observation only: pyVoIP's debug() otherwise prints nothing
    pv.debug = recorder
    low = free_udp_range(20)
    phone = pv.VoIPPhone("127.0.0.1", kamailio_port, "line", "secret", myIP="127.0.0.1",
                         sipPort=free_udp_port(), rtpPortLow=low, rtpPortHigh=low + 19)
    phone.start()
    return phone


def stop_line(phone: pv.VoIPPhone, blocked: bool) -> None:
    """``phone.stop()`` (it hangs up answered calls), unless a dial holds the recvLock for ever."""
    if not blocked:
        thread = threading.Thread(target=phone.stop, name="stop", daemon=True)
        thread.start()
        thread.join(5)
        if not thread.is_alive():
            return
    phone.sip.NSD = False  # abandon it: its threads end with the process (os._exit in main)
    if phone.sip.registerThread is not None:
        phone.sip.registerThread.cancel()


# --- report ------------------------------------------------------------------------------------

def summarize(rep: Report, pkts: list[Packet], line_port: int, agent_port: int, kam_port: int) -> None:
    def count(src: int, dst: int, start: str, method: str = "") -> list[Packet]:
        return select(pkts, src, dst, start, method)

    t0 = pkts[0].t if pkts else 0.0
    for label, sel in (
            ("agent's 200 OK to the INVITE (first + retransmissions)",
             count(agent_port, kam_port, "SIP/2.0 200", "INVITE")),
            ("200 OK (INVITE) relayed to the caller", count(kam_port, line_port, "SIP/2.0 200", "INVITE")),
            ("ACK sent by the caller", count(line_port, kam_port, "ACK ")),
            ("ACK reaching the agent", count(kam_port, agent_port, "ACK ")),
            ("BYE from the agent", count(agent_port, kam_port, "BYE ")),
            ("BYE relayed to the caller", count(kam_port, line_port, "BYE ")),
            ("BYE sent by the caller", count(line_port, kam_port, "BYE ")),
            ("BYE reaching the agent", count(kam_port, agent_port, "BYE ")),
            ("agent's 200 OK to the BYE", count(agent_port, kam_port, "SIP/2.0 200", "BYE")),
            ("final >= 300 sent to the caller", [p for p in count(kam_port, line_port, "SIP/2.0 ")
                                                 if p.status >= 300]),
            ("CANCEL reaching the agent", count(kam_port, agent_port, "CANCEL ")),
    ):
        if sel:
            times = ", ".join(f"{p.t - t0:.1f}" for p in sel)
            rep.say(f"  {label}: {len(sel)}  at [{times}] s")


# --- the run -----------------------------------------------------------------------------------

def dial(rep: Report, phone: pv.VoIPPhone, number: str, *, timeout: float = 5.0) -> Any:
    """``phone.call(number)`` on a thread: it blocks until a 100/180/401 of its Call-ID arrives."""
    rep.say(f">>> phone.call({number!r})")
    outcome = in_thread(lambda: phone.call(number), f"dial {number}", timeout)
    if outcome.blocked:
        rep.say(f"<<< phone.call still blocked after {timeout:.0f} s (pyVoIP's recvLock held by it)")
        return None
    if (exc := outcome.error) is not None:
        where = "".join(traceback.format_exception(exc)).strip().splitlines()[-3].strip()
        rep.say(f"<<< phone.call raised {type(exc).__name__}: {exc} after {outcome.took:.2f} s")
        rep.say(f"    at {where}")
        return None
    call = outcome.value
    rep.say(f"<<< state {call.state.name}, Call-ID {call.call_id}")
    return call


def phase1(rep: Report, workdir: Path, recorder: Recorder) -> None:
    rep.rule()
    rep.say("PHASE 1: kamailio as in the tests (free port), agent1 registered")
    kam = start_kamailio(workdir, "kamailio-plain")
    rep.names[kam.port] = "kamailio"
    agent = start_phone(workdir, "p1-agent1", SIPP_DIR / "agent.xml", "-set", "ring_ms", "500",
                        "-set", "talk_ms", "0")
    rep.names[agent.port] = "agent1"
    rep.say(f"agent1 REGISTER: {register(kam.port, 'agent1', agent.port)}")
    phone = start_line(kam.port, recorder)
    rep.names[phone.sip.myPort] = "pyVoIP"
    rep.say(f"pyVoIP status: {phone.get_status().name}")
    blocked = False
    try:
        call = dial(rep, phone, "agent1")
        time.sleep(12)  # kamailio's fr_timer is 10 s
        if call is not None:
            rep.trace("1-portless", call.call_id)
            rep.kamailio(kam, call.call_id)
            rep.say(f"pyVoIP call state now: {call.state.name}")
        # last: a dial that is not answered by 100/180 leaves pyVoIP's receive loop locked out
        blocked = dial(rep, phone, f"agent1@127.0.0.1:{agent.port}") is None
        time.sleep(1)
        if cid := rep.last_invite("agent1@127.0.0.1:"):
            rep.trace("1-full-uri", cid)
            rep.kamailio(kam, cid)
        rep.sipp(agent)
    finally:
        agent.kill()
        stop_line(phone, blocked)
        kam.stop()


def phase2(rep: Report, workdir: Path, recorder: Recorder) -> None:
    rep.rule()
    rep.say("PHASE 2: kamailio with --alias=udp:127.0.0.1:5060 (as if on the default port)")
    kam = start_kamailio(workdir, "kamailio-alias", AliasedKamailio)
    rep.names[kam.port] = "kamailio"
    busy_xml = workdir / "busy.xml"
    busy_xml.write_text(BUSY_XML)
    control_xml = workdir / "control.xml"
    control_xml.write_text(CONTROL_XML)
    agent_rr = agent_with_record_route(workdir)
    agent_args = ("-set", "ring_ms", "500", "-set", "talk_ms", "0")
    phones = {
        "agent0": start_phone(workdir, "agent0", agent_rr, *agent_args),
        "agentP": start_phone(workdir, "agentP", SIPP_DIR / "agent.xml", *agent_args),
        "agentA": start_phone(workdir, "agentA", agent_rr, *agent_args),
        "agentB": start_phone(workdir, "agentB", agent_rr, *agent_args),
        "agentC": start_phone(workdir, "agentC", busy_xml),
        "agentD": start_phone(workdir, "agentD", SIPP_DIR / "agent_noanswer.xml"),
    }
    for name, p in phones.items():
        rep.names[p.port] = name
        rep.say(f"{name} REGISTER: {register(kam.port, name, p.port)}")
    rep.say("agent0, agentA, agentB: agent.xml + [last_Record-Route:]; agentP: agent.xml as it is")
    controls = {
        "agent0": start_phone(workdir, "control0", control_xml, "-s", "agent0", f"127.0.0.1:{kam.port}"),
        "agentP": start_phone(workdir, "controlP", control_xml, "-s", "agentP", f"127.0.0.1:{kam.port}"),
    }
    for name, p in controls.items():
        rep.names[p.port] = f"ctl-{name[-1]}"
    phone = start_line(kam.port, recorder)
    rep.names[phone.sip.myPort] = "pyVoIP"
    rep.say(f"pyVoIP status: {phone.get_status().name}")
    t_start = time.monotonic()
    calls: dict[str, Any] = {}
    try:
        calls["A"] = dial(rep, phone, "agentA")
        calls["B"] = dial(rep, phone, "agentB")
        deadline = time.monotonic() + 5
        while calls["B"] is not None and calls["B"].state.name != "ANSWERED" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        if calls["B"] is not None:
            rep.say(f">>> call B state {calls['B'].state.name}: call.hangup()")
            try:
                calls["B"].hangup()
                rep.say(f"<<< call B state {calls['B'].state.name}")
            except Exception as exc:
                rep.say(f"<<< hangup raised {type(exc).__name__}: {exc}")
        # let the receive loop take the answer to that BYE: a dial reading it first raises (see doc)
        time.sleep(1)
        calls["C"] = dial(rep, phone, "agentC")
        calls["D"] = dial(rep, phone, "agentD")
        time.sleep(2)
        if calls["D"] is not None:
            rep.say(f">>> call D state {calls['D'].state.name} (ringing): call.hangup() to cancel it")
            try:
                calls["D"].hangup()
            except Exception as exc:
                rep.say(f"<<< hangup raised {type(exc).__name__}: {exc}")
        calls["E"] = dial(rep, phone, "nobody")
        # D: kamailio's fr_inv_timer is 60 s, then up to 32 s of reply retransmissions
        wait_until = time.monotonic() + 100
        while time.monotonic() < wait_until:
            done = all(p.proc.poll() is not None for p in phones.values())
            if done and time.monotonic() - t_start > 95:
                break
            time.sleep(0.5)
        for name, ctl in controls.items():
            rep.rule()
            rep.say(f"CONTROL: SIPp UAC (control.xml) -> {name}")
            cid = rep.last_invite(f"{name}@")
            pkts = rep.trace(f"2-control-{name}", cid)
            rep.say("--- counts ---")
            summarize(rep, pkts, ctl.port, phones[name].port, kam.port)
            rep.kamailio(kam, cid)
            rep.sipp(ctl, pkts[0].t if pkts else None)
            rep.sipp(phones[name], pkts[0].t if pkts else None)
        for key, name in (("A", "agentA"), ("B", "agentB"), ("C", "agentC"), ("D", "agentD")):
            c = calls[key]
            rep.rule()
            rep.say(f"CASE {key} ({name})")
            cid = c.call_id if c is not None else rep.last_invite(f"{name}@")
            pkts = rep.trace(f"2{key}-{name}", cid)
            rep.say("--- counts ---")
            summarize(rep, pkts, phone.sip.myPort, phones[name].port, kam.port)
            rep.kamailio(kam, cid)
            state = c.state.name if c is not None else "(phone.call did not return a call)"
            rep.say(f"pyVoIP call state now: {state}; in phone.calls: {cid in phone.calls}")
            rep.sipp(phones[name], pkts[0].t if pkts else None)
        rep.rule()
        rep.say("CASE E (nobody, not registered)")
        if cid := rep.last_invite("nobody@"):
            rep.trace("2E-nobody", cid)
            rep.kamailio(kam, cid)
        rep.say(f"RTP ports still assigned by pyVoIP: {len(phone.assignedPorts)}; "
                f"calls known: {len(phone.calls)}")
    finally:
        for p in [*phones.values(), *controls.values()]:
            p.kill()
        stop_line(phone, False)
        kam.stop()


def main() -> None:
    args = arguments(__doc__).parse_args()
    out = out_dir(args.out, "sip-evidence-")
    sniffer = Sniffer()
    rep = Report(out, sniffer)
    recorder = Recorder()
    t0 = time.time()
    rep.say(f"pyVoIP {pyVoIP.__version__}, output in {out}")
    try:
        phase1(rep, out, recorder)
        sniffer.packets.clear()
        phase2(rep, out, recorder)
    finally:
        sniffer.stop()
        rep.rule()
        rep.say("pyVoIP debug() calls (errors its receive loop swallowed, and its own notes):")
        seen: set[str] = set()
        for t, line in recorder.lines:
            if any(k in line for k in ("error", "Error", "TODO", "Unknown", "Not Found", "Terminating")):
                key = line[:120]
                if key not in seen:
                    seen.add(key)
                    rep.say(f"  {t - t0:7.1f}s  {textwrap.shorten(line, 150)}")
        rep.save()
        os._exit(0)  # pyVoIP's threads (a dial blocked for ever, register timers) would keep us


if __name__ == "__main__":
    main()
