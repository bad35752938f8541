"""The desk's lists: whom a chat may go to, my recent closed work, an offer's deadline after a
reload, and a customer's history grouped by conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desk.support import desk_center
from tests.security.chat_support import take_offer, visitor
from tests.waiting import until
from tests.wsclient import JsonSocket

pytestmark = pytest.mark.integration


async def test_the_picker_lists_my_teams_agents_and_each_queues_wait(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        bob = await center.agent_socket("bob")
        olga = await center.agent_socket("olga", available=False)  # she would take the waiting chat
        waiting, _ = await visitor(center, name="Wendy")
        ack = await bob.command({"type": "set_state", "state": "away", "reason": "lunch"})
        assert ack["type"] == "ack"
        vera, _ = await visitor(center, name="Vera")
        await vera.send({"type": "message", "body": "hi"})
        offer = await take_offer(alice)
        iid = offer["interaction_id"]
        ack = await alice.command({"type": "set_state", "state": "away", "reason": "coaching"})
        await waiting.send({"type": "message", "body": "anyone?"})  # nobody in support is free
        path = f"/api/transfer-targets?interaction_id={iid}"

        async def one_waiting() -> dict[str, Any] | None:
            status, body = await center.api("alice", "GET", path)
            assert status == 200, body
            support = next(q for q in body["queues"] if q["name"] == "support")
            return body if support["waiting"] == 1 else None

        body = await until(one_waiting, what="Wendy waiting in support")
        agents = {a["id"]: a for a in body["agents"]}
        # Alice's own team only (Olga is in sales), never herself.
        assert set(agents) == {"bob", "sam"}
        assert agents["bob"]["state"] == "away" and agents["bob"]["can_take"] is False
        assert agents["bob"]["why"] == "not-available:away" and agents["bob"]["name"] == "Bob Chen"
        [support] = [q for q in body["queues"] if q["name"] == "support"]
        assert support["waiting"] == 1 and support["longest_wait"] >= 0
        # Someone else's conversation: the picker does not tell who could take it.
        status, refused = await center.api("olga", "GET", f"/api/transfer-targets?interaction_id={iid}")
        assert (status, refused["error_id"]) == (403, "not-your-interaction")
        for sock in (alice, bob, olga, vera, waiting):
            await sock.close()


async def test_an_available_agent_with_room_can_take_it(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        vera, _ = await visitor(center, name="Vera")
        await vera.send({"type": "message", "body": "hi"})
        offer = await take_offer(alice)
        bob = await center.agent_socket("bob")
        status, body = await center.api("alice", "GET",
                                        f"/api/transfer-targets?interaction_id={offer['interaction_id']}")
        bob_row = next(a for a in body["agents"] if a["id"] == "bob")
        assert (bob_row["state"], bob_row["can_take"], bob_row["why"]) == ("available", True, None)
        status, body = await center.api("sam", "GET", "/api/transfer-targets")
        assert status == 200 and {a["id"] for a in body["agents"]} == {"alice", "bob"}
        for sock in (alice, bob, vera):
            await sock.close()


async def test_recent_closed_work_is_mine_newest_first(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        ids = []
        for name in ("First Fiona", "Second Sven"):
            v, _ = await visitor(center, name=name)
            await v.send({"type": "message", "body": "hi"})
            offer = await take_offer(alice)
            ids.append(offer["interaction_id"])
            done = await alice.command({"type": "complete", "interaction_id": offer["interaction_id"],
                                        "disposition": "resolved"})
            assert done["type"] == "ack", done
            await v.close()
        status, body = await center.api("alice", "GET", "/api/me/recent")
        assert status == 200, body
        assert [r["id"] for r in body["interactions"]] == ids[::-1]
        first = body["interactions"][0]
        assert first["customer_name"] == "Second Sven" and first["disposition"] == "resolved"
        assert first["channel"] == "chat" and first["state"] == "closed"
        status, body = await center.api("bob", "GET", "/api/me/recent")
        assert status == 200 and body["interactions"] == []
        await alice.close()


async def test_a_reloaded_desk_gets_the_offer_deadline(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        vera, _ = await visitor(center, name="Vera")
        await vera.send({"type": "message", "body": "hi"})
        offer = await alice.expect("interaction.offered")
        await alice.close()
        token = await center.token("alice")
        again = JsonSocket(await center.http.ws_connect(
            center.url.replace("http", "ws", 1) + f"/ws/agent?token={token}"))
        hello = await again.expect("hello")
        assert hello["offers"] == [{"interaction_id": offer["interaction_id"],
                                    "expires_at": offer["expires_at"]}]
        assert hello["at"] <= offer["expires_at"]
        await again.close()
        await vera.close()


async def test_a_customers_history_comes_grouped_by_conversation(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        first, _ = await visitor(center, name="Gina")
        await first.send({"type": "message", "body": "one"})
        offer = await take_offer(alice)
        await first.send({"type": "message", "body": "two"})
        await alice.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "two")
        await alice.command({"type": "complete", "interaction_id": offer["interaction_id"],
                             "disposition": "callback"})
        await first.send({"type": "message", "body": "three"})  # a new conversation, same visitor
        second = await take_offer(alice)
        customer_id = offer["screen_pop"]["customer"]["id"]
        status, body = await center.api("alice", "GET", f"/api/customers/{customer_id}/conversations?limit=3")
        assert status == 200, body
        [newest, *rest] = body["conversations"]
        assert newest["interaction_id"] == second["interaction_id"] and newest["state"] == "active"
        assert [e["summary"] for e in newest["entries"] if e["kind"] == "message"] == ["three"]
        # A page of 3 entries ends inside the first conversation; the next page goes on with it.
        assert body["next_cursor"]
        status, older = await center.api(
            "alice", "GET", f"/api/customers/{customer_id}/conversations?before={body['next_cursor']}")
        convs = [*rest, *older["conversations"]]
        closed = [c for c in convs if c["interaction_id"] == offer["interaction_id"]]
        assert closed and all(c["disposition"] == "callback" and c["channel"] == "chat" for c in closed)
        assert closed[0]["outcome"] == "closed"
        # Scoped as the customer is: Olga never served Gina.
        status, refused = await center.api("olga", "GET", f"/api/customers/{customer_id}/conversations")
        assert (status, refused["error_id"]) == (404, "customer-not-found")
        await first.close()
        await alice.close()
