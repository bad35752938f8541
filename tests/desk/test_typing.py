"""Typing indicators in chat, both ways: shown to the other side, rate-limited, never stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cti.typing_signal import TypingGate
from tests.desk.support import desk_center
from tests.security.chat_support import take_offer, visitor
from tests.wsclient import JsonSocket

MIN_GAP = 2.0


def test_one_signal_per_side_per_gap() -> None:
    gate = TypingGate(min_gap=MIN_GAP, max_keys=100)
    assert gate.allow(("i1", "agent"), now=100.0)
    assert not gate.allow(("i1", "agent"), now=101.9)
    assert gate.allow(("i1", "customer"), now=101.9)  # the other side has its own budget
    assert gate.allow(("i1", "agent"), now=102.0)


def test_the_gate_forgets_old_keys_and_stays_bounded() -> None:
    gate = TypingGate(min_gap=MIN_GAP, max_keys=3)
    for n in range(10):
        assert gate.allow((f"i{n}", "agent"), now=float(n))
    assert len(gate) <= 3


async def _chat(center: object) -> tuple[JsonSocket, JsonSocket, str]:
    from tests.adapters.center import Center
    assert isinstance(center, Center)
    alice = await center.agent_socket("alice")
    vera, _ = await visitor(center, name="Vera")
    await vera.send({"type": "message", "body": "hello"})
    offer = await take_offer(alice)
    await vera.expect(lambda m: m.get("state") == "agent_joined")
    return alice, vera, offer["interaction_id"]


@pytest.mark.integration
async def test_the_visitor_sees_the_agent_typing_once_per_gap(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice, vera, iid = await _chat(center)
        first = await alice.command({"type": "typing", "interaction_id": iid})
        assert first["type"] == "ack" and first["result"] == {"sent": True}, first
        second = await alice.command({"type": "typing", "interaction_id": iid})
        assert second["type"] == "ack" and second["result"] == {"sent": False}, second
        shown = await vera.expect("typing")
        assert shown == {"type": "typing", "who": "agent", "agent_name": "Alice Martin"}
        # The next thing the visitor gets is the reply: the second signal was never sent.
        await alice.command({"type": "reply", "interaction_id": iid, "body": "here"})
        await vera.expect(lambda m: m.get("sender") == "agent")
        assert not any(m.get("type") == "typing" for m in vera.seen)
        await vera.close()
        await alice.close()


@pytest.mark.integration
async def test_the_agent_sees_the_visitor_typing_and_nothing_is_stored(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice, vera, iid = await _chat(center)
        await vera.send({"type": "typing"})
        await vera.send({"type": "typing"})  # inside the gap: dropped
        shown = await alice.expect(lambda m: m.get("type") == "typing" and m.get("by") == "customer")
        assert shown["interaction_id"] == iid and shown["agent_id"] == "alice"
        await vera.send({"type": "message", "body": "sent after that"})
        await alice.expect(lambda m: m.get("type") == "message.added"
                           and m["message"]["body"] == "sent after that")
        assert not any(m.get("type") == "typing" and m.get("by") == "customer" for m in alice.seen)
        status, body = await center.api("alice", "GET", f"/api/interactions/{iid}")
        assert status == 200
        assert [m["body"] for m in body["messages"]] == ["hello", "sent after that"]
        assert "typing" not in json.dumps(body)
        await vera.close()
        await alice.close()


@pytest.mark.integration
async def test_typing_into_someone_elses_chat_is_refused(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice, vera, iid = await _chat(center)
        bob = await center.agent_socket("bob")
        refused = await bob.command({"type": "typing", "interaction_id": iid})
        assert (refused["type"], refused["error_id"]) == ("error", "not-your-interaction"), refused
        await bob.close()
        await vera.close()
        await alice.close()


@pytest.mark.integration
async def test_a_visitor_typing_before_an_agent_joined_reaches_nobody(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        vera, _ = await visitor(center, name="Vera")
        await vera.send({"type": "typing"})  # no conversation yet: silently nothing
        await vera.send({"type": "message", "body": "hi"})
        await vera.expect(lambda m: m.get("type") == "message")
        assert not any(m.get("type") == "error" for m in vera.seen)
        await vera.close()
