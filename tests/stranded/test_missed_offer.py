"""A missed offer sets the agent away ("no-answer") on every channel; the customer goes to someone else."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.config import ConfigError, parse_config
from cti.domain import AgentState
from tests.adapters.center import center_config
from tests.stranded.helpers import center, chat, state_event, state_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_chat_offer_that_times_out_sets_the_agent_away_and_goes_to_another(tmp_path: Path) -> None:
    async with center(tmp_path) as c:
        alice = await c.agent_socket("alice")  # the better skill: offered first
        bob = await c.agent_socket("bob")
        visitor = await chat(c)
        offer = await alice.expect("interaction.offered")

        # Alice's desk is told she is away, and why, the moment her offer times out (1 s).
        away = await alice.expect(state_event("alice", "away"), timeout=10)
        assert away["reason"] == "no-answer"
        assert await state_of(c, "alice") == (AgentState.AWAY, "no-answer")
        again = await bob.expect("interaction.offered", timeout=10)
        assert again["interaction_id"] == offer["interaction_id"]
        accepted = await bob.command({"type": "accept", "interaction_id": again["interaction_id"]})
        assert accepted["type"] == "ack"
        for sock in (alice, bob, visitor):
            await sock.close()


async def test_a_queue_can_keep_agents_available_after_a_missed_offer(tmp_path: Path) -> None:
    queue = {"name": "support", "skills": {"english": 1}, "missed_offer_away": False}
    async with center(tmp_path, queues=[queue]) as c:
        alice = await c.agent_socket("alice")
        visitor = await chat(c)
        offer = await alice.expect("interaction.offered")
        withdrawn = await alice.expect("interaction.offer_withdrawn", timeout=10)
        assert (withdrawn["interaction_id"], withdrawn["why"]) == (offer["interaction_id"], "timeout")
        assert await state_of(c, "alice") == (AgentState.AVAILABLE, None)
        assert not any(state_event("alice", "away")(m) for m in alice.seen)
        for sock in (alice, visitor):
            await sock.close()


async def test_an_agent_who_rejects_stays_available(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20) as c:
        alice = await c.agent_socket("alice")
        visitor = await chat(c)
        offer = await alice.expect("interaction.offered")
        rejected = await alice.command({"type": "reject", "interaction_id": offer["interaction_id"]})
        assert rejected["type"] == "ack"
        await alice.expect("interaction.offer_withdrawn")
        assert await state_of(c, "alice") == (AgentState.AVAILABLE, None)
        for sock in (alice, visitor):
            await sock.close()


def test_missed_offer_away_is_a_yes_or_no_defaulting_to_yes() -> None:
    config = parse_config(center_config({}))
    assert config.queues["support"].missed_offer_away is True
    queue = {"name": "support", "skills": {"english": 1}, "missed_offer_away": "sometimes"}
    with pytest.raises(ConfigError, match="missed_offer_away"):
        parse_config(center_config({}, queues=[queue]))
