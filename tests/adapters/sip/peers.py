"""Real SIP peers for the SIP line tests: kamailio (registrar/proxy), SIPp (callers, phones).

Each peer is started by the test on free loopback ports. A missing binary skips the test, and
fails it with ``CI=true`` (there every peer must run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import IN_CI

HERE = Path(__file__).resolve().parent
KAMAILIO_CFG = HERE / "kamailio.cfg"
SIPP_DIR = HERE.parent.parent / "fixtures" / "ami" / "sipp"
MEDIA_DIR = SIPP_DIR / "media"


def require_binary(name: str) -> str:
    found = shutil.which(name) or next((str(p) for d in ("/usr/sbin", "/usr/bin")
                                        if (p := Path(d) / name).exists()), None)
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{name} is not installed; CI must run this test")
    pytest.skip(f"{name} not installed")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_range(count: int) -> int:
    """The first of ``count`` consecutive free UDP ports (even, as RTP wants)."""
    for _ in range(200):
        base = free_udp_port() & ~1
        if base + count > 65535:
            continue
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


def sip_request(port: int, method: str, uri: str, *, timeout: float = 1.0) -> str | None:
    """Send one request to 127.0.0.1:``port`` from a throwaway socket; the status line or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        local = s.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        msg = (f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch={branch};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
               f"To: <{uri}>\r\nCall-ID: {uuid.uuid4().hex}@127.0.0.1\r\nCSeq: 1 {method}\r\n"
               f"Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            line = data.split(b"\r\n", 1)[0].decode()
            if not line.startswith("SIP/2.0 1"):
                return line
        return None


@dataclass
class Kamailio:
    port: int
    workdir: Path
    binary: str
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    config: Path = KAMAILIO_CFG

    @property
    def log(self) -> Path:
        return self.workdir / f"kamailio-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        rundir = self.workdir / "run"
        rundir.mkdir(exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = self._spawn(rundir, out)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited: {self.log.read_text()[-2000:]}")
            if sip_request(self.port, "OPTIONS", f"sip:127.0.0.1:{self.port}", timeout=0.3):
                return
        raise RuntimeError("kamailio did not answer")

    def _spawn(self, rundir: Path, out: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.binary, "-f", str(self.config), "-DD", "-E", "-n", "1", "-l", f"udp:127.0.0.1:{self.port}",
             "-Y", str(rundir), "-w", str(self.workdir), "-m", "32", "-M", "4"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def dialogs(self) -> dict[str, int]:
        """kamailio's dialog table by state: ``{"starting", "connecting", "answering", "ongoing",
        "all"}`` counts of dialogs not yet ended (``dlg.stats_active`` through the ctl socket)."""
        ctl = f"unix:{self.workdir / 'run' / 'kamailio_ctl'}"
        out = subprocess.run([require_binary("kamcmd"), "-s", ctl, "dlg.stats_active"],
                             capture_output=True, text=True, timeout=5, check=True).stdout
        counts: dict[str, int] = {}
        for line in out.splitlines():
            name, _, value = line.strip().partition(":")
            if value.strip().isdigit():
                counts[name.strip()] = int(value)
        return counts

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("kamailio-*.log")))


@contextlib.contextmanager
def running_kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    binary = require_binary("kamailio")
    workdir = tmp_path / "kamailio"
    workdir.mkdir()
    kam = Kamailio(port=free_udp_port(), workdir=workdir, binary=binary)
    kam.start()
    try:
        yield kam
    finally:
        kam.stop()


@dataclass
class Sipp:
    proc: asyncio.subprocess.Process
    workdir: Path
    name: str

    async def wait(self, timeout: float) -> int:
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def messages(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("*_messages.log"))

    def rtp_stats(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("*rtp*"))


async def start_sipp(tmp_path: Path, name: str, scenario: str, target: str, *args: str) -> Sipp:
    binary = require_binary("sipp")
    workdir = tmp_path / name
    workdir.mkdir()
    for wav in MEDIA_DIR.glob("*.wav"):  # rtp_stream files are looked up in the current folder
        (workdir / wav.name).symlink_to(wav)
    proc = await asyncio.create_subprocess_exec(
        binary, "-sf", str(SIPP_DIR / scenario), "-i", "127.0.0.1", "-p", str(free_udp_port()),
        "-mp", str(free_udp_range(8)), "-nostdin", "-trace_msg", "-trace_err", *args, target,
        cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True)
    return Sipp(proc=proc, workdir=workdir, name=name)
