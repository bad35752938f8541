"""Start the real server as a separate process on a free port, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).with_name("fixtures")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _limit_fds(limit: int) -> None:
    """In the server's process before it starts: at most ``limit`` open descriptors."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


@dataclass(frozen=True)
class RunningServer:
    url: str
    ws_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_server(tmp_path: Path, *, db_url: str | None = None, redis_url: str | None = None,
               config: Path | None = None, redis_prefix: str | None = None,
               extra_env: dict[str, str] | None = None,
               startup_timeout: float = 30.0, fd_limit: int | None = None,
               workers: int = 1, extra_args: tuple[str, ...] = ()) -> Iterator[RunningServer]:
    port = free_port()
    db = db_url or f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    args = [sys.executable, "-m", "cti.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--db", db, "--config", str(config or FIXTURES / "config.yaml")]
    if redis_url:
        args += ["--redis", redis_url]
    if redis_prefix:
        args += ["--redis-prefix", redis_prefix]
    if workers != 1:
        args += ["--workers", str(workers)]
    args += extra_args
    log_path = tmp_path / f"server-{port}.log"
    env = {**os.environ, **(extra_env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=None if fd_limit is None else lambda: _limit_fds(fd_limit))
    server = RunningServer(url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}",
                           process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in {startup_timeout}s:\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        stop_process(process, timeout=10)


def stop_process(process: subprocess.Popen[Any], *, timeout: float,
                 how: signal.Signals = signal.SIGTERM) -> None:
    """Ask ``process`` to stop (``how``), and kill it if it has not within ``timeout`` seconds."""
    process.send_signal(how)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def run_server_async(tmp_path: Path, **options: Any) -> AsyncIterator[RunningServer]:
    """``run_server`` from a coroutine: its start-up wait and its stop block, so they run in a
    thread and a peer on this event loop (a fake Asterisk, an SMTP sink) keeps serving meanwhile."""
    manager = run_server(tmp_path, **options)
    server = await asyncio.to_thread(manager.__enter__)
    try:
        yield server
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
