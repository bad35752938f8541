"""The ``http:`` section: where ``cti serve`` listens unless told ``--host``/``--port``, and
where ``cti routing explain --config`` asks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from cti.cli import main
from cti.config import ConfigError, load_config
from tests.server_process import FIXTURES


def _config(tmp_path: Path, http: dict[str, Any] | None) -> Path:
    data = yaml.safe_load((FIXTURES / "config.yaml").read_text(encoding="utf-8"))
    if http is not None:
        data["http"] = http
    path = tmp_path / "center.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class _FakeCenter(BaseHTTPRequestHandler):
    """Just the two calls ``cti routing explain`` makes."""

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer({"token": "t"})

    def do_GET(self) -> None:
        self._answer({"interaction_id": self.path.rsplit("/", 1)[-1], "urgency": 1.0, "rank": 1,
                      "chosen": None, "candidates": []})

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def _fake_center() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeCenter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_defaults_are_loopback_8080(tmp_path: Path) -> None:
    http = load_config(_config(tmp_path, None)).http
    assert (http.host, http.port) == ("127.0.0.1", 8080)


def test_an_unknown_key_or_a_bad_port_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"http\.prot"):
        load_config(_config(tmp_path, {"prot": 9000}))
    with pytest.raises(ConfigError, match=r"http\.port"):
        load_config(_config(tmp_path, {"port": 70000}))


def test_routing_explain_asks_the_port_of_the_configuration_it_is_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _fake_center() as port:
        config = _config(tmp_path, {"host": "0.0.0.0", "port": port})  # listening everywhere: ask loopback
        assert main(["routing", "explain", "int-1", "--config", str(config), "--password", "sam"]) == 0
    assert "interaction int-1: urgency 1.00, rank 1" in capsys.readouterr().out


def test_routing_explain_url_wins_over_the_configuration(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _fake_center() as port:
        config = _config(tmp_path, {"port": 1})
        assert main(["routing", "explain", "int-2", "--config", str(config), "--password", "sam",
                     "--url", f"http://127.0.0.1:{port}"]) == 0
    assert "interaction int-2" in capsys.readouterr().out


@pytest.mark.e2e
def test_serve_listens_on_the_configured_port(tmp_path: Path) -> None:
    with socket.socket() as holder:  # held: the server says which port it tried, and stops
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "cti.cli", "serve", "--config", str(_config(tmp_path, {"port": port})),
             "--db", f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"],
            capture_output=True, text=True, timeout=60, check=False)
    assert done.stderr.strip().splitlines()[-1] == f"cti: cannot use 127.0.0.1:{port}: Address already in use"
