"""``./scripts/serve``, the README's first command: the checkout's .venv, then ``cti serve``."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.server_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).parents[2]


def test_serve_runs_the_server_from_the_checkouts_venv_without_installing_again(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "cti").exists():
        # scripts/test made and filled it; a first install here would download the world.
        if IN_CI:
            pytest.fail("no .venv: CI runs the tests through ./scripts/test, which makes it")
        pytest.skip("no .venv: run through ./scripts/test")
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "serve"), "--port", str(port),
         "--db", f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "scripts/serve did not answer"
                time.sleep(0.05)
    finally:
        process.terminate()
        said = process.communicate(timeout=20)[0]
    assert f"cti: serving on http://127.0.0.1:{port}" in said, said
    assert "installing" not in said, said
