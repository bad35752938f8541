"""Agent states survive a restart (SQLite); whoever was at their desk gets the grace to come back."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.domain import AgentState
from tests.stranded.helpers import center, chat, state_event, state_of
from tests.stranded.test_desk_gone import board

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_states_come_back_after_a_restart_and_an_absent_desk_goes_away(tmp_path: Path) -> None:
    async with center(tmp_path, grace=60) as c:  # nobody goes away before the restart
        alice = await c.agent_socket("alice")
        bob = await c.agent_socket("bob", available=False)
        assert (await bob.command({"type": "set_state", "state": "away", "reason": "lunch"}))["type"] == "ack"
        for sock in (alice, bob):
            await sock.close()

    async with center(tmp_path, grace=1.5) as c:
        assert await state_of(c, "alice") == (AgentState.AVAILABLE, None)
        assert await state_of(c, "bob") == (AgentState.AWAY, "lunch")
        assert await state_of(c, "sam") == (AgentState.OFFLINE, None)
        sam = await board(c)
        # Alice's desk does not come back: after the grace she is away, not offered chats.
        await sam.expect(state_event("alice", "away", "disconnected"), timeout=10)
        assert await state_of(c, "bob") == (AgentState.AWAY, "lunch")
        await sam.close()


async def test_a_desk_back_after_a_restart_is_offered_work_at_once(tmp_path: Path) -> None:
    async with center(tmp_path, grace=60) as c:
        for agent in ("alice", "bob"):
            await (await c.agent_socket(agent)).close()

    async with center(tmp_path, grace=2, offer_timeout=20) as c:
        sam = await board(c)
        alice = await c.agent_socket("alice", available=False)  # reloaded after the restart
        assert await state_of(c, "alice") == (AgentState.AVAILABLE, None)
        visitor = await chat(c)
        await alice.expect("interaction.offered")  # available again without touching anything
        await sam.expect(state_event("bob", "away", "disconnected"), timeout=10)  # the grace passed
        assert await state_of(c, "alice") == (AgentState.AVAILABLE, None)
        for sock in (alice, visitor, sam):
            await sock.close()
