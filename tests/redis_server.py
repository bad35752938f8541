"""A Redis server of a test's own: one it may stop, or one that wants a password (the shared
one must stay up and has none)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import IN_CI
from tests.server_process import free_port, stop_process


@contextlib.contextmanager
def private_redis(tmp_path: Path, *,
                  password: str | None = None) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``redis-server`` on a free loopback port, answering before this yields (port, process)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is not installed; CI must run this test")
        pytest.skip("redis-server is not installed")
    port = free_port()
    auth = ["--requirepass", password] if password is not None else []
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", *auth, "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, password=password)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        yield port, process
    finally:
        stop_process(process, timeout=10)
