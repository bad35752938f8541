"""What ``cti serve`` writes into a checkout (the SQLite file and its -wal/-shm, the token
secret) never shows up as a change in ``git status``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.server_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).parents[2]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, f"cti serve exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.05)


def test_a_running_server_leaves_the_checkout_clean(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        if IN_CI:
            pytest.fail("git is not installed; CI must run this test")
        pytest.skip("git is not installed")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    _git(checkout, "init", "-q")
    shutil.copy(ROOT / ".gitignore", checkout / ".gitignore")
    port = free_port()
    # The README's command as a user runs it: the defaults, from the checkout.
    process = subprocess.Popen([sys.executable, "-m", "cti.cli", "serve", "--port", str(port)],
                               cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        login = urllib.request.Request(f"http://127.0.0.1:{port}/api/login", method="POST",
                                       data=json.dumps({"agent_id": "alice", "password": "alice"}).encode(),
                                       headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=10) as resp:
            assert resp.status == 200
        written = {p.name for p in checkout.iterdir()}
        assert {"cti.db", "cti.db-wal", "cti.db-shm", "cti-token-secret"} <= written, written
        assert _git(checkout, "status", "--porcelain", "--untracked-files=all") == "?? .gitignore\n"
    finally:
        process.terminate()
        process.wait(timeout=20)
