"""Half-sent requests cannot exhaust the server, and running out of descriptors is logged sparingly.

The real server process, with a lowered descriptor limit (RLIMIT_NOFILE) so that the flood
needed is small; the clients are plain sockets that send part of a request and then nothing.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.server_process import FIXTURES, RunningServer, run_server
from tests.waiting import until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Never-Finished: "
TCP_CLOSED_STATES = {7, 8, 9}  # TCP_CLOSE, TCP_CLOSE_WAIT, TCP_LAST_ACK


def config_with(tmp: Path, **traffic: Any) -> Path:
    config = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    config["traffic"] = traffic
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def half_sent(url: str, count: int) -> list[socket.socket]:
    """``count`` connections that each send part of a request; those the server never accepts
    (its backlog full) are given up after a while, as an attacker's would be."""
    host, port = url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()

    async def one() -> socket.socket | None:
        sock = socket.socket()
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, int(port))), 3)
            await loop.sock_sendall(sock, HALF_REQUEST)
        except (OSError, TimeoutError):
            sock.close()
            return None
        return sock

    opened: list[socket.socket] = []
    for start in range(0, count, 100):
        batch = await asyncio.gather(*(one() for _ in range(start, min(count, start + 100))))
        opened += [s for s in batch if s is not None]
    return opened


def dropped(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] in TCP_CLOSED_STATES


async def healthz(srv: RunningServer) -> bool:
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"{srv.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


@asynccontextmanager
async def flood(srv: RunningServer, count: int) -> AsyncIterator[list[socket.socket]]:
    socks = await half_sent(srv.url, count)
    try:
        yield socks
    finally:
        for s in socks:
            s.close()


async def test_a_thousand_half_sent_requests_do_not_take_the_server_down(tmp_path: Path) -> None:
    config = config_with(tmp_path, http_keepalive_timeout=2, http_max_connections=300)
    with run_server(tmp_path, config=config, fd_limit=512) as srv:
        async with flood(srv, 1000) as socks:
            print(f"half-sent connections the server let us open: {len(socks)}")
            # Past the header time-out the server has dropped every half-sent request ...
            await until(lambda: all(dropped(s) for s in socks), timeout=30,
                        what="the server to drop the half-sent requests")
            # ... and answers everyone else.
            assert await until(lambda: healthz(srv), timeout=30, what="/healthz to answer")


async def test_running_out_of_descriptors_is_logged_at_most_once_a_second(tmp_path: Path) -> None:
    # A cap above the descriptor limit (the server warns about it): descriptors do run out.
    config = config_with(tmp_path, http_keepalive_timeout=60, http_max_connections=10_000)
    with run_server(tmp_path, config=config, fd_limit=128) as srv:
        assert "descriptor limit 128" in srv.log()

        def lines() -> int:
            return srv.log().count("out of system resource")

        started = time.monotonic()
        async with flood(srv, 400):
            await until(lambda: lines() >= 3, timeout=30, what="the server to run out of descriptors")
            elapsed = time.monotonic() - started
            logged = lines()
        print(f"accept() failures logged: {logged} in {elapsed:.1f} s")
        # One line a second at most (the first one may come at once).
        assert logged <= elapsed + 1
        # Once the flood is gone the server serves again.
        assert await until(lambda: healthz(srv), timeout=30, what="/healthz to answer")
