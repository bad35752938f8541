"""Fixtures of the end-to-end tests: one real server process per module, HTTP helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.server_process import RunningServer, run_server
from tests.wsclient import JsonSocket


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(tmp_path_factory.mktemp("srv")) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Calls the REST API as one agent."""

    def __init__(self, http: aiohttp.ClientSession, srv: RunningServer, token: str) -> None:
        self.http, self.srv, self.token = http, srv, token

    async def call(self, method: str, path: str, body: Any = None, *,
                   raw: bytes | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        kwargs: dict[str, Any] = {"headers": headers}
        if raw is not None:
            kwargs["data"] = raw
            headers["Content-Type"] = "application/json"
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, f"{self.srv.url}{path}", **kwargs) as r:
            return r.status, (await r.json() if r.content_type == "application/json" else await r.text())

    async def socket(self, path: str = "/ws/agent") -> JsonSocket:
        sock = JsonSocket(await self.http.ws_connect(f"{self.srv.ws_url}{path}?token={self.token}"))
        await sock.expect("hello")
        return sock


async def login(http: aiohttp.ClientSession, srv: RunningServer, agent: str) -> Api:
    async with http.post(f"{srv.url}/api/login", json={"agent_id": agent, "password": agent}) as r:
        assert r.status == 200, await r.text()
        return Api(http, srv, (await r.json())["token"])


async def only_available(http: aiohttp.ClientSession, srv: RunningServer, *agent_ids: str) -> None:
    """Everyone else offline (set by the admin), so the router has a known choice."""
    admin = await login(http, srv, "admin")
    for other in ("alice", "bob", "carol", "sam"):
        status, body = await admin.call("PUT", f"/api/agents/{other}/state",
                                        {"state": "available" if other in agent_ids else "offline"})
        assert status == 200, body


async def visitor(http: aiohttp.ClientSession, srv: RunningServer,
                  **hello: Any) -> tuple[JsonSocket, dict[str, Any]]:
    sock = JsonSocket(await http.ws_connect(f"{srv.ws_url}/ws/chat"))
    await sock.send({"type": "hello", **hello})
    return sock, await sock.expect("welcome")
