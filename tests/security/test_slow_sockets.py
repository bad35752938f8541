"""A client that stops reading must stall nobody but itself.

Real server process, real sockets: the slow client is a plain TCP socket with a tiny receive
window that stops reading after its welcome, as a phone in a tunnel does. Everyone else must
still get their messages, the slow socket is closed by the server, and a visitor who comes back
sees every message that was sent meanwhile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.e2e.conftest import login, only_available, visitor
from tests.security.rawws import RawWebSocket
from tests.server_process import FIXTURES, RunningServer, run_server
from tests.waiting import until
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Large replies fill the slow socket's buffers (the kernel's, up to 4 MiB here, then aiohttp's) quickly.
REPLY = "x" * 100_000
REPLIES = 60


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("slow")
    config = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    config["max_message_chars"] = 120_000
    config["chat"]["reconnect_grace"] = 120  # the slow visitor's conversation waits for it
    config["traffic"] = {"visitor_messages_per_minute": 1000}  # the supervisor test's visitor writes a lot
    path = Path(tmp / "config.yaml")
    path.write_text(yaml.safe_dump(config))
    with run_server(tmp, config=path) as server:
        yield server


async def test_a_visitor_who_stops_reading_stalls_no_other_visitor_and_loses_nothing(
        srv: RunningServer) -> None:
    async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
        alice = await login(http, srv, "alice")
        desk = await alice.socket()
        await only_available(http, srv, "alice")
        assert (await desk.command({"type": "set_state", "state": "available"}))["type"] == "ack"

        slow = await RawWebSocket.connect(f"{srv.ws_url}/ws/chat")
        stack.callback(slow.close)
        await slow.send_json({"type": "hello", "name": "Slow"})
        welcome = await slow.receive_json()
        assert welcome["type"] == "welcome"
        await slow.send_json({"type": "message", "body": "I am on a train"})
        slow_offer = await desk.expect("interaction.offered")
        slow_id = slow_offer["interaction_id"]
        assert (await desk.command({"type": "accept", "interaction_id": slow_id}))["type"] == "ack"

        quick, _ = await visitor(http, srv, name="Quick")
        await quick.send({"type": "message", "body": "Hello?"})
        quick_offer = await desk.expect("interaction.offered")
        quick_id = quick_offer["interaction_id"]
        assert (await desk.command({"type": "accept", "interaction_id": quick_id}))["type"] == "ack"

        # The slow visitor now reads nothing while its agent writes a lot.
        for n in range(REPLIES):
            ack = await desk.command({"type": "reply", "interaction_id": slow_id, "body": f"{n:03d} {REPLY}"})
            assert ack["type"] == "ack", ack

        # Another visitor still gets the agent's replies, at once.
        status, body = await alice.call("POST", f"/api/interactions/{quick_id}/reply",
                                        {"body": "Hi Quick, how can I help?"})
        assert status == 201, body
        got = await quick.expect(lambda m: m.get("type") == "message" and m.get("sender") == "agent",
                                 timeout=15)
        assert got["body"] == "Hi Quick, how can I help?"

        # The server gives up on the slow socket instead of waiting on it forever ...
        await until(slow.dropped_by_server, timeout=60, what="the server to close the slow socket")

        # ... and the visitor, back on a working connection, sees everything it missed.
        back = JsonSocket(await http.ws_connect(f"{srv.ws_url}/ws/chat", max_msg_size=0))
        await back.send({"type": "hello", "visitor_id": welcome["visitor_id"],
                        "session_secret": welcome["session_secret"]})
        again = await back.expect("welcome")
        assert again["interaction_id"] == slow_id
        bodies = [m["body"] for m in again["messages"]]
        assert bodies == ["I am on a train", *(f"{n:03d} {REPLY}" for n in range(REPLIES))]
        await back.send({"type": "message", "body": "back again"})
        await desk.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "back again")
        await back.close()
        await quick.close()
        await desk.close()


async def test_a_supervisor_who_stops_reading_is_closed_and_agents_go_on(srv: RunningServer) -> None:
    async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
        sam = await login(http, srv, "sam")
        slow = await RawWebSocket.connect(f"{srv.ws_url}/ws/supervisor?token={sam.token}")
        stack.callback(slow.close)
        hello = await slow.receive_json()
        assert hello["type"] == "hello"

        bob = await login(http, srv, "bob")
        desk = await bob.socket()
        await only_available(http, srv, "bob")
        assert (await desk.command({"type": "set_state", "state": "available"}))["type"] == "ack"
        # Every queue event reaches the supervisor's socket: large waiting messages fill it.
        chat, _ = await visitor(http, srv, name="Wordy")
        for n in range(2 * REPLIES):
            body = f"{n:03d} {REPLY[:60_000]}"
            await chat.send({"type": "message", "body": body})
            if n == 0:  # the first message comes in the offer's screen pop
                offer = await desk.expect("interaction.offered")
                assert (await desk.command({"type": "accept",
                                            "interaction_id": offer["interaction_id"]}))["type"] == "ack"
            else:  # the agent and the visitor read as they go (an unread aiohttp client is slow too)
                await desk.expect(lambda m, body=body: m.get("type") == "message.added"
                                  and m["message"]["body"] == body, timeout=30)
            await chat.expect(lambda m, body=body: m.get("type") == "message" and m["body"] == body)
        await until(slow.dropped_by_server, timeout=60, what="the server to close the slow supervisor")
        # The agent's own socket still works.
        ack = await desk.command({"type": "set_state", "state": "away", "reason": "break"})
        assert ack["type"] == "ack"
        await chat.close()
        await desk.close()
