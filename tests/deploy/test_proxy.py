"""The proxy of docker-compose.yml, live: Debian's nginx with deploy/proxy/nginx.conf and the
certificate its image makes on a first start, in front of the two nodes started as their image
starts them. TLS, the redirect from plain HTTP, WebSockets both ways, and a request head that
never ends cut off."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.deploy.compose import SERVER_NODES, resolve
from tests.deploy.nodes import compose_nodes
from tests.deploy.proxy import need, proxy_copy
from tests.server_process import free_port, stop_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.integration]


@dataclass(frozen=True)
class Proxy:
    plain: int
    tls: int
    context: ssl.SSLContext  # trusts the self-signed certificate, checks the name


@contextlib.contextmanager
def _nginx(conf: Path, log: Path, plain: int, tls: int) -> Iterator[None]:
    nginx = need("nginx", "nginx-light")
    with log.open("wb") as out:
        process = subprocess.Popen([nginx, "-e", "stderr", "-c", str(conf), "-g", "daemon off;"],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"nginx exited with {process.returncode}:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", tls), timeout=1):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"nginx did not listen within 30 s:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield
    finally:
        stop_process(process, timeout=20, how=signal.SIGQUIT)  # nginx's graceful stop


@pytest.fixture
def proxy(tmp_path: Path, pg_schema: str, redis_url: str, unique_prefix: str) -> Iterator[Proxy]:
    with compose_nodes(resolve(tmp_path), SERVER_NODES, tmp_path=tmp_path, db=pg_schema, redis=redis_url,
                       prefix=unique_prefix) as urls:
        plain, tls = free_port(), free_port()
        upstreams = tuple(urls[name].removeprefix("http://") for name in SERVER_NODES)
        assert len(upstreams) == 2
        conf = proxy_copy(tmp_path, upstreams=(upstreams[0], upstreams[1]), plain=plain, tls_port=tls,
                          public_name="127.0.0.1")
        context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))
        with _nginx(conf, tmp_path / "nginx.log", plain, tls):
            yield Proxy(plain=plain, tls=tls, context=context)


def _get(proxy: Proxy, path: str, *, tls: bool = True) -> tuple[int, str | None, bytes]:
    """Status, Location and body of a GET through the proxy (redirects not followed)."""
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection("127.0.0.1", proxy.tls, context=proxy.context, timeout=10) if tls
        else http.client.HTTPConnection("127.0.0.1", proxy.plain, timeout=10))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        conn.close()


async def _visitor_says_something_first(proxy: Proxy) -> dict[str, object]:
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"wss://127.0.0.1:{proxy.tls}/ws/chat", ssl=proxy.context) as ws:
        sock = ws.get_extra_info("socket")
        await ws.send_str(json.dumps({"type": "message", "body": "hi"}))
        reply = await ws.receive_json(timeout=10)
    # aiohttp aborts a TLS connection when it closes, and the socket is let go on a later turn of
    # the loop: wait for that, or the loop ends with it open (a ResourceWarning in a later test).
    deadline = time.monotonic() + 10
    while sock.fileno() != -1:
        assert time.monotonic() < deadline, "the client's socket was never closed"
        await asyncio.sleep(0.01)
    assert isinstance(reply, dict)
    return reply


def test_the_proxy_serves_the_nodes_over_tls_websockets_included(proxy: Proxy) -> None:
    status, _, body = _get(proxy, "/healthz")
    assert status == 200 and json.loads(body)["node"] in SERVER_NODES
    status, location, _ = _get(proxy, "/agent?x=1", tls=False)
    assert (status, location) == (301, "https://127.0.0.1/agent?x=1")
    # A visitor's socket through the proxy: upgraded, and the node's answer comes back.
    reply = asyncio.run(_visitor_says_something_first(proxy))
    assert reply["type"] == "error" and reply["error_id"] == "hello-first", reply


def test_a_request_head_that_never_ends_is_cut_off(proxy: Proxy) -> None:
    raw = socket.create_connection(("127.0.0.1", proxy.tls), timeout=60)
    with proxy.context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        started = time.monotonic()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while conn.recv(4096):
                pass
        waited = time.monotonic() - started
    # client_header_timeout is 10 s; well before the 60 s this socket would wait on its own.
    assert waited < 45, waited
