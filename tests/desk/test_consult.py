"""Warm (consult) transfer of a chat: the agent talks privately with the next agent, who sees the
transcript, before handing the customer over; the customer sees nothing until the hand-over."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.desk.support import desk_center
from tests.security.chat_support import take_offer, visitor

pytestmark = pytest.mark.integration


async def test_a_consult_is_private_until_the_hand_over(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        vera, _ = await visitor(center, name="Vera Warm")
        await vera.send({"type": "message", "body": "my card was charged twice"})
        offer = await take_offer(alice)
        iid = offer["interaction_id"]
        await vera.expect(lambda m: m.get("state") == "agent_joined")
        bob = await center.agent_socket("bob")

        started = await alice.command({"type": "consult_start", "interaction_id": iid, "agent_id": "bob",
                                       "body": "Billing question, can you take it?"})
        assert started["type"] == "ack", started
        consult_id = started["result"]["id"]
        # Bob sees who asks, about whom, the transcript so far and the question.
        seen = await bob.expect("consult.started")
        assert seen["consult_id"] == consult_id and seen["from_agent"] == "alice"
        assert seen["customer_name"] == "Vera Warm"
        assert [m["body"] for m in seen["transcript"]] == ["my card was charged twice"]
        assert seen["body"] == "Billing question, can you take it?"

        answer = await bob.command({"type": "consult_say", "consult_id": consult_id, "body": "Yes, send her"})
        assert answer["type"] == "ack", answer
        heard = await alice.expect("consult.message")
        assert (heard["from_agent"], heard["body"]) == ("bob", "Yes, send her")

        # Olga is not part of it.
        olga = await center.agent_socket("olga")
        refused = await olga.command({"type": "consult_say", "consult_id": consult_id, "body": "me too"})
        assert (refused["type"], refused["error_id"]) == ("error", "not-your-consult"), refused

        # Nothing of it reached the customer, and nothing is in the conversation.
        await alice.command({"type": "reply", "interaction_id": iid, "body": "one moment please"})
        got = await vera.expect(lambda m: m.get("type") == "message" and m.get("sender") == "agent")
        assert got["body"] == "one moment please"
        assert not any("send her" in str(m) or "Billing question" in str(m) for m in vera.seen)

        handed = await alice.command({"type": "consult_hand_over", "consult_id": consult_id})
        assert handed["type"] == "ack", handed
        ended = await bob.expect("consult.ended")
        assert ended["why"] == "handed-over"
        again = await bob.expect("interaction.offered")
        assert again["interaction_id"] == iid
        await bob.command({"type": "accept", "interaction_id": iid})
        await vera.expect(lambda m: m.get("state") == "agent_joined" and m.get("agent_name") == "Bob Chen")
        status, body = await center.api("bob", "GET", f"/api/interactions/{iid}")
        assert status == 200 and [m["body"] for m in body["messages"]] == [
            "my card was charged twice", "one moment please"]
        for sock in (alice, bob, olga, vera):
            await sock.close()


async def test_a_consult_needs_someone_who_could_take_it_and_only_one_at_a_time(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        vera, _ = await visitor(center, name="Vera")
        await vera.send({"type": "message", "body": "hi"})
        iid = (await take_offer(alice))["interaction_id"]
        refused = await alice.command({"type": "consult_start", "interaction_id": iid, "agent_id": "bob"})
        assert (refused["type"], refused["error_id"]) == ("error", "agent-unavailable"), refused
        bob = await center.agent_socket("bob")
        first = await alice.command({"type": "consult_start", "interaction_id": iid, "agent_id": "bob"})
        assert first["type"] == "ack", first
        second = await alice.command({"type": "consult_start", "interaction_id": iid, "agent_id": "bob"})
        assert (second["type"], second["error_id"]) == ("error", "consult-open"), second
        # Bob declines: the consult ends for both, and a new one may start.
        done = await bob.command({"type": "consult_end", "consult_id": first["result"]["id"]})
        assert done["type"] == "ack", done
        assert (await alice.expect("consult.ended"))["why"] == "ended-by-bob"
        third = await alice.command({"type": "consult_start", "interaction_id": iid, "agent_id": "bob"})
        assert third["type"] == "ack", third
        # Not Alice's chat: Bob cannot consult about it.
        theirs = await bob.command({"type": "consult_start", "interaction_id": iid, "agent_id": "alice"})
        assert (theirs["type"], theirs["error_id"]) == ("error", "not-your-interaction"), theirs
        for sock in (alice, bob, vera):
            await sock.close()


async def test_a_consult_left_open_by_an_earlier_holder_ends_when_the_new_one_consults(
        tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        vera, _ = await visitor(center, name="Vera")
        await vera.send({"type": "message", "body": "hi"})
        iid = (await take_offer(alice))["interaction_id"]
        bob = await center.agent_socket("bob")
        old = await alice.command({"type": "consult_start", "interaction_id": iid, "agent_id": "bob"})
        assert old["type"] == "ack", old
        # The chat moves on by a plain transfer; the consult was never closed.
        moved = await alice.command({"type": "transfer", "interaction_id": iid, "agent_id": "bob"})
        assert moved["type"] == "ack", moved
        await take_offer(bob)
        new = await bob.command({"type": "consult_start", "interaction_id": iid, "agent_id": "alice"})
        assert new["type"] == "ack", new
        ended = await alice.expect(lambda m: m.get("type") == "consult.ended"
                                   and m["consult_id"] == old["result"]["id"])
        assert ended["why"] == "holder-changed"
        for sock in (alice, bob, vera):
            await sock.close()
