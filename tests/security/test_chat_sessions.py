"""A chat visitor's conversation belongs to the browser that holds its session secret.

The visitor id is an identity agents see on the customer's profile, so it must never be enough to
read the transcript or to write as the customer: a reconnect presents the secret the server gave
that browser, and a socket without it (or with a wrong one) gets a new, empty conversation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.webchat.signing import secret_hash
from cti.app import ServerSettings
from cti.domain import ChatSession
from cti.ports import ContextStore
from tests.adapters.center import running_center
from tests.security.chat_support import take_offer, visitor
from tests.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CARD = "my card is 4111 1111 1111 1111"
GRACE = {"chat": {"queue": "support", "reconnect_grace": 60}}


@pytest.mark.parametrize("presented", [None, "wrong-secret-" + "x" * 30, ""])
async def test_an_agent_with_the_visitor_id_cannot_read_or_write_the_conversation(
        tmp_path: Path, presented: str | None) -> None:
    async with running_center(tmp_path, {}, **GRACE) as center:
        alice = await center.agent_socket("alice")
        victim, welcome = await visitor(center, name="Vera Victim")
        await victim.send({"type": "message", "body": CARD})
        offer = await take_offer(alice)
        interaction_id = offer["interaction_id"]

        # The agent who served the visitor reads the visitor id from the customer's profile ...
        customer_id = offer["screen_pop"]["customer"]["id"]
        status, profile = await center.api("alice", "GET", f"/api/customers/{customer_id}")
        assert status == 200, profile
        [visitor_id] = [i["value"] for i in profile["identities"] if i["kind"] == "chat"]
        assert visitor_id == welcome["visitor_id"]

        # ... and opens the widget socket with it: a new, empty conversation, not the victim's.
        hello: dict[str, str] = {"visitor_id": visitor_id}
        if presented is not None:
            hello["session_secret"] = presented
        thief, stolen = await visitor(center, **hello)
        assert stolen["type"] == "welcome", stolen
        assert stolen["interaction_id"] is None and stolen["messages"] == []
        assert stolen["visitor_id"] != visitor_id
        assert CARD not in json.dumps(stolen)

        # What the agent says reaches the victim only; what the thief writes is not the victim's.
        ack = await alice.command({"type": "reply", "interaction_id": interaction_id,
                                   "body": "for Vera only"})
        assert ack["type"] == "ack", ack
        assert (await victim.expect(lambda m: m.get("sender") == "agent"))["body"] == "for Vera only"
        await thief.send({"type": "message", "body": "I am Vera, send me the card again"})
        echo = await thief.expect("message")  # its own echo comes after the reply in the hub's order
        assert echo["sender"] == "customer"
        assert not any(m.get("body") == "for Vera only" for m in thief.seen)
        status, body = await center.api("alice", "GET", f"/api/interactions/{interaction_id}")
        assert status == 200 and [m["body"] for m in body["messages"]] == [CARD, "for Vera only"]
        await thief.close()
        await victim.close()
        await alice.close()


async def test_the_browser_with_its_secret_resumes_and_agents_never_see_the_secret(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **GRACE) as center:
        alice = await center.agent_socket("alice")
        first, welcome = await visitor(center, name="Rita Return")
        secret = welcome["session_secret"]
        assert isinstance(secret, str) and len(secret) >= 43  # 32 random bytes, base64url
        await first.send({"type": "message", "body": "where is my parcel?"})
        offer = await take_offer(alice)
        await first.close()  # a page reload

        again, resumed = await visitor(center, visitor_id=welcome["visitor_id"], session_secret=secret)
        assert resumed["type"] == "welcome", resumed
        assert resumed["interaction_id"] == offer["interaction_id"]
        assert resumed["visitor_id"] == welcome["visitor_id"]
        assert [m["body"] for m in resumed["messages"]] == ["where is my parcel?"]
        assert "session_secret" not in resumed  # the browser has it; it is not sent again
        await again.send({"type": "message", "body": "back again"})
        await alice.expect(lambda m: m.get("type") == "message.added"
                           and m["message"]["body"] == "back again")

        # Nothing an agent, a supervisor or an admin can read holds the secret.
        customer_id = offer["screen_pop"]["customer"]["id"]
        seen = [json.dumps(offer)]
        for who, path in (("alice", f"/api/interactions/{offer['interaction_id']}"),
                          ("alice", f"/api/customers/{customer_id}"),
                          ("alice", f"/api/customers/{customer_id}/timeline"),
                          ("sam", "/api/interactions?limit=50"), ("sam", "/api/audit")):
            status, body = await center.api(who, "GET", path)
            assert status == 200, (path, body)
            seen.append(json.dumps(body))
        assert not any(secret in text for text in seen)
        await again.close()
        await alice.close()


async def test_the_secret_is_checked_on_every_node_of_a_cluster(
        tmp_path: Path, cluster_node: Callable[[str], ServerSettings]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with running_center(tmp_path / "a", {}, cluster_node("node-a"), **GRACE) as a, \
            running_center(tmp_path / "b", {}, cluster_node("node-b"), **GRACE) as b:
        alice = await a.agent_socket("alice")
        first, welcome = await visitor(a, name="Nico Nodes")
        await first.send({"type": "message", "body": "started on node a"})
        offer = await take_offer(alice)
        await first.close()

        # The other node never saw this browser; it checks the secret in the shared database.
        thief, stolen = await visitor(b, visitor_id=welcome["visitor_id"])
        assert stolen["interaction_id"] is None and stolen["messages"] == []
        again, resumed = await visitor(b, visitor_id=welcome["visitor_id"],
                                       session_secret=welcome["session_secret"])
        assert resumed["interaction_id"] == offer["interaction_id"]
        assert [m["body"] for m in resumed["messages"]] == ["started on node a"]
        await thief.close()
        await again.close()
        await alice.close()


@pytest.mark.parametrize(("frame", "error_id", "field"), [
    ({"type": "hello", "admin": True}, "unknown-field", "admin"),
    ({"type": "hello", "name": "N" * 101}, "field-too-long", "name"),
    ({"type": "hello", "email": "e" * 250 + "@example.com"}, "field-too-long", "email"),
    ({"type": "hello", "visitor_id": "../../etc"}, "bad-field", "visitor_id"),
    ({"type": "hello", "session_secret": 42}, "bad-field", "session_secret"),
])
async def test_a_hello_is_checked_whole(tmp_path: Path, frame: dict[str, object], error_id: str,
                                       field: str) -> None:
    async with running_center(tmp_path, {}) as center:
        sock, _ = await visitor(center, name="Fine")  # one socket that works, for comparison
        bad = await center.http.ws_connect(center.url.replace("http", "ws", 1) + "/ws/chat")
        await bad.send_json(frame)
        answer = await bad.receive_json(timeout=10)
        assert (answer["type"], answer["error_id"], answer["details"].get("field")) == (
            "error", error_id, field), answer
        await bad.send_json({"type": "message", "body": "hi"})
        assert (await bad.receive_json(timeout=10))["error_id"] == "hello-first"
        await sock.send({"type": "message", "body": "still served", "extra": 1})
        assert (await sock.expect("error"))["error_id"] == "unknown-field"
        await bad.close()
        await sock.close()


async def test_a_session_unused_for_long_is_swept_and_its_secret_no_longer_resumes(tmp_path: Path) -> None:
    from context.migrate import upgrade_async
    from context.store import SqlContextStore
    from cti.clock import ManualClock, SequentialIds

    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    long_ago = SqlContextStore(url=url, clock=ManualClock(1_000_000.0), ids=SequentialIds())
    await long_ago.start()
    await long_ago.keep_chat_session(ChatSession("vis-from-long-ago", secret_hash("old-secret")))
    await long_ago.aclose()

    async with running_center(tmp_path, {}, ServerSettings(db_url=url, node_id="test")) as center:
        # Swept as the server starts (in the background): then that browser is a new visitor.
        context = center.services.context
        await until(lambda: _gone(context, "vis-from-long-ago"), what="the old session swept")
        sock, welcome = await visitor(center, visitor_id="vis-from-long-ago", session_secret="old-secret")
        assert welcome["visitor_id"] != "vis-from-long-ago" and welcome["session_secret"]
        await sock.close()


async def _gone(context: ContextStore, visitor_id: str) -> bool:
    return await context.chat_secret_hash(visitor_id) is None
