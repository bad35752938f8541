"""Wire evidence: stock pyVoIP 1.6.8 dialling an agent's phone through kamailio (not a test).

Run (as root: the SIP packets are read from a raw socket on ``lo``)::

    python -m tests.adapters.sip.evidence [--out DIR]

It starts kamailio with ``tests/adapters/sip/kamailio.cfg`` (``peers.Kamailio``), SIPp phones
(``tests/fixtures/ami/sipp``) registered to it by a plain REGISTER, and a plain
``pyVoIP.VoIP.VoIPPhone`` (no fix from ``adapters.sip.pyvoip_fixes``) registered as ``line``;
then it dials with ``phone.call(number)`` and prints every SIP datagram on loopback per call.
Nothing of pyVoIP is changed; its ``debug`` function is only replaced by a recorder so the
exceptions its receive loop swallows are seen.

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
Used for the "Evidence" section of ``docs/channels/sip.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import textwrap
import threading
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.adapters.sip.peers import (
    KAMAILIO_CFG,
    MEDIA_DIR,
    SIPP_DIR,
    Kamailio,
    free_udp_port,
    free_udp_range,
    require_binary,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop
    import pyVoIP
    from pyVoIP.VoIP import VoIP as pv  # first: ``pyVoIP.SIP`` alone is a circular import
    from pyVoIP import SIP  # isort: skip

BUSY_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="busy phone">
  <recv request="INVITE" crlf="true" />
  <send>
    <![CDATA[

      SIP/2.0 100 Trying
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[

      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]BZ[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" crlf="true" />
  <timewait milliseconds="500" />
</scenario>
"""

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

SIP_START = re.compile(rb"^(SIP/2\.0 \d{3}|[A-Z]+ \S+ SIP/2\.0)")
SHOWN = ("via", "route", "record-route", "from", "to", "contact", "cseq")
PACKET_OUTGOING = 4


# --- the wire --------------------------------------------------------------------------------

@dataclass
class Packet:
    t: float
    wall: float
    src: int
    dst: int
    text: str

    @property
    def first(self) -> str:
        return self.text.split("\r\n", 1)[0]

    def headers(self, name: str) -> list[str]:
        head = self.text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        return [v.strip() for k, _, v in (h.partition(":") for h in head) if k.strip().lower() == name]

    @property
    def call_id(self) -> str:
        found = self.headers("call-id")
        return found[0] if found else ""


class Sniffer:
    """Every UDP datagram on ``lo`` that looks like SIP (a raw packet socket; needs root)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.packets: list[Packet] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, name="sniffer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            if addr[2] == PACKET_OUTGOING:  # lo shows each datagram twice
                continue
            ip = frame[14:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            src, dst = struct.unpack("!HH", ip[ihl:ihl + 4])
            payload = ip[ihl + 8:]
            if SIP_START.match(payload):
                text = payload.decode("utf8", "replace")
                self.packets.append(Packet(time.monotonic(), time.time(), src, dst, text))

    def stop(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def agent_with_record_route(workdir: Path) -> Path:
    """agent.xml whose 180 and 200 copy the Record-Route headers (the fixture's do not)."""
    text = (SIPP_DIR / "agent.xml").read_text()
    before = "[last_To:];tag=[pid]AG[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n"
    assert text.count(before) == 2, "agent.xml changed"
    path = workdir / "agent_rr.xml"
    path.write_text(text.replace(before, before + "      [last_Record-Route:]\n"))
    return path


# --- peers -----------------------------------------------------------------------------------

@dataclass
class Phone:
    """A SIPp phone (UAS) on a known port, registered to kamailio by ``register``."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path

    def wait(self, timeout: float) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout)
        return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def log(self, suffix: str) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob(f"*{suffix}"))


def start_phone(workdir: Path, name: str, scenario: Path, *args: str) -> Phone:
    binary = require_binary("sipp")
    where = workdir / name
    where.mkdir()
    for wav in MEDIA_DIR.glob("*.wav"):  # rtp_stream files are looked up in the current folder
        (where / wav.name).symlink_to(wav)
    port = free_udp_port()
    proc = subprocess.Popen(
        [binary, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_udp_range(8)),
         "-m", "1", "-nostdin", "-trace_msg", "-trace_err", *args],
        cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.3)
    return Phone(name, port, proc, where)


def register(kamailio_port: int, user: str, contact_port: int) -> str:
    """A plain REGISTER for ``user`` with the phone's Contact; the status line."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        local = s.getsockname()[1]
        msg = (f"REGISTER sip:127.0.0.1:{kamailio_port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
               f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: {uuid.uuid4().hex}@127.0.0.1\r\n"
               f"CSeq: 1 REGISTER\r\nContact: <sip:{user}@127.0.0.1:{contact_port}>\r\nExpires: 600\r\n"
               f"Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", kamailio_port))
        return s.recv(65535).split(b"\r\n", 1)[0].decode()


