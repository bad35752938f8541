"""Log-in under a burst of wrong passwords: does the rest of the server still answer?

Starts the real server process with 64 agents whose passwords are legacy pbkdf2 hashes
(200,000 iterations), then measures ``/healthz`` idle, ``/healthz`` while 64 wrong log-ins run
in parallel, and how long a wrong password takes for a known and for an unknown id.

    python -m bench login [--source DIR] [--legacy]

``--source`` runs the server from another checkout (to compare with an earlier version);
``--legacy`` leaves out the ``login:`` section that versions before throttling refuse.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.common import emit

AGENTS = 64


def _pbkdf2(password: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 200_000)
    return f"pbkdf2_sha256$200000${salt}${digest.hex()}"


def _config(legacy: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "token_secret": "bench-login-secret-not-for-production-32-bytes",
        "queues": [{"name": "support"}],
        "agents": [{"id": f"agent{n}", "password": _pbkdf2(f"right-{n}")} for n in range(AGENTS)],
    }
    if not legacy:
        # One client sends every attempt here: lift the per-address limits so that the figures
        # are about hashing, not about throttling (which the tests cover).
        config["login"] = {"address_failures_before_delay": 10_000, "address_failures_before_lockout": 10_000,
                           "address_attempts_in_flight": AGENTS}
    return config


def _start(source: Path, tmp: Path, legacy: bool) -> tuple[subprocess.Popen[bytes], str]:
    path = tmp / "login.yaml"
    path.write_text(yaml.safe_dump(_config(legacy)), encoding="utf-8")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cti.cli", "--log-level", "WARNING", "serve", "--port", str(port),
         "--db", f"sqlite+aiosqlite:///{tmp / 'cti.db'}", "--config", str(path)],
        cwd=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(source)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return process, url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _timed(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[float, int]:
    started = time.perf_counter()
    async with http.request(method, url, **kwargs) as r:
        await r.read()
        return time.perf_counter() - started, r.status


async def _measure(url: str) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        idle = sorted([(await _timed(http, "GET", f"{url}/healthz"))[0] for _ in range(50)])
        emit("healthz idle p50 ms", statistics.median(idle) * 1000)

        started = time.perf_counter()
        burst = [asyncio.create_task(_timed(http, "POST", f"{url}/api/login",
                                            json={"agent_id": f"agent{n}", "password": "wrong"}))
                 for n in range(AGENTS)]
        await asyncio.sleep(0.05)  # the burst is on its way (a benchmark, not a test)
        during = [(await _timed(http, "GET", f"{url}/healthz"))[0] for _ in range(5)]
        results = await asyncio.gather(*burst)
        emit("64 wrong log-ins in parallel: total s", time.perf_counter() - started)
        emit("  statuses", ", ".join(f"{s}x{sum(1 for _, x in results if x == s)}"
                                     for s in sorted({x for _, x in results})))
        emit("healthz during the burst first ms", during[0] * 1000)
        emit("healthz during the burst max ms", max(during) * 1000)

        known = [(await _timed(http, "POST", f"{url}/api/login",
                               json={"agent_id": f"agent{n}", "password": "wrong"}))[0] for n in range(20)]
        unknown = [(await _timed(http, "POST", f"{url}/api/login",
                                 json={"agent_id": f"ghost{n}", "password": "wrong"}))[0] for n in range(20)]
        emit("wrong password, known id p50 ms", statistics.median(known) * 1000)
        emit("wrong password, unknown id p50 ms", statistics.median(unknown) * 1000)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench login", description=__doc__)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--legacy", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        process, url = _start(args.source.resolve(), Path(tmp), args.legacy)
        try:
            asyncio.run(_measure(url))
        finally:
            process.terminate()
            process.wait(timeout=10)
    return 0
