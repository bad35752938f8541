"""Server nodes started as docker-compose.yml's image starts them: the entry point, the
configuration template, the compose file's command, with this machine's addresses."""

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

from tests.deploy.compose import ROOT, Resolved, literal
from tests.server_process import free_port, stop_process


def cti_command() -> Path:
    cti = Path(sys.executable).with_name("cti")
    assert cti.is_file(), "the project is installed with its `cti` command beside this Python"
    return cti


def local_command(command: list[str], *, port: int, db: str, redis: str, prefix: str) -> list[str]:
    """The compose command with this machine's addresses in place of the compose network's."""
    out = list(command)
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port)), ("--db", db), ("--redis", redis)):
        out[out.index(flag) + 1] = value
    return [*out, "--redis-prefix", prefix]  # apart from other tests sharing this Redis


def request(url: str, *, token: str | None = None, body: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"the node exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError):
            return request(f"{url}/healthz")
        if time.monotonic() > deadline:
            pytest.fail(f"the node did not answer within 60 s:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


@contextlib.contextmanager
def node_process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "cti" / "entrypoint.py"), *argv],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop_process(process, timeout=20)


@contextlib.contextmanager
def compose_nodes(resolved: Resolved, names: tuple[str, ...], *, tmp_path: Path, db: str, redis: str,
                  prefix: str) -> Iterator[dict[str, str]]:
    """The named server services of the compose file, running; yields their URLs by name."""
    cti = cti_command()
    env = {"PATH": f"{cti.parent}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path),
           "HOME": str(tmp_path)}
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        for name in names:
            service = resolved.services[name]
            node_env = {**env, **{k: literal(str(v)) for k, v in service["environment"].items()},
                        # the template file, where the container has it mounted
                        "CTI_CONFIG_TEMPLATE": str(ROOT / "deploy" / "cti" / "center.yaml")}
            port = free_port()
            argv = local_command([literal(str(a)) for a in service["command"]], port=port, db=db,
                                 redis=redis, prefix=prefix)
            log = tmp_path / f"{name}.log"
            process = stack.enter_context(node_process(argv, node_env, log))
            urls[name] = f"http://127.0.0.1:{port}"
            health = wait_healthy(urls[name], process, log)
            assert health == {"status": "ok", "node": name}, health
        yield urls
