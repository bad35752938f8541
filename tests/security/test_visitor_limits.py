"""Chat visitors cannot hold the node's sockets or flood the queues.

Real server process; each test speaks from its own loopback address (127.0.0.N), as separate
clients would, so the per-address caps of one test never touch another's. Most tests run with
the default limits; the last server lowers the per-node cap and trusts a proxy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from cti.settings.traffic import TrafficSettings
from tests.server_process import FIXTURES, RunningServer, run_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEFAULTS = TrafficSettings()


def config_with(tmp: Path, **traffic: Any) -> Path:
    config = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    if traffic:
        config["traffic"] = traffic
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("limits")
    with run_server(tmp, config=config_with(tmp)) as server:
        yield server


@asynccontextmanager
async def client_at(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0))) as http:
        yield http


async def until_closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = 30) -> list[dict[str, Any]]:
    """Every JSON frame up to the server's close (which must come within ``timeout``)."""
    frames: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type is aiohttp.WSMsgType.TEXT:
            frames.append(msg.json())
        else:
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
            return frames


async def hello(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    await ws.send_json({"type": "hello", "name": "Visitor"})
    while True:
        frame = await ws.receive_json(timeout=10)
        if frame["type"] == "welcome":
            return frame


async def refused_upgrade(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(url, **kwargs)
    return refused.value.status


async def test_one_address_cannot_hold_more_than_its_share_of_sockets(srv: RunningServer) -> None:
    url = f"{srv.ws_url}/ws/chat"
    cap = DEFAULTS.visitor_sockets_per_address
    async with client_at("127.0.0.11") as http, client_at("127.0.0.12") as neighbour:
        held = [await http.ws_connect(url) for _ in range(cap)]
        assert await refused_upgrade(http, url) == 429
        # A forged X-Forwarded-For does not make it someone else: no proxy is trusted.
        assert await refused_upgrade(http, url, headers={"X-Forwarded-For": "198.51.100.7"}) == 429
        async with http.get(url.replace("ws://", "http://"), headers={"Upgrade": "websocket",
                            "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as r:
            assert r.status == 429 and (await r.json())["error_id"] == "too-many-sockets"
        # Nobody else is disturbed, and a socket closed frees its place.
        other = await neighbour.ws_connect(url)
        assert (await hello(other))["visitor_id"]
        await held.pop().close()
        again = await http.ws_connect(url)
        assert (await hello(again))["visitor_id"]
        for ws in [*held, again, other]:
            await ws.close()


async def test_one_address_cannot_start_conversations_without_end(srv: RunningServer) -> None:
    url = f"{srv.ws_url}/ws/chat"
    async with client_at("127.0.0.13") as http:
        for n in range(DEFAULTS.visitor_conversations_per_minute):
            ws = await http.ws_connect(url)
            await hello(ws)
            await ws.send_json({"type": "message", "body": f"conversation {n}"})
            echoed = await ws.receive_json(timeout=10)
            assert echoed["type"] == "message", echoed
            await ws.close()
        ws = await http.ws_connect(url)
        await hello(ws)
        await ws.send_json({"type": "message", "body": "one too many"})
        frames = await until_closed(ws)
        assert [f["error_id"] for f in frames if f["type"] == "error"] == ["too-many-conversations"]
        assert ws.close_code == 1008
        assert not [f for f in frames if f["type"] == "message"]  # nothing was queued


async def test_a_visitor_cannot_flood_an_agent_with_messages(srv: RunningServer) -> None:
    url = f"{srv.ws_url}/ws/chat"
    async with client_at("127.0.0.14") as http:
        ws = await http.ws_connect(url)
        first = await hello(ws)
        sent = [f"message {n}" for n in range(DEFAULTS.visitor_messages_per_minute)]
        for body in sent:
            await ws.send_json({"type": "message", "body": body})
        await ws.send_json({"type": "message", "body": "one too many"})
        frames = await until_closed(ws)
        assert [f["error_id"] for f in frames if f["type"] == "error"] == ["too-many-messages"]
        assert ws.close_code == 1008
        # What was sent within the limit is kept; the one over it is not.
        back = await http.ws_connect(url)
        await back.send_json({"type": "hello", "visitor_id": first["visitor_id"],
                              "session_secret": first["session_secret"]})
        welcome = await back.receive_json(timeout=10)
        assert [m["body"] for m in welcome["messages"]] == sent
        await back.close()


async def test_a_socket_that_never_says_hello_is_closed(srv: RunningServer) -> None:
    async with client_at("127.0.0.15") as http:
        ws = await http.ws_connect(f"{srv.ws_url}/ws/chat")
        frames = await until_closed(ws, timeout=DEFAULTS.visitor_hello_deadline + 20)
        assert [f.get("error_id") for f in frames] == ["hello-timeout"]
        assert ws.close_code == 1008


async def test_the_node_caps_visitor_sockets_and_believes_only_trusted_proxies(tmp_path: Path) -> None:
    config = config_with(tmp_path, visitor_sockets_per_node=4, visitor_sockets_per_address=2,
                         trusted_proxies=["127.0.0.21/32"])
    with run_server(tmp_path, config=config) as server:
        url = f"{server.ws_url}/ws/chat"
        async with client_at("127.0.0.21") as proxy, client_at("127.0.0.22") as direct:
            # Through the trusted proxy, each forwarded client has its own share ...
            held = [await proxy.ws_connect(url, headers={"X-Forwarded-For": "203.0.113.5"}) for _ in range(2)]
            assert await refused_upgrade(proxy, url, headers={"X-Forwarded-For": "203.0.113.5"}) == 429
            held.append(await proxy.ws_connect(url, headers={"X-Forwarded-For": "203.0.113.6"}))
            # ... while a client that is no proxy cannot pass itself off as another one.
            held.append(await direct.ws_connect(url, headers={"X-Forwarded-For": "203.0.113.7"}))
            assert await refused_upgrade(direct, url, headers={"X-Forwarded-For": "203.0.113.8"}) == 429
            # The node is full: four sockets in all.
            assert await refused_upgrade(proxy, url, headers={"X-Forwarded-For": "203.0.113.9"}) == 429
            async with proxy.get(url.replace("ws://", "http://"), headers={
                    "X-Forwarded-For": "203.0.113.9", "Upgrade": "websocket", "Connection": "Upgrade",
                    "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as r:
                assert r.status == 429 and (await r.json())["error_id"] == "too-many-visitors"
            for ws in held:
                assert (await hello(ws))["visitor_id"]
                await ws.close()
