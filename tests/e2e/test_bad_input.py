"""Bad input gets a clear 4xx or WebSocket error, the server stays up, nothing else is touched."""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.conftest import login, only_available, visitor
from tests.server_process import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_bad_requests_are_refused_and_other_work_goes_on(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    alice = await login(http, srv, "alice")
    bob = await login(http, srv, "bob")
    await only_available(http, srv, "alice")
    alice_ws = await alice.socket()

    # Someone else's live conversation, which nothing below may disturb.
    chat, _ = await visitor(http, srv, name="Bystander")
    await chat.send({"type": "message", "body": "I am waiting"})
    offer = await alice_ws.expect("interaction.offered")
    victim = offer["interaction_id"]

    # Malformed JSON, wrong shapes, missing fields.
    status, body = await alice.call("POST", f"/api/interactions/{victim}/reply", raw=b"{not json")
    assert (status, body["error_id"]) == (400, "malformed-json")
    status, body = await alice.call("POST", f"/api/interactions/{victim}/reply", raw=b"[1,2]")
    assert (status, body["error_id"]) == (400, "malformed-json")
    status, body = await alice.call("PUT", "/api/agents/alice/state", {"state": 7})
    assert (status, body["error_id"]) == (400, "bad-field")
    status, body = await alice.call("PUT", "/api/agents/alice/state", {"state": "napping"})
    assert (status, body["error_id"]) == (400, "bad-state")

    # Unknown ids.
    status, body = await alice.call("POST", "/api/interactions/int-nope/accept")
    assert (status, body["error_id"]) == (404, "interaction-not-found")
    status, body = await alice.call("GET", "/api/customers/cus-nope")
    assert (status, body["error_id"]) == (404, "customer-not-found")
    status, body = await alice.call("PUT", "/api/agents/ghost/state", {"state": "available"})
    assert (status, body["error_id"]) == (404, "agent-not-found")

    # A token of the wrong role, a forged one, none at all.
    status, body = await alice.call("GET", "/api/audit")
    assert (status, body["error_id"]) == (403, "wrong-role")
    status, body = await alice.call("GET", f"/api/routing/explain/{victim}")
    assert (status, body["error_id"]) == (403, "wrong-role")
    status, body = await alice.call("PUT", "/api/agents/bob/state", {"state": "away"})
    assert (status, body["error_id"]) == (403, "not-your-team")
    async with http.get(f"{srv.url}/api/me", headers={"Authorization": "Bearer forged.token.here"}) as r:
        assert r.status == 401 and (await r.json())["error_id"] == "bad-token"
    async with http.get(f"{srv.url}/ws/supervisor?token={alice.token}") as r:
        assert r.status == 403
    async with http.post(f"{srv.url}/api/login", json={"agent_id": "alice", "password": "nope"}) as r:
        assert r.status == 401 and (await r.json())["error_id"] == "bad-credentials"

    # An agent accepting (or rejecting, or replying to) an offer made to someone else.
    status, body = await bob.call("POST", f"/api/interactions/{victim}/accept")
    assert (status, body["error_id"]) == (409, "offer-not-yours")
    status, body = await bob.call("POST", f"/api/interactions/{victim}/reject")
    assert (status, body["error_id"]) == (409, "offer-not-yours")
    status, body = await bob.call("GET", f"/api/interactions/{victim}")
    assert (status, body["error_id"]) == (403, "not-your-interaction")

    # Over-long messages, over REST, over the agent socket and from the visitor.
    accepted = await alice_ws.command({"type": "accept", "interaction_id": victim})
    assert accepted["type"] == "ack"
    status, body = await alice.call("POST", f"/api/interactions/{victim}/reply", {"body": "x" * 4001})
    assert (status, body["error_id"]) == (400, "message-too-long")
    err = await alice_ws.command({"type": "reply", "interaction_id": victim, "body": "y" * 5000})
    assert err["error_id"] == "message-too-long"
    await chat.send({"type": "message", "body": "z" * 4001})
    assert (await chat.expect("error"))["error_id"] == "message-too-long"
    async with http.post(f"{srv.url}/api/login", data=b"x" * 200_000,
                         headers={"Content-Type": "application/json"}) as r:
        assert r.status in (400, 413)

    # Garbage on the sockets.
    await alice_ws.ws.send_str("{{{")
    assert (await alice_ws.expect("error"))["error_id"] == "malformed-json"
    err = await alice_ws.command({"type": "fly"})
    assert err["error_id"] == "unknown-command"
    err = await alice_ws.command({"type": ["accept"], "interaction_id": victim})
    assert err["error_id"] == "unknown-command"
    await chat.send({"type": "hello", "name": "Impostor"})
    assert (await chat.expect("error"))["error_id"] == "already-started"
    await chat.ws.send_str("not json")
    assert (await chat.expect("error"))["error_id"] == "malformed-json"
    other, _ = await visitor(http, srv)
    await other.ws.send_str('"just a string"')
    assert (await other.expect("error"))["error_id"] == "malformed-json"
    await other.close()

    # The bystander's conversation is untouched and still works both ways.
    status, body = await alice.call("GET", f"/api/interactions/{victim}")
    assert status == 200 and body["state"] == "active" and body["agent_id"] == "alice"
    assert [m["body"] for m in body["messages"]] == ["I am waiting"]
    await chat.send({"type": "message", "body": "still here"})
    await alice_ws.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "still here")
    reply = await alice_ws.command({"type": "reply", "interaction_id": victim, "body": "me too"})
    assert reply["type"] == "ack"
    assert (await chat.expect(lambda m: m.get("sender") == "agent"))["body"] == "me too"
    async with http.get(f"{srv.url}/healthz") as r:
        assert r.status == 200
    await chat.close()
    await alice_ws.close()
