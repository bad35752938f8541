"""What the configuration and the ``cti`` command allow around log-in: plain passwords, the demo,
new hashes, and the token secret kept across restarts (the real server process)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import argon2
import pytest
import yaml

from cti.config import ConfigError, parse_config
from tests.security.edge import config_with
from tests.server_process import FIXTURES, free_port, run_server

pytestmark = [pytest.mark.e2e]


def test_plain_text_passwords_are_refused_outside_the_demo() -> None:
    raw = config_with([{"id": "ann", "password": "pbkdf2-looks-like-nothing"},
                       {"id": "bo", "password": "hunter2"}])
    with pytest.raises(ConfigError, match=r"agent 'ann'.*plain-text password"):
        parse_config(raw)
    assert parse_config({**raw, "demo": True}).agents["bo"].id == "bo"


def test_malformed_hashes_are_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="agent 'ann'"):
        parse_config(config_with([{"id": "ann", "password": "pbkdf2_sha256$x$salt"}]))
    with pytest.raises(ConfigError, match="agent 'ann'"):
        parse_config(config_with([{"id": "ann", "password": "$argon2id$v=19$broken"}]))


def test_hash_password_prints_argon2id() -> None:
    done = subprocess.run([sys.executable, "-m", "cti.cli", "hash-password"], input="correct horse\n",
                          capture_output=True, text=True, timeout=30, start_new_session=True)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip().splitlines()[-1]
    assert printed.startswith("$argon2id$")
    assert argon2.PasswordHasher().verify(printed, "correct horse")
    assert "correct horse" not in done.stdout + done.stderr


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cti.cli", "serve", "--port", str(port),
             "--db", f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", *args],
            stdout=out, stderr=subprocess.STDOUT)
    return process, port, log


def _outcome(process: subprocess.Popen[bytes], port: int) -> str:
    """'exited' or 'serving', whichever happens first (within a generous deadline)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return "exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return "serving"
        except OSError:
            time.sleep(0.05)
    return "neither"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("config", [None, "demo-copy"])
def test_the_demo_refuses_a_public_address_unless_allowed(tmp_path: Path, config: str | None) -> None:
    args = ["--host", "0.0.0.0"]
    if config is not None:
        copy = tmp_path / "demo.yaml"
        copy.write_text((FIXTURES / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        args += ["--config", str(copy)]
    process, port, log = _serve(tmp_path, *args)
    try:
        assert _outcome(process, port) == "exited", log.read_text()
    finally:
        _stop(process)
    assert process.returncode == 2
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert len(lines) == 1 and "--allow-demo" in lines[0] and "0.0.0.0" in lines[0], lines

    process, port, log = _serve(tmp_path, *args, "--allow-demo")
    try:
        assert _outcome(process, port) == "serving", log.read_text()
    finally:
        _stop(process)


def test_the_demo_serves_on_loopback(tmp_path: Path) -> None:
    process, port, log = _serve(tmp_path, "--host", "127.0.0.1")
    try:
        assert _outcome(process, port) == "serving", log.read_text()
    finally:
        _stop(process)


async def test_a_restart_without_redis_keeps_agents_logged_in(tmp_path: Path) -> None:
    raw = yaml.safe_load((FIXTURES / "config.yaml").read_text(encoding="utf-8"))
    del raw["token_secret"]
    config = tmp_path / "no-secret.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    async with aiohttp.ClientSession() as http:
        with run_server(tmp_path, config=config) as srv:
            async with http.post(f"{srv.url}/api/login",
                                 json={"agent_id": "alice", "password": "alice"}) as r:
                assert r.status == 200
                token = (await r.json())["token"]
        with run_server(tmp_path, config=config) as srv:
            async with http.get(f"{srv.url}/api/me", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200, await r.text()
    kept = tmp_path / "cti-token-secret"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
