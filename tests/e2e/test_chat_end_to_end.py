"""The real server process, a chat visitor and an agent over WebSockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.clock import SystemClock, UuidIds
from cti.domain import (
    Channel,
    Direction,
    Identity,
    IdentityKind,
    Interaction,
    InteractionState,
    Message,
    MessageSender,
)
from tests.e2e.conftest import login as api_login
from tests.e2e.conftest import only_available, visitor
from tests.server_process import RunningServer, run_server
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def seed_email_history(db_url: str) -> str:
    """A customer who e-mailed last week: the history a chat visitor should bring up."""
    await upgrade_async(db_url)
    store = SqlContextStore(url=db_url, clock=SystemClock(), ids=UuidIds())
    await store.start()
    try:
        customer = await store.resolve_customer([Identity(IdentityKind.EMAIL, "ann.lee@example.com")],
                                                display_name="Ann Lee", actor="test", reason="seed")
        now = SystemClock().now()
        interaction = Interaction(
            id="int-email-1", channel=Channel.EMAIL, direction=Direction.INBOUND, customer_id=customer.id,
            queue="support", state=InteractionState.CLOSED, arrived_at=now - 7 * 86400,
            ended_at=now - 7 * 86400 + 3600, disposition="resolved", subject="Invoice 1042")
        await store.save_interaction(interaction)
        await store.add_message(Message(id="msg-email-1", interaction_id=interaction.id,
                                        sender=MessageSender.CUSTOMER, body="Invoice 1042 charged twice",
                                        at=now - 7 * 86400))
        return customer.id
    finally:
        await store.aclose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    tmp = tmp_path_factory.mktemp("e2e")
    db_url = f"sqlite+aiosqlite:///{tmp / 'cti.db'}"
    customer_id = asyncio.run(seed_email_history(db_url))
    with run_server(tmp, db_url=db_url) as srv:
        yield srv, customer_id


async def login(http: aiohttp.ClientSession, srv: RunningServer, agent: str) -> str:
    return (await api_login(http, srv, agent)).token


async def agent_socket(http: aiohttp.ClientSession, srv: RunningServer, token: str) -> JsonSocket:
    sock = JsonSocket(await http.ws_connect(f"{srv.ws_url}/ws/agent?token={token}"))
    await sock.expect("hello")
    return sock


async def test_chat_from_offer_to_completion(server: tuple[RunningServer, str],
                                             http: aiohttp.ClientSession) -> None:
    srv, ann_id = server
    token = await login(http, srv, "alice")
    auth = {"Authorization": f"Bearer {token}"}
    agent = await agent_socket(http, srv, token)
    await only_available(http, srv, "alice")
    ack = await agent.command({"type": "set_state", "state": "available"})
    assert ack["type"] == "ack" and ack["result"]["state"] == "available"

    chat, welcome = await visitor(http, srv, name="Ann Lee", email="Ann.Lee@Example.com",
                                  page="https://shop.example.com/orders/42")
    assert welcome["interaction_id"] is None and welcome["visitor_id"]
    await chat.send({"type": "message", "body": "My order 42 has not arrived"})
    assert (await chat.expect("message"))["sender"] == "customer"

    offer = await agent.expect("interaction.offered")
    pop = offer["screen_pop"]
    interaction_id = offer["interaction_id"]
    assert offer["agent_id"] == "alice" and offer["reason"]["rule"]
    # The typed e-mail is only a claim (issue 9): shown as one, with none of Ann's history.
    assert pop["customer"]["id"] != ann_id
    assert [(c["kind"], c["value"], c["text"]) for c in pop["claims"]] == [
        ("email", "ann.lee@example.com", "claims to be Ann Lee (e-mail) — not verified")]
    assert not any(e["channel"] == "email" for e in pop["timeline"])
    assert pop["channels_seen"] == ["chat"]
    assert pop["context"]["chat.page"] == "https://shop.example.com/orders/42"
    assert [m["body"] for m in pop["messages"]] == ["My order 42 has not arrived"]

    accepted = await agent.command({"type": "accept", "interaction_id": interaction_id})
    assert accepted["type"] == "ack" and accepted["result"]["state"] == "active"
    assert (await chat.expect("status")) == {"type": "status", "state": "queued"}
    joined = await chat.expect("status")
    assert joined == {"type": "status", "state": "agent_joined", "agent_name": "Alice Martin"}

    # Alice checks with the visitor and links the claim by hand: now the pop is Ann's, with the
    # e-mail from last week.
    claim_id = pop["claims"][0]["id"]
    async with http.post(f"{srv.url}/api/interactions/{interaction_id}/claims/{claim_id}/link", headers=auth,
                         json={"reason": "she named the double charge"}) as r:
        assert r.status == 200 and (await r.json())["customer"]["id"] == ann_id
    async with http.get(f"{srv.url}/api/interactions/{interaction_id}/screen-pop", headers=auth) as r:
        pop = await r.json()
    kinds = {(i["kind"], i["value"]) for i in pop["customer"]["identities"]}
    assert ("email", "ann.lee@example.com") in kinds and ("chat", welcome["visitor_id"]) in kinds
    assert any(e["channel"] == "email" and "charged twice" in e["summary"] for e in pop["timeline"])
    assert pop["channels_seen"] == ["chat", "email"]

    async with http.post(f"{srv.url}/api/interactions/{interaction_id}/reply", headers=auth,
                         json={"body": "Sorry Ann, let me check order 42."}) as r:
        assert r.status == 201
    got = await chat.expect("message")
    assert got["sender"] == "agent" and got["body"] == "Sorry Ann, let me check order 42."
    assert got["agent_name"] == "Alice Martin"

    await chat.send({"type": "message", "body": "Thanks!"})
    added = await agent.expect(lambda m: m.get("type") == "message.added"
                               and m["message"]["body"] == "Thanks!")
    assert added["interaction_id"] == interaction_id and added["message"]["sender"] == "customer"

    done = await agent.command({"type": "complete", "interaction_id": interaction_id,
                                "disposition": "resolved", "note": "Reshipped order 42"})
    assert done["type"] == "ack" and done["result"]["state"] == "closed"
    assert (await chat.expect("status"))["state"] == "closed"

    async with http.get(f"{srv.url}/api/interactions/{interaction_id}", headers=auth) as r:
        body = await r.json()
    assert body["disposition"] == "resolved" and body["state"] == "closed"
    assert [m["sender"] for m in body["messages"]] == ["customer", "agent", "customer"]
    assert [n["body"] for n in body["notes"]] == ["Reshipped order 42"]

    async with http.get(f"{srv.url}/api/customers/{ann_id}/timeline", headers=auth) as r:
        entries = (await r.json())["entries"]
    assert entries[0]["interaction_id"] == interaction_id  # newest first
    assert {e["channel"] for e in entries} == {"chat", "email"}
    await chat.close()
    await agent.close()


async def test_returning_visitor_continues_and_leaving_is_marked(
        server: tuple[RunningServer, str], http: aiohttp.ClientSession) -> None:
    srv, _ = server
    token = await login(http, srv, "bob")
    agent = await agent_socket(http, srv, token)
    await only_available(http, srv, "bob")

    chat, welcome = await visitor(http, srv, name="Raj")
    await chat.send({"type": "message", "body": "Hello, anyone there?"})
    offer = await agent.expect("interaction.offered")
    interaction_id = offer["interaction_id"]
    await agent.command({"type": "accept", "interaction_id": interaction_id})
    await chat.close()

    # Back within the reconnect grace (1 s in the test config) with the browser's session secret:
    # the same conversation goes on.
    again, welcome2 = await visitor(http, srv, visitor_id=welcome["visitor_id"],
                                    session_secret=welcome["session_secret"])
    assert welcome2["interaction_id"] == interaction_id
    assert [m["body"] for m in welcome2["messages"]] == ["Hello, anyone there?"]
    # The visitor sees what was said, never internal ids or channel references.
    assert set(welcome2["messages"][0]) == {"type", "id", "sender", "body", "at"}
    await again.send({"type": "message", "body": "I am back"})
    await agent.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "I am back")

    await again.send({"type": "leave"})
    wrap = await agent.expect("interaction.wrap_up")
    assert wrap == {**wrap, "interaction_id": interaction_id, "why": "customer-left"}
    reply = await agent.command({"type": "reply", "interaction_id": interaction_id, "body": "still there?"})
    assert reply["type"] == "error" and reply["error_id"] == "customer-left"
    done = await agent.command({"type": "complete", "interaction_id": interaction_id,
                                "disposition": "no-response"})
    assert done["result"]["state"] == "closed" and done["result"]["customer_left"] is True
    await agent.close()