class AliasedKamailio(Kamailio):
    """kamailio.cfg unchanged; kamailio also takes ``127.0.0.1:5060`` (a port-less URI) as itself."""

    def _spawn(self, rundir: Path, out: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.binary, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-n", "1", "-l", f"udp:127.0.0.1:{self.port}",
             "--alias=udp:127.0.0.1:5060",
             "-Y", str(rundir), "-w", str(self.workdir), "-m", "32", "-M", "4"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def start_kamailio(workdir: Path, name: str, cls: type[Kamailio]) -> Kamailio:
    where = workdir / name
    where.mkdir()
    kam = cls(port=free_udp_port(), workdir=where, binary=require_binary("kamailio"))
    kam.start()
    return kam


# --- pyVoIP, stock -----------------------------------------------------------------------------

@dataclass
class Recorder:
    lines: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, s: Any, e: Any = None) -> None:
        self.lines.append((time.monotonic(), str(s).split("\n\n", 1)[0]))


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

class Report:
    def __init__(self, out: Path, sniffer: Sniffer) -> None:
        self.out = out
        self.sniffer = sniffer
        self.names: dict[int, str] = {}
        self.text: list[str] = []

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.text.append(line)

    def name(self, port: int) -> str:
        return f"{self.names.get(port, '?')}:{port}"

    def packets(self, call_id: str) -> list[Packet]:
        return [p for p in self.sniffer.packets if p.call_id == call_id]

    def trace(self, title: str, call_id: str, *, full: bool = False) -> list[Packet]:
        pkts = self.packets(call_id)
        self.say(f"--- wire, {title} (Call-ID {call_id}) ---")
        if not pkts:
            self.say("(no packet)")
            return pkts
        t0 = pkts[0].t
        for p in pkts:
            self.say(f"{p.t - t0:7.3f}s  {self.name(p.src):>16} -> {self.name(p.dst):<16} {p.first}")
            if full:
                for h in SHOWN:
                    for v in p.headers(h):
                        self.say(f"{'':44}{h.title()}: {v}")
        with (self.out / f"wire-{title.split()[0]}.txt").open("w") as f:
            for p in pkts:
                f.write(f"=== {p.t - t0:.3f}s {self.name(p.src)} -> {self.name(p.dst)}\n{p.text}\n")
        return pkts

    def kamailio(self, kam: Kamailio, call_id: str) -> None:
        lines = [ln for ln in kam.logs().splitlines() if call_id in ln]
        self.say(f"--- kamailio log ({len(lines)} lines) ---")
        for ln in lines:
            self.say("  " + re.sub(r"^.*?: (INFO|WARNING|ERROR): <script>: ", r"\1: ", ln))

    def sipp(self, phone: Phone, rc: int | None, since: float | None = None) -> None:
        """SIPp's exit code and error log; ``since``: the wall time its times are counted from."""
        self.say(f"--- SIPp {phone.name}: exit code {rc} (0 = call completed, 1 = call failed) ---")
        for ln in phone.log("_errors.log").splitlines():
            if not ln.strip() or "events occurred" in ln:
                continue
            stamp = re.search(r"\t(\d{9,}\.\d+): ", ln)
            when = f"at {float(stamp.group(1)) - since:5.1f}s: " if stamp and since is not None else ""
            self.say(f"  {when}{ln.split(': ', 1)[-1].strip()}")


def summarize(rep: Report, pkts: list[Packet], line_port: int, agent_port: int, kam_port: int) -> None:
    def count(src: int, dst: int, start: str, method: str = "") -> list[Packet]:
        return [p for p in pkts if p.src == src and p.dst == dst and p.first.startswith(start)
                and (not method or p.headers("cseq")[0].endswith(method))]

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
                                             if int(p.first.split()[1]) >= 300]),
            ("CANCEL reaching the agent", count(kam_port, agent_port, "CANCEL ")),
    ):
        if sel:
            times = ", ".join(f"{p.t - t0:.1f}" for p in sel)
            rep.say(f"  {label}: {len(sel)}  at [{times}] s")


# --- the run -----------------------------------------------------------------------------------

