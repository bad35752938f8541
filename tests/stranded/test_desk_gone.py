"""An agent whose every desktop is gone for the grace goes away ("disconnected"), work kept; a desk
back within the grace, on this node or another, keeps them as they were."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cti.app import ServerSettings
from cti.domain import AgentState
from tests.adapters.center import Center
from tests.stranded.helpers import center, chat, state_event, state_of
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def board(c: Center) -> JsonSocket:
    """Sam's supervisor board: he sees his team's agent events, from any node."""
    token = await c.token("sam")
    url = f"{c.url.replace('http', 'ws', 1)}/ws/supervisor?token={token}"
    sock = JsonSocket(await c.http.ws_connect(url))
    await sock.expect("hello")
    return sock


async def test_a_closed_desk_goes_away_after_the_grace_and_keeps_its_chat(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, grace=1.0) as c:
        sam = await board(c)
        alice = await c.agent_socket("alice")
        visitor = await chat(c)
        offer = await alice.expect("interaction.offered")
        interaction_id = offer["interaction_id"]
        assert (await alice.command({"type": "accept", "interaction_id": interaction_id}))["type"] == "ack"

        await alice.close()  # the tab is closed
        away = await sam.expect(state_event("alice", "away", "disconnected"), timeout=10)
        assert away["by"] is None
        assert await state_of(c, "alice") == (AgentState.AWAY, "disconnected")
        # The chat is still hers, live; her desk shows it and her state when she is back.
        status, current = await c.api("alice", "GET", f"/api/interactions/{interaction_id}")
        assert status == 200 and (current["state"], current["agent_id"]) == ("active", "alice")
        back = await c.agent_socket("alice", available=False)
        for sock in (back, sam, visitor):
            await sock.close()


async def test_a_desk_back_within_the_grace_keeps_the_agent_available(tmp_path: Path) -> None:
    async with center(tmp_path, grace=1.5) as c:
        sam = await board(c)
        alice = await c.agent_socket("alice")
        bob = await c.agent_socket("bob")
        await alice.close()
        alice = await c.agent_socket("alice", available=False)  # a reload
        await bob.close()  # bob does not come back: his going away shows the grace has passed
        await sam.expect(state_event("bob", "away", "disconnected"), timeout=10)
        assert await state_of(c, "alice") == (AgentState.AVAILABLE, None)
        assert not any(state_event("alice", "away")(m) for m in sam.seen)
        for sock in (alice, sam):
            await sock.close()


async def test_an_agent_set_available_without_a_desk_is_left_alone(tmp_path: Path) -> None:
    """An API client that never opens a desktop (or an agent a supervisor makes available) is not
    a closed desk: only an agent who had one, or was restored at start, is expected to."""
    async with center(tmp_path, grace=0.5) as c:
        sam = await board(c)
        status, _ = await c.api("alice", "PUT", "/api/agents/alice/state", {"state": "available"})
        assert status == 200
        bob = await c.agent_socket("bob")
        await bob.close()
        await sam.expect(state_event("bob", "away", "disconnected"), timeout=10)
        assert await state_of(c, "alice") == (AgentState.AVAILABLE, None)
        await sam.close()


async def test_two_nodes_a_desk_moved_to_the_other_node_is_not_set_away(
        tmp_path: Path, cluster_node: Callable[[str], ServerSettings]) -> None:
    async with center(tmp_path / "a", settings=cluster_node("a"), grace=2.0) as a, \
            center(tmp_path / "b", settings=cluster_node("b"), grace=2.0) as b:
        sam = await board(a)
        alice = await a.agent_socket("alice")
        bob = await a.agent_socket("bob")
        await alice.close()
        alice = await b.agent_socket("alice", available=False)  # her reload lands on node B
        await bob.close()
        # Bob left after Alice's socket on A closed: once he is away, A's record of her alone
        # would have made her away too, had B's socket not counted.
        await sam.expect(state_event("bob", "away", "disconnected"), timeout=15)
        assert await state_of(a, "alice") == (AgentState.AVAILABLE, None)
        assert not any(state_event("alice", "away")(m) for m in sam.seen)

        await alice.close()  # now gone from every node: set away, seen on node A's board
        await sam.expect(state_event("alice", "away", "disconnected"), timeout=15)
        assert await state_of(b, "alice") == (AgentState.AWAY, "disconnected")
        await sam.close()
