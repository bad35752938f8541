"""Wire evidence: stock pyVoIP 2.0.0a4 dialling an agent's phone through kamailio (not a test).

The sibling of ``evidence.py`` (pyVoIP 1.6.8) for the 2.0 pre-release. The project pins 1.6.8, so
run it from a separate virtualenv, as root (the SIP packets are read from a raw socket on ``lo``)::

    python -m venv venv-pyvoip2
    venv-pyvoip2/bin/pip install pyVoIP==2.0.0a4 pytest    # pytest: tests.conftest imports it
    PYTHONPATH=. venv-pyvoip2/bin/python -m tests.adapters.sip.evidence_v2 [--out DIR] [--line-ip IP]

It does not import ``evidence.py`` (that module imports pyVoIP 1.6.8's ``pyVoIP.VoIP.VoIP``); the
sniffer and report helpers are re-implemented here, the peers come from ``peers``. It starts
kamailio with the unchanged ``kamailio.cfg`` on a free port (``peers.Kamailio``: 2.0 puts the
proxy's port in the Request-URI, so no ``--alias`` is needed), SIPp phones registered to it by a
plain REGISTER, and a plain ``VoIPPhone(VoIPPhoneParameter(...))`` registered as ``line``; then
it dials with ``phone.call(number)``. Nothing of pyVoIP is changed: its ``debug`` functions are
replaced by a recorder, ``threading.excepthook`` and ``warnings.showwarning`` are recorded too.

The line binds ``--line-ip`` (default 127.0.0.2; kamailio and the phones are on 127.0.0.1):
pyVoIP 2.0 tells the two ends of a dialog apart by whether the To host is its own address
(``networking/sock.py`` ``determine_tags``), so with everything on one address every message
looks addressed to itself. ``--line-ip 127.0.0.1`` shows that variant.

Cases (agent.xml plus ``[last_Record-Route:]`` where marked RR, so failures are pyVoIP's; a SIPp
caller doing ACK/BYE with ``[routes]`` to that variant passes, see ``evidence.py``'s control):
  A answered (RR, talk_ms 0), never hung up: the ACK, the 200 retransmissions;
  B the same, then ``call.hangup()``: pyVoIP's BYE;
  G ``phone.call("")``: kamailio's 484 without a 100 (does ``phone.call`` block, and the line?);
  C busy (486, busy.xml written here): ACK of a non-2xx, the call state;
  D never answers (agent_noanswer.xml): ``call.hangup()``, then 2.0's ``call.cancel()``;
  E a user that is not registered: ``phone.call`` itself;
  F a full URI, ``phone.call("agentF@127.0.0.1:<port>")`` (RR, the phone hangs up after 2 s).
Traces (one file per call), pyVoIP's debug lines and ``report.txt`` go to ``--out`` (default: a
temp dir); ~2 minutes. Packet times are the kernel's receive stamps.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.adapters.sip.peers import (
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
    from pyVoIP.credentials import CredentialsManager
    from pyVoIP.SIP.message import SIPMessage
    from pyVoIP.VoIP.phone import VoIPPhone, VoIPPhoneParameter

BUSY_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="busy phone">
  <recv request="INVITE" crlf="true" />
  <send><![CDATA[

      SIP/2.0 100 Trying
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <send><![CDATA[

      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]BZ[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <recv request="ACK" crlf="true" />
  <timewait milliseconds="500" />
</scenario>
"""

SIP_START = re.compile(rb"^(SIP/2\.0 \d{3}|[A-Z]+ \S+ SIP/2\.0)")
SHOWN = ("via", "route", "record-route", "from", "to", "contact", "cseq")
PACKET_OUTGOING = 4
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)  # Linux; Python does not export it
PYVOIP_MODULES = ("SIP.client", "SIP.message", "VoIP.phone", "VoIP.call", "networking.sock", "RTP")


# --- the wire ----------------------------------------------------------------------------------

@dataclass
class Packet:
    t: float  # kernel receive time (wall clock)
    src: int
    dst: int
    text: str

    @property
    def first(self) -> str:
        return self.text.split("\r\n", 1)[0]

    def headers(self, name: str) -> list[str]:
        head = self.text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        return [v.strip() for k, _, v in (h.partition(":") for h in head) if k.strip().lower() == name]

    def header(self, name: str) -> str:
        found = self.headers(name)
        return found[0] if found else ""

    @property
    def call_id(self) -> str:
        return self.header("call-id")

    @property
    def branch(self) -> str:
        m = re.search(r";branch=([^;\s,]+)", self.header("via"))
        return m.group(1) if m else ""

    @property
    def to_tag(self) -> str:
        m = re.search(r";tag=([^;\s>]+)", self.header("to"))
        return m.group(1) if m else ""

    @property
    def uri(self) -> str:
        return self.first.split()[1]


