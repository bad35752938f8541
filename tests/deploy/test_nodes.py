"""The two nodes of docker-compose.yml, started as their image starts them (the entry point, the
configuration template, the command of the compose file) on one PostgreSQL and one Redis: both
serve, and a log-in on one is good on the other (they share ``token_secret`` from .env)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.compose import ROOT, SERVER_NODES, literal, resolve
from tests.server_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _cti_command() -> Path:
    cti = Path(sys.executable).with_name("cti")
    assert cti.is_file(), "the project is installed with its `cti` command beside this Python"
    return cti


def _local(command: list[str], *, port: int, db: str, redis: str, prefix: str) -> list[str]:
    """The compose command with this machine's addresses in place of the compose network's."""
    out = list(command)
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port)), ("--db", db), ("--redis", redis)):
        out[out.index(flag) + 1] = value
    return [*out, "--redis-prefix", prefix]  # apart from other tests sharing this Redis


def _get(url: str, *, token: str | None = None, body: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"the node exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError):
            return _get(f"{url}/healthz")
        if time.monotonic() > deadline:
            pytest.fail(f"the node did not answer within 60 s:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


@contextlib.contextmanager
def _node(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "cti" / "entrypoint.py"), *argv],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_both_nodes_serve_on_one_postgresql_and_redis_and_share_log_ins(
        tmp_path: Path, pg_schema: str, redis_url: str, unique_prefix: str) -> None:
    resolved = resolve(tmp_path)
    cti = _cti_command()
    env = {"PATH": f"{cti.parent}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path),
           "HOME": str(tmp_path)}
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        for name in SERVER_NODES:
            service = resolved.services[name]
            node_env = {**env, **{k: literal(str(v)) for k, v in service["environment"].items()},
                        # the template file as mounted in the container
                        "CTI_CONFIG_TEMPLATE": str(ROOT / "deploy" / "cti" / "center.yaml")}
            port = free_port()
            argv = _local([literal(str(a)) for a in service["command"]], port=port, db=pg_schema,
                          redis=redis_url, prefix=unique_prefix)
            log = tmp_path / f"{name}.log"
            process = stack.enter_context(_node(argv, node_env, log))
            urls[name] = f"http://127.0.0.1:{port}"
            assert _wait_healthy(urls[name], process, log) == {"status": "ok", "node": name}
        first, second = (urls[name] for name in SERVER_NODES)
        # filled_env() hashed "pw-<variable name>" for each person
        login = _get(f"{first}/api/login", body={"agent_id": "alice",
                                                 "password": "pw-cti_alice_password_hash"})
        me = _get(f"{second}/api/me", token=login["token"])
        assert me["id"] == "alice"
