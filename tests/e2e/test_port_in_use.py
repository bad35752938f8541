"""``cti serve`` on a port something else holds: one line saying so, and a non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server_process import FIXTURES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_taken_port_is_one_line_and_a_failure(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "cti.cli", "serve", "--port", str(port),
             "--db", f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "--config", str(FIXTURES / "config.yaml")],
            capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "serving on" not in done.stdout, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    said = [line for line in done.stderr.splitlines() if str(port) in line]
    assert said == [f"cti: cannot use 127.0.0.1:{port}: Address already in use"], done.stderr


def test_with_the_demo_configuration_too(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "cti.cli", "serve", "--port", str(port),
                               "--db", f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"],
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == f"cti: cannot use 127.0.0.1:{port}: Address already in use"