class Sniffer:
    """Every UDP datagram on ``lo`` that looks like SIP (a raw packet socket; needs root)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.packets: list[Packet] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, name="sniffer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                frame, ancillary, _, addr = self.sock.recvmsg(65535, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            if addr[2] == PACKET_OUTGOING:  # lo shows each datagram twice
                continue
            stamp = time.time()
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
                    sec, usec = struct.unpack("qq", data[:16])
                    stamp = sec + usec / 1e6
            ip = frame[14:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            src, dst = struct.unpack("!HH", ip[ihl:ihl + 4])
            payload = ip[ihl + 8:]
            if SIP_START.match(payload):
                self.packets.append(Packet(stamp, src, dst, payload.decode("utf8", "replace")))

    def stop(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


# --- peers -------------------------------------------------------------------------------------

@dataclass
class Phone:
    """A SIPp phone (UAS) on a known port."""

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

    def errors(self) -> list[str]:
        text = "".join(p.read_text(errors="replace") for p in self.workdir.glob("*_errors.log"))
        return [ln for ln in text.splitlines() if ln.strip() and "events occurred" not in ln]


def start_phone(workdir: Path, name: str, scenario: Path, *args: str) -> Phone:
    where = workdir / name
    where.mkdir()
    for wav in MEDIA_DIR.glob("*.wav"):  # rtp_stream files are looked up in the current folder
        (where / wav.name).symlink_to(wav)
    port = free_udp_port()
    proc = subprocess.Popen(
        [require_binary("sipp"), "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
         "-mp", str(free_udp_range(8)), "-m", "1", "-nostdin", "-trace_msg", "-trace_err", *args],
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


def agent_with_record_route(workdir: Path) -> Path:
    """agent.xml whose 180 and 200 copy the Record-Route headers (the fixture's do not)."""
    text = (SIPP_DIR / "agent.xml").read_text()
    before = "[last_To:];tag=[pid]AG[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n"
    assert text.count(before) == 2, "agent.xml changed"
    path = workdir / "agent_rr.xml"
    path.write_text(text.replace(before, before + "      [last_Record-Route:]\n"))
    return path


# --- pyVoIP, stock -------------------------------------------------------------------------------

@dataclass
class Recorder:
    """pyVoIP's ``debug()`` calls, uncaught thread exceptions and warnings (observation only)."""

    lines: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, s: Any, e: Any = None) -> None:
        self.lines.append((time.time(), str(s).strip().split("\n\n", 1)[0]))

    def install(self) -> None:
        for name in PYVOIP_MODULES:
            sys.modules[f"pyVoIP.{name}"].debug = self  # type: ignore[attr-defined]

        def hook(args: threading.ExceptHookArgs) -> None:
            where = where_raised(args.exc_traceback)
            name = args.thread.name if args.thread else "?"
            self(f"UNCAUGHT in thread {name!r}: {args.exc_type.__name__}: {args.exc_value} at {where}")

        def show(message: Any, category: Any, *_: Any, **__: Any) -> None:
            self(f"WARNING {category.__name__}: {message}")

        threading.excepthook = hook
        warnings.showwarning = show


def where_raised(tb: Any) -> str:
    frames = [f for f in traceback.extract_tb(tb) if "pyVoIP" in f.filename] or traceback.extract_tb(tb)
    if not frames:
        return "?"
    f = frames[-1]
    return f"{f.filename.split('pyVoIP/')[-1]}:{f.lineno} ({f.line})"


def start_line(kamailio_port: int, line_ip: str) -> VoIPPhone:
    low = free_udp_range(20)
    phone = VoIPPhone(VoIPPhoneParameter(
        server="127.0.0.1", port=kamailio_port, user="line", credentials_manager=CredentialsManager(),
        bind_ip=line_ip, bind_port=free_udp_port(), rtp_port_low=low, rtp_port_high=low + 19))
    phone.start()
    return phone


