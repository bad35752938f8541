"""A client that falls behind but reads again: what it missed is made good, never silently lost.

The socket's queue is small here (8 frames) and the send deadline long, so frames are dropped
while the client is not reading, yet the socket is not closed for being slow. An agent then gets
``lagged`` (its desktop reloads); a visitor's socket is closed with 1013 (try again later) and
the reconnect's welcome carries the whole transcript.
"""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.e2e.conftest import login, only_available, visitor
from tests.security.rawws import RawWebSocket
from tests.server_process import FIXTURES, RunningServer, run_server
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BIG = "y" * 60_000
COUNT = 100  # 6 MB: more than the kernel's and aiohttp's buffers hold, then the queue's 8 frames


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("lag")
    config: dict[str, Any] = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    config["max_message_chars"] = 100_000
    config["chat"]["reconnect_grace"] = 120
    config["traffic"] = {"socket_queue_size": 8, "socket_send_deadline": 120,
                         "visitor_messages_per_minute": 1000}
    path = Path(tmp / "config.yaml")
    path.write_text(yaml.safe_dump(config))
    with run_server(tmp, config=path) as server:
        yield server


async def frames_until(ws: RawWebSocket, stop: str) -> tuple[list[dict[str, Any]], int | None]:
    """Read (now at full speed) until a frame of type ``stop`` or the server's close."""
    seen: list[dict[str, Any]] = []
    while True:
        opcode, payload = await ws.receive()
        if opcode == 8:
            return seen, struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        if opcode == 1:
            seen.append(json.loads(payload))
            if seen[-1].get("type") == stop:
                return seen, None


async def test_an_agent_who_fell_behind_is_told_to_reload(srv: RunningServer) -> None:
    async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
        carol = await login(http, srv, "carol")
        await only_available(http, srv, "carol")
        slow = await RawWebSocket.connect(f"{srv.ws_url}/ws/agent?token={carol.token}")
        stack.callback(slow.close)
        assert (await slow.receive_json())["type"] == "hello"
        await slow.send_json({"type": "set_state", "state": "available"})
        chat, _ = await visitor(http, srv, name="Wordy")
        await chat.send({"type": "message", "body": "hello"})
        offer = await slow.receive_json()
        while offer.get("type") != "interaction.offered":
            offer = await slow.receive_json()
        await slow.send_json({"type": "accept", "interaction_id": offer["interaction_id"]})
        # The agent's desktop now reads nothing while the customer writes a lot.
        for n in range(COUNT):
            await chat.send({"type": "message", "body": f"{n:03d} {BIG}"})
            await chat.expect(lambda m, n=n: m.get("type") == "message" and m["body"].startswith(f"{n:03d} "))
        seen, closed = await frames_until(slow, "lagged")
        assert closed is None, "the socket was closed instead of told it lagged"
        assert seen[-1] == {"type": "lagged", "message": "events were dropped; reload state"}
        await chat.close()


async def test_a_visitor_who_fell_behind_reconnects_and_misses_nothing(srv: RunningServer) -> None:
    async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
        bob = await login(http, srv, "bob")
        desk = await bob.socket()
        await only_available(http, srv, "bob")
        assert (await desk.command({"type": "set_state", "state": "available"}))["type"] == "ack"
        slow = await RawWebSocket.connect(f"{srv.ws_url}/ws/chat")
        stack.callback(slow.close)
        await slow.send_json({"type": "hello", "name": "Behind"})
        welcome = await slow.receive_json()
        await slow.send_json({"type": "message", "body": "hi"})
        offer = await desk.expect("interaction.offered")
        interaction_id = offer["interaction_id"]
        assert (await desk.command({"type": "accept", "interaction_id": interaction_id}))["type"] == "ack"
        for n in range(COUNT):
            ack = await desk.command({"type": "reply", "interaction_id": interaction_id,
                                      "body": f"{n:03d} {BIG}"})
            assert ack["type"] == "ack", ack
        _, closed = await frames_until(slow, "never")
        assert closed == 1013  # try again later
        back = JsonSocket(await http.ws_connect(f"{srv.ws_url}/ws/chat", max_msg_size=0))
        await back.send({"type": "hello", "visitor_id": welcome["visitor_id"],
                        "session_secret": welcome["session_secret"]})
        again = await back.expect("welcome")
        assert [m["body"] for m in again["messages"]] == ["hi", *(f"{n:03d} {BIG}" for n in range(COUNT))]
        await back.close()
        await desk.close()
