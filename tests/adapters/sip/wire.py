"""What the two wire-evidence scripts share (``evidence.py``, pyVoIP 1.6.8; ``evidence_v2.py``, 2.0.0a4).

Not a test and not run on its own: the raw-socket SIP sniffer (``Sniffer``, needs root; packet times
are the kernel's receive stamps) and the ``Packet`` it records, SIPp phones (``start_phone``,
``Phone``) registered to kamailio by a plain REGISTER (``register``), kamailio itself
(``start_kamailio``), the phone scenarios written at run time (``BUSY_XML``,
``agent_with_record_route``), a call made on a thread that may block for ever (``in_thread``), the
recorder that stands in for pyVoIP's ``debug()`` (``Recorder``), and the report (``Report``:
traces, kamailio's log lines, SIPp's exit code and error log, ``report.txt``).

This module must not import pyVoIP: the two scripts run with different pyVoIP versions (1.6.8 in
the project's environment, 2.0.0a4 in a separate virtualenv) and both import it.
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
import threading
import time
import uuid
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

SIP_START = re.compile(rb"^(SIP/2\.0 \d{3}|[A-Z]+ \S+ SIP/2\.0)")
SHOWN = ("via", "route", "record-route", "from", "to", "contact", "cseq")
PACKET_OUTGOING = 4
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)  # Linux; Python does not export it


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

    @property
    def status(self) -> int:
        """A response's status code; 0 for a request."""
        return int(self.first.split()[1]) if self.first.startswith("SIP/2.0 ") else 0


def select(pkts: list[Packet], src: int, dst: int, start: str, method: str = "") -> list[Packet]:
    """The packets from port ``src`` to ``dst`` whose first line starts with ``start`` (and whose
    CSeq is for ``method``, if given)."""
    return [p for p in pkts if p.src == src and p.dst == dst and p.first.startswith(start)
            and (not method or p.header("cseq").endswith(method))]


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
    """A SIPp instance on a known port: a phone (UAS, registered by ``register``) or a caller."""

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


def start_kamailio(workdir: Path, name: str, cls: type[Kamailio] = Kamailio) -> Kamailio:
    """kamailio (``cls``) on a free port, its files in ``workdir / name``."""
    where = workdir / name
    where.mkdir()
    kam = cls(port=free_udp_port(), workdir=where, binary=require_binary("kamailio"))
    kam.start()
    return kam


# --- pyVoIP, observed ----------------------------------------------------------------------------

@dataclass
class Recorder:
    """Stands in for pyVoIP's ``debug(s, e)``: (wall time, the message's first paragraph)."""

    lines: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, s: Any, e: Any = None) -> None:
        self.lines.append((time.time(), str(s).strip().split("\n\n", 1)[0]))


@dataclass
class Outcome:
    """What ``in_thread`` saw: still running (``blocked``), or the value returned or the exception."""

    blocked: bool
    took: float
    value: Any = None
    error: Exception | None = None


def in_thread(fn: Callable[[], Any], name: str, timeout: float) -> Outcome:
    """``fn()`` on a daemon thread, waited for ``timeout`` s (pyVoIP may block for ever)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout)
    took = time.monotonic() - started
    if thread.is_alive():
        return Outcome(True, took)
    return Outcome(False, took, result.get("value"), result.get("error"))


# --- report ------------------------------------------------------------------------------------

class Report:
    """What is printed, kept for ``report.txt``; traces go to ``wire-<title>.txt`` in ``out``.

    ``collapse_repeats``: a packet whose ports and first line were already shown is marked
    ``(again)`` without its headers. ``sipp_codes``: the legend after SIPp's exit code.
    """

    def __init__(self, out: Path, sniffer: Sniffer, *, collapse_repeats: bool = False,
                 sipp_codes: str = "0 = call completed, 1 = call failed") -> None:
        self.out = out
        self.sniffer = sniffer
        self.collapse_repeats = collapse_repeats
        self.sipp_codes = sipp_codes
        self.names: dict[int, str] = {}
        self.text: list[str] = []

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.text.append(line)

    def rule(self) -> None:
        self.say("=" * 100)

    def name(self, port: int) -> str:
        return f"{self.names.get(port, '?')}:{port}"

    def last_invite(self, user: str, src: int | None = None) -> str:
        """The Call-ID of the last INVITE seen for ``user`` (from port ``src``), or ""."""
        found = [p for p in self.sniffer.packets
                 if p.first.startswith(f"INVITE sip:{user}") and (src is None or p.src == src)]
        return found[-1].call_id if found else ""

    def trace(self, title: str, call_id: str) -> list[Packet]:
        pkts = [p for p in self.sniffer.packets if p.call_id == call_id] if call_id else []
        self.say(f"--- wire, {title} (Call-ID {call_id or '-'}) ---")
        if not pkts:
            self.say("(no packet)")
            return pkts
        t0 = pkts[0].t
        shown: set[tuple[int, int, str]] = set()
        for p in pkts:
            again = self.collapse_repeats and (p.src, p.dst, p.first) in shown
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

    def sipp(self, phone: Phone, since: float | None = None) -> None:
        """SIPp's exit code and error log; ``since``: the wall time its times are counted from."""
        self.say(f"--- SIPp {phone.name}: exit code {phone.wait(0.1)} ({self.sipp_codes}) ---")
        for ln in phone.errors():
            stamp = re.search(r"\t(\d{9,}\.\d+): ", ln)
            when = f"at {float(stamp.group(1)) - since:5.1f}s: " if stamp and since is not None else ""
            self.say(f"  {when}{ln.split(': ', 1)[-1].strip()}")

    def save(self) -> None:
        (self.out / "report.txt").write_text("\n".join(self.text) + "\n")
        print(f"\nreport: {self.out / 'report.txt'}", flush=True)


# --- the run -----------------------------------------------------------------------------------

def arguments(doc: str | None) -> argparse.ArgumentParser:
    """The command line both scripts take (``--out``); its description: the docstring's first line."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=None, help="logs and traces (default: a temp dir)")
    return parser


def out_dir(out: Path | None, prefix: str) -> Path:
    """``out``, or a new temp dir named ``prefix…``; created."""
    path = out or Path(tempfile.mkdtemp(prefix=prefix))
    path.mkdir(parents=True, exist_ok=True)
    return path