def attempt(rep: Report, label: str, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``fn()`` on a thread (pyVoIP may block for ever); reports its result, exception or block."""
    rep.say(f">>> {label}")
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except Exception as exc:
            result["error"] = exc
            result["where"] = where_raised(exc.__traceback__)

    thread = threading.Thread(target=run, name=label, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout)
    took = time.monotonic() - started
    if thread.is_alive():
        rep.say(f"<<< still blocked after {timeout:.0f} s")
    elif "error" in result:
        exc = result["error"]
        rep.say(f"<<< raised {type(exc).__name__}: {exc} after {took:.2f} s at {result['where']}")
    else:
        value = result.get("value")
        state = f", state {value.state.name}, Call-ID {value.call_id}" if hasattr(value, "state") else ""
        rep.say(f"<<< returned after {took:.3f} s{state}")
    return result.get("value")


# --- report -----------------------------------------------------------------------------------

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

    def trace(self, title: str, call_id: str) -> list[Packet]:
        pkts = [p for p in self.sniffer.packets if p.call_id == call_id] if call_id else []
        self.say(f"--- wire, {title} (Call-ID {call_id or '-'}) ---")
        if not pkts:
            self.say("(no packet)")
            return pkts
        t0 = pkts[0].t
        shown: set[tuple[int, int, str]] = set()
        for p in pkts:
            again = (p.src, p.dst, p.first) in shown
            shown.add((p.src, p.dst, p.first))
            self.say(f"{p.t - t0:7.3f}s  {self.name(p.src):>16} -> {self.name(p.dst):<16} {p.first}"
                     + ("  (again)" if again else ""))
            for h in () if again else SHOWN:
                for v in p.headers(h):
                    self.say(f"{'':44}{h.title()}: {v}")
        with (self.out / f"wire-{title.split()[0]}.txt").open("w") as f:
            for p in pkts:
                f.write(f"=== {p.t - t0:.3f}s {self.name(p.src)} -> {self.name(p.dst)}\n{p.text}\n")
        return pkts

    def kamailio(self, kam: Kamailio, call_id: str) -> None:
        lines = [ln for ln in kam.logs().splitlines() if call_id and call_id in ln]
        self.say(f"--- kamailio log ({len(lines)} lines) ---")
        for ln in lines:
            self.say("  " + re.sub(r"^.*?: (INFO|WARNING|ERROR): <script>: ", r"\1: ", ln))

    def sipp(self, phone: Phone, since: float | None) -> None:
        self.say(f"--- SIPp {phone.name}: exit code {phone.wait(0.1)} (0 = call completed, 1 = failed) ---")
        for ln in phone.errors():
            stamp = re.search(r"\t(\d{9,}\.\d+): ", ln)
            when = f"at {float(stamp.group(1)) - since:5.1f}s: " if stamp and since is not None else ""
            self.say(f"  {when}{ln.split(': ', 1)[-1].strip()}")


def analyse(rep: Report, pkts: list[Packet], line: int, kam: int, agent: int) -> None:
    """Counts, and each request pyVoIP sent compared with its INVITE and the dialog it should use."""
    t0 = pkts[0].t if pkts else 0.0

    def sel(src: int, dst: int, start: str, method: str = "") -> list[Packet]:
        return [p for p in pkts if p.src == src and p.dst == dst and p.first.startswith(start)
                and (not method or p.header("cseq").endswith(method))]

    rep.say("--- counts (times in s) ---")
    for label, found in (
            ("agent's 200 OK (INVITE)", sel(agent, kam, "SIP/2.0 200", "INVITE")),
            ("200 OK (INVITE) to pyVoIP", sel(kam, line, "SIP/2.0 200", "INVITE")
             + sel(agent, line, "SIP/2.0 200", "INVITE")),
            ("ACK reaching the agent", sel(kam, agent, "ACK ") + sel(line, agent, "ACK ")),
            ("BYE reaching the agent", sel(kam, agent, "BYE ") + sel(line, agent, "BYE ")),
            ("CANCEL reaching the agent", sel(kam, agent, "CANCEL ")),
            ("final >= 300 to pyVoIP",
             [p for p in sel(kam, line, "SIP/2.0 ") if int(p.first.split()[1]) >= 300]),
    ):
        if found:
            rep.say(f"  {label}: {len(found)} at [{', '.join(f'{p.t - t0:.1f}' for p in found)}]")
    invite = next((p for p in pkts if p.src == line and p.first.startswith("INVITE ")), None)
    if invite is None:
        return
    ok = next((p for p in pkts if p.dst == line and p.first.startswith("SIP/2.0 200")
               and p.header("cseq").endswith("INVITE")), None)
    contact = re.sub(r"^.*<([^>]*)>.*$", r"\1", ok.header("contact")) if ok else "-"
    remote_tag = ok.to_tag if ok else next((p.to_tag for p in pkts if p.dst == line and p.to_tag), "-")
    rep.say(f"--- pyVoIP's requests (INVITE: {invite.uri}, branch {invite.branch}, "
            f"CSeq {invite.header('cseq')}; remote target {contact}, remote tag {remote_tag}) ---")
    seen: set[str] = set()
    for p in pkts:
        if p.src != line or p.first.startswith(("INVITE ", "SIP/")):
            continue
        key = f"{p.first}|{p.branch}|{p.to_tag}"
        if key in seen:
            continue
        seen.add(key)
        rep.say(f"  {p.first}  -> {rep.name(p.dst)}")
        rep.say(f"     R-URI = INVITE's: {p.uri == invite.uri}; = remote Contact: {p.uri == contact}; "
                f"branch = INVITE's: {p.branch == invite.branch}; To tag {p.to_tag or '(none)'} "
                f"(remote's: {p.to_tag == remote_tag}); Route: {p.header('route') or '(none)'}; "
                f"CSeq {p.header('cseq')}")


def deterministic(value: str, limit: int = 64) -> str:
    """Which counter value ``value`` is the SHA-256 of, as pyVoIP's gen_call_id makes them."""
    for n in range(limit):
        h = hashlib.sha256(str(n).encode()).hexdigest()
        if value.startswith(h[:25]) or value.startswith("z9hG4bK" + h[:25]):
            return f"sha256('{n}')"
    return "not a counter hash"


# --- the run -----------------------------------------------------------------------------------

def run(rep: Report, workdir: Path, line_ip: str) -> None:
    kam = Kamailio(port=free_udp_port(), workdir=workdir / "kamailio", binary=require_binary("kamailio"))
    kam.workdir.mkdir()
    kam.start()
    rep.names[kam.port] = "kamailio"
    busy_xml = workdir / "busy.xml"
    busy_xml.write_text(BUSY_XML)
    agent_rr = agent_with_record_route(workdir)
    ring = ("-set", "ring_ms", "500")
    phones = {
        "agentA": start_phone(workdir, "agentA", agent_rr, *ring, "-set", "talk_ms", "0"),
        "agentB": start_phone(workdir, "agentB", agent_rr, *ring, "-set", "talk_ms", "0"),
        "agentC": start_phone(workdir, "agentC", busy_xml),
        "agentD": start_phone(workdir, "agentD", SIPP_DIR / "agent_noanswer.xml"),
        "agentF": start_phone(workdir, "agentF", agent_rr, *ring, "-set", "talk_ms", "2000"),
    }
    for name, p in phones.items():
        rep.names[p.port] = name
        rep.say(f"{name} REGISTER: {register(kam.port, name, p.port)}")
    phone = start_line(kam.port, line_ip)
    line = phone.sip.bind_port
    rep.names[line] = "pyVoIP"
    rep.say(f"pyVoIP {line_ip}:{line} status: {phone.get_status().name}")
    cpu0, wall0 = time.process_time(), time.monotonic()
    calls: dict[str, Any] = {}
    try:
        calls["A"] = attempt(rep, "A: phone.call('agentA')", lambda: phone.call("agentA"))
        calls["B"] = attempt(rep, "B: phone.call('agentB')", lambda: phone.call("agentB"))
        deadline = time.monotonic() + 5
        while calls["B"] is not None and calls["B"].state.name != "ANSWERED" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        if (b := calls["B"]) is not None:
            attempt(rep, f"B: call.hangup() in state {b.state.name}", b.hangup)
            rep.say(f"    call B state now {b.state.name}")
        time.sleep(1)
        attempt(rep, "G: phone.call('') (kamailio: 484, no 100)", lambda: phone.call(""))
        calls["C"] = attempt(rep, "C: phone.call('agentC')", lambda: phone.call("agentC"))
        calls["D"] = attempt(rep, "D: phone.call('agentD')", lambda: phone.call("agentD"))
        time.sleep(2)
        if (d := calls["D"]) is not None:
            attempt(rep, f"D: call.hangup() in state {d.state.name} (ringing)", d.hangup)
            attempt(rep, f"D: call.cancel() in state {d.state.name}", d.cancel)
            rep.say(f"    call D state now {d.state.name}")
        calls["E"] = attempt(rep, "E: phone.call('nobody')", lambda: phone.call("nobody"))
        full = f"agentF@127.0.0.1:{phones['agentF'].port}"
        calls["F"] = attempt(rep, f"F: phone.call({full!r})", lambda: phone.call(full))
        # D without a CANCEL: kamailio's fr_inv_timer is 60 s; A: the 200 is retransmitted for 32 s
        wait_until = time.monotonic() + 100
        while time.monotonic() < wait_until and any(p.proc.poll() is None for p in phones.values()):
            time.sleep(0.5)
        time.sleep(5)  # the last retransmissions of finals to pyVoIP
        for key in "ABGCDEF":
            name = f"agent{key}"
            c = calls.get(key)
            rep.say("=" * 100)
            rep.say(f"CASE {key} ({name})")
            user = {"G": "127.0.0.1", "E": "nobody@"}.get(key, f"{name}@")
            invites = [p for p in rep.sniffer.packets
                       if p.src == line and p.first.startswith(f"INVITE sip:{user}")]
            cid = c.call_id if c is not None else (invites[-1].call_id if invites else "")
            pkts = rep.trace(f"{key}-{name}", cid)
            analyse(rep, pkts, line, kam.port, phones[name].port if name in phones else -1)
            rep.kamailio(kam, cid)
            if c is not None:
                rep.say(f"pyVoIP call state now: {c.state.name}; in phone.calls: {cid in phone.calls}")
            if name in phones:
                rep.sipp(phones[name], pkts[0].t if pkts else None)
        rep.say("=" * 100)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        rep.say(f"CPU used by this process during the calls: {cpu:.0f} s in {wall:.0f} s")
        rep.say(f"RTP ports still assigned: {len(phone.assignedPorts)}; calls known: "
                + ", ".join(f"{v.state.name}" for v in phone.calls.values()))
        rep.say(f"pyVoIP socket thread alive: {phone.sip.s.is_alive()}; threads: {threading.active_count()}")
        mine = [p for p in rep.sniffer.packets if p.src == line]
        for p in mine:
            if p.first.startswith(("INVITE ", "REGISTER ")):
                rep.say(f"  {p.first.split()[0]:8} Call-ID {p.call_id} = {deterministic(p.call_id)}; "
                        f"branch {p.branch} = {deterministic(p.branch)}")
        rep.say("pyVoIP's message buffer at the end (received, never read by anyone):")
        cur = phone.sip.s.buffer.cursor()
        for call_id, msg in cur.execute('SELECT "call_id", "msg" FROM "msgs"').fetchall():
            rep.say(f"  {call_id[:12]}…  {msg.split(chr(13), 1)[0]}")
        cur.close()
        rep.say("Datagrams to pyVoIP that its parser rejects (VoIPSocket drops them silently):")
        for p in rep.sniffer.packets:
            if p.dst == line:
                try:
                    SIPMessage(p.text.encode())
                except Exception as exc:
                    rep.say(f"  {p.first} ({p.call_id[:12]}…): {type(exc).__name__}: {str(exc)[:100]}")
    finally:
        for p in phones.values():
            p.kill()
        thread = threading.Thread(target=phone.stop, name="stop", daemon=True)
        thread.start()
        thread.join(5)
        kam.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=None, help="logs and traces (default: a temp dir)")
    parser.add_argument("--line-ip", default="127.0.0.2", help="pyVoIP's bind address (default 127.0.0.2)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="sip-evidence-v2-"))
    out.mkdir(parents=True, exist_ok=True)
    recorder = Recorder()
    recorder.install()
    sniffer = Sniffer()
    rep = Report(out, sniffer)
    t0 = time.time()
    rep.say(f"pyVoIP {pyVoIP.__version__}, output in {out}")
    try:
        run(rep, out, args.line_ip)
    finally:
        sniffer.stop()
        rep.say("=" * 100)
        rep.say("pyVoIP debug() lines about errors, uncaught thread exceptions, warnings (first of each):")
        keys = ("rror", "TODO", "Unknown", "UNCAUGHT", "WARNING", "not a 401", "Canceled", "failed",
                "FAILED", "Unable", "other than ACK", "Terminat")
        seen: set[str] = set()
        for t, text in recorder.lines:
            first = text.splitlines()[0] if text else ""
            if any(k in text for k in keys) and first[:80] not in seen:
                seen.add(first[:80])
                rep.say(f"  {t - t0:7.1f}s  {first[:200]}")
        (out / "pyvoip-debug.txt").write_text("".join(f"{t - t0:8.3f} {s}\n" for t, s in recorder.lines))
        (out / "report.txt").write_text("\n".join(rep.text) + "\n")
        print(f"\nreport: {out / 'report.txt'}", flush=True)
        os._exit(0)  # pyVoIP's threads (receivers polling for ever, register timer) would keep us


if __name__ == "__main__":
    main()