def dial(rep: Report, phone: pv.VoIPPhone, number: str, *, timeout: float = 5.0) -> Any:
    """``phone.call(number)`` on a thread: it blocks until a 100/180/401 of its Call-ID arrives."""
    rep.say(f">>> phone.call({number!r})")
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["call"] = phone.call(number)
        except Exception as exc:
            result["error"] = exc
            result["where"] = traceback.format_exc().strip().splitlines()[-3].strip()

    thread = threading.Thread(target=run, name=f"dial {number}", daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        rep.say(f"<<< phone.call still blocked after {timeout:.0f} s (pyVoIP's recvLock held by it)")
        return None
    if "error" in result:
        exc = result["error"]
        rep.say(f"<<< phone.call raised {type(exc).__name__}: {exc} after {time.monotonic() - started:.2f} s")
        rep.say(f"    at {result['where']}")
        return None
    call = result["call"]
    rep.say(f"<<< state {call.state.name}, Call-ID {call.call_id}")
    return call


def invite_to(rep: Report, user: str) -> str:
    """The Call-ID of the last INVITE seen on the wire for ``user`` (dials that never returned)."""
    found = [p for p in rep.sniffer.packets if p.first.startswith(f"INVITE sip:{user}")]
    return found[-1].call_id if found else ""


def phase1(rep: Report, workdir: Path, recorder: Recorder) -> None:
    rep.say("=" * 100)
    rep.say("PHASE 1: kamailio as in the tests (free port), agent1 registered")
    kam = start_kamailio(workdir, "kamailio-plain", Kamailio)
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
            rep.trace("1-portless", call.call_id, full=True)
            rep.kamailio(kam, call.call_id)
            rep.say(f"pyVoIP call state now: {call.state.name}")
        # last: a dial that is not answered by 100/180 leaves pyVoIP's receive loop locked out
        blocked = dial(rep, phone, f"agent1@127.0.0.1:{agent.port}") is None
        time.sleep(1)
        if cid := invite_to(rep, "agent1@127.0.0.1:"):
            rep.trace("1-full-uri", cid, full=True)
            rep.kamailio(kam, cid)
        rep.sipp(agent, agent.wait(0.1))
    finally:
        agent.kill()
        stop_line(phone, blocked)
        kam.stop()


def phase2(rep: Report, workdir: Path, recorder: Recorder) -> None:
    rep.say("=" * 100)
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
            rep.say("=" * 100)
            rep.say(f"CONTROL: SIPp UAC (control.xml) -> {name}")
            cid = invite_to(rep, f"{name}@")
            pkts = rep.trace(f"2-control-{name}", cid, full=True)
            rep.say("--- counts ---")
            summarize(rep, pkts, ctl.port, phones[name].port, kam.port)
            rep.kamailio(kam, cid)
            rep.sipp(ctl, ctl.wait(0.1), pkts[0].wall if pkts else None)
            rep.sipp(phones[name], phones[name].wait(0.1), pkts[0].wall if pkts else None)
        for key, name in (("A", "agentA"), ("B", "agentB"), ("C", "agentC"), ("D", "agentD")):
            c = calls[key]
            rep.say("=" * 100)
            rep.say(f"CASE {key} ({name})")
            cid = c.call_id if c is not None else invite_to(rep, f"{name}@")
            pkts = rep.trace(f"2{key}-{name}", cid, full=True)
            rep.say("--- counts ---")
            summarize(rep, pkts, phone.sip.myPort, phones[name].port, kam.port)
            rep.kamailio(kam, cid)
            state = c.state.name if c is not None else "(phone.call did not return a call)"
            rep.say(f"pyVoIP call state now: {state}; in phone.calls: {cid in phone.calls}")
            rep.sipp(phones[name], phones[name].wait(0.1), pkts[0].wall if pkts else None)
        rep.say("=" * 100)
        rep.say("CASE E (nobody, not registered)")
        if cid := invite_to(rep, "nobody@"):
            rep.trace("2E-nobody", cid, full=True)
            rep.kamailio(kam, cid)
        rep.say(f"RTP ports still assigned by pyVoIP: {len(phone.assignedPorts)}; "
                f"calls known: {len(phone.calls)}")
    finally:
        for p in [*phones.values(), *controls.values()]:
            p.kill()
        stop_line(phone, False)
        kam.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=None, help="logs and traces (default: a temp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="sip-evidence-"))
    out.mkdir(parents=True, exist_ok=True)
    sniffer = Sniffer()
    rep = Report(out, sniffer)
    recorder = Recorder()
    t0 = time.monotonic()
    rep.say(f"pyVoIP {pyVoIP.__version__}, output in {out}")
    try:
        phase1(rep, out, recorder)
        sniffer.packets.clear()
        phase2(rep, out, recorder)
    finally:
        sniffer.stop()
        rep.say("=" * 100)
        rep.say("pyVoIP debug() calls (errors its receive loop swallowed, and its own notes):")
        seen: set[str] = set()
        for t, line in recorder.lines:
            if any(k in line for k in ("error", "Error", "TODO", "Unknown", "Not Found", "Terminating")):
                key = line[:120]
                if key not in seen:
                    seen.add(key)
                    rep.say(f"  {t - t0:7.1f}s  {textwrap.shorten(line, 150)}")
        (out / "report.txt").write_text("\n".join(rep.text) + "\n")
        print(f"\nreport: {out / 'report.txt'}", flush=True)
        os._exit(0)  # pyVoIP's threads (a dial blocked for ever, register timers) would keep us


if __name__ == "__main__":
    main()
