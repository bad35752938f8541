"""A transfer to an agent who cannot take it now is refused (409 agent-unavailable), naming why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.availability import transfer_refusal
from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot
from tests.adapters.center import AGENTS, Center
from tests.stranded.helpers import center, chat
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Bob takes one chat at a time here, so "at capacity" is one accepted chat away.
ONE_CHAT_BOB = [{**a, "capacity": {"chat": 1}} if a["id"] == "bob" else a for a in AGENTS]


def snap(state: AgentState, *, load: int = 0, skills: dict[str, int] | None = None) -> AgentSnapshot:
    return AgentSnapshot(agent_id="bob", state=state, skills=skills or {"english": 5},
                         capacity={Channel.CHAT: 2, Channel.VOICE: 1}, load={Channel.CHAT: load},
                         idle_since=0.0, reason=None)


@pytest.mark.parametrize(("agent", "channel", "skills", "why"), [
    (None, Channel.CHAT, {}, "not-available:offline"),
    (snap(AgentState.OFFLINE), Channel.CHAT, {}, "not-available:offline"),
    (snap(AgentState.AWAY), Channel.CHAT, {}, "not-available:away"),
    (snap(AgentState.BUSY), Channel.CHAT, {}, "not-available:busy"),
    (snap(AgentState.AVAILABLE, load=2), Channel.CHAT, {}, "no-capacity:chat"),
    (snap(AgentState.AVAILABLE, load=1), Channel.VOICE, {}, "voice-exclusive"),
    (snap(AgentState.AVAILABLE), Channel.EMAIL, {}, "no-capacity:email"),
    (snap(AgentState.AVAILABLE), Channel.CHAT, {"billing": 3}, "missing-skill:billing"),
    (snap(AgentState.AVAILABLE, load=1), Channel.CHAT, {"english": 5}, None),
    (snap(AgentState.WRAP_UP, load=1), Channel.CHAT, {}, None),  # wrap-up ends by itself
])
def test_who_can_take_a_transfer(agent: AgentSnapshot | None, channel: Channel, skills: dict[str, int],
                                 why: str | None) -> None:
    assert transfer_refusal(agent, channel=channel, skills=skills) == why


async def accepted_chat(c: Center, alice: JsonSocket) -> tuple[JsonSocket, str]:
    visitor = await chat(c)
    offer = await alice.expect("interaction.offered")
    accepted = await alice.command({"type": "accept", "interaction_id": offer["interaction_id"]})
    assert accepted["type"] == "ack"
    return visitor, str(offer["interaction_id"])


async def transfer(c: Center, interaction_id: str, to: str) -> tuple[int, Any]:
    return await c.api("alice", "POST", f"/api/interactions/{interaction_id}/transfer", {"agent_id": to})


async def test_a_transfer_to_an_offline_or_away_agent_is_refused_and_the_chat_stays(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, agents=ONE_CHAT_BOB) as c:
        alice = await c.agent_socket("alice")
        visitor, interaction_id = await accepted_chat(c, alice)

        status, body = await transfer(c, interaction_id, "bob")  # bob never logged in
        assert (status, body["error_id"]) == (409, "agent-unavailable")
        assert body["details"] == {"agent_id": "bob", "state": "offline", "reason": None,
                                   "why": "not-available:offline", "interaction_id": interaction_id}
        assert "offline" in body["message"]
        # Nothing moved: the chat is still Alice's, live.
        status, current = await c.api("alice", "GET", f"/api/interactions/{interaction_id}")
        assert status == 200 and (current["state"], current["agent_id"]) == ("active", "alice")

        bob = await c.agent_socket("bob", available=False)
        await bob.command({"type": "set_state", "state": "away", "reason": "lunch"})
        refused = await alice.command({"type": "transfer", "interaction_id": interaction_id,
                                       "agent_id": "bob"})
        assert (refused["type"], refused["error_id"]) == ("error", "agent-unavailable")
        assert (refused["details"]["state"], refused["details"]["reason"]) == ("away", "lunch")
        for sock in (alice, bob, visitor):
            await sock.close()


async def test_a_transfer_to_an_agent_at_capacity_is_refused_then_accepted_when_free(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, agents=ONE_CHAT_BOB) as c:
        bob = await c.agent_socket("bob")
        first = await chat(c, name="Ann")
        taken = await bob.expect("interaction.offered")
        await bob.command({"type": "accept", "interaction_id": taken["interaction_id"]})

        alice = await c.agent_socket("alice")
        visitor, interaction_id = await accepted_chat(c, alice)
        status, body = await transfer(c, interaction_id, "bob")
        assert (status, body["error_id"]) == (409, "agent-unavailable")
        assert body["details"]["why"] == "no-capacity:chat"
        assert body["details"]["state"] == "available"

        await bob.command({"type": "complete", "interaction_id": taken["interaction_id"],
                           "disposition": "resolved"})
        status, body = await transfer(c, interaction_id, "bob")
        assert status == 200, body
        offer = await bob.expect(lambda m: m.get("type") == "interaction.offered"
                                 and m["interaction_id"] == interaction_id)
        assert offer["reason"]["rule"] == "target-agent"
        for sock in (alice, bob, visitor, first):
            await sock.close()
