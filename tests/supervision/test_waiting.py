"""The supervisor's list of every waiting customer, with pick and reassign, scoped to their teams
and audited (two teams: sam supervises support, sue sales)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cti.app import ServerSettings
from tests.adapters.center import running_center
from tests.security.scoping import TEAMS, chat, take
from tests.supervision.helpers import audit_actions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_the_waiting_list_shows_each_waiting_customer_to_their_teams_supervisor_only(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as c:
        visitor = await chat(c, "Mia")  # nobody is available: she waits
        status, body = await c.api("sam", "GET", "/api/waiting")
        assert status == 200, body
        [row] = body["waiting"]
        assert (row["channel"], row["queue"], row["state"]) == ("chat", "support", "queued")
        assert row["priority"] == 1
        assert row["waited"] >= 0 and row["offered_to"] is None
        # Sue supervises sales: support's customers are not hers to see.
        status, body = await c.api("sue", "GET", "/api/waiting")
        assert (status, body["waiting"]) == (200, [])
        status, body = await c.api("admin", "GET", "/api/waiting")
        assert [r["interaction_id"] for r in body["waiting"]] == [row["interaction_id"]]
        status, body = await c.api("alice", "GET", "/api/waiting")
        assert (status, body["error_id"]) == (403, "wrong-role")
        await visitor.close()


async def test_a_supervisor_picks_an_offered_customer_for_another_agent_of_the_team(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        alice = await c.agent_socket("alice")
        bob = await c.agent_socket("bob")
        visitor = await chat(c, "Mia")
        offer = await alice.expect("interaction.offered")  # Alice has the better skill
        iid = offer["interaction_id"]
        status, body = await c.api("sam", "GET", "/api/waiting")
        assert [(r["interaction_id"], r["state"], r["offered_to"]) for r in body["waiting"]] == [
            (iid, "offered", "alice")]

        # Not to an agent of another team, and not by the other team's supervisor.
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/pick", {"agent_id": "carol"})
        assert (status, body["error_id"]) == (403, "not-your-team")
        status, body = await c.api("sue", "POST", f"/api/interactions/{iid}/pick", {"agent_id": "carol"})
        assert (status, body["error_id"]) == (403, "not-your-team")

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/pick", {"agent_id": "bob"})
        assert status == 200, body
        withdrawn = await alice.expect("interaction.offer_withdrawn")
        assert withdrawn["interaction_id"] == iid
        again = await bob.expect("interaction.offered")
        assert again["interaction_id"] == iid
        accepted = await bob.command({"type": "accept", "interaction_id": iid})
        assert accepted["type"] == "ack", accepted
        assert ("sam", "interaction.pick", iid) in await audit_actions(c, "sam")
        for sock in (alice, bob, visitor):
            await sock.close()


async def test_a_supervisor_reassigns_live_work_to_an_agent_or_a_queue_of_their_teams(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        alice = await c.agent_socket("alice")
        visitor = await chat(c, "Mia")
        iid = (await take(alice))["id"]
        bob = await c.agent_socket("bob")

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/reassign", {"queue": "sales"})
        assert (status, body["error_id"]) == (403, "not-your-queue")
        status, body = await c.api("sue", "POST", f"/api/interactions/{iid}/reassign", {"agent_id": "carol"})
        assert (status, body["error_id"]) == (403, "not-your-team")
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/reassign",
                                   {"agent_id": "bob", "queue": "support"})
        assert (status, body["error_id"]) == (400, "bad-transfer-target")
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/reassign", {"agent_id": "alice"})
        assert (status, body["error_id"]) == (400, "bad-transfer-target")  # hers already

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/reassign", {"agent_id": "bob"})
        assert status == 200, body
        offered = await bob.expect("interaction.offered")
        assert offered["interaction_id"] == iid
        assert (await bob.command({"type": "accept", "interaction_id": iid}))["type"] == "ack"
        status, current = await c.api("admin", "GET", f"/api/interactions/{iid}")
        assert (current["state"], current["agent_id"]) == ("active", "bob")
        # An admin may send it to any queue; it waits there with its wait kept.
        status, body = await c.api("admin", "POST", f"/api/interactions/{iid}/reassign", {"queue": "sales"})
        assert status == 200, body
        assert (body["state"], body["queue"]) == ("queued", "sales")
        actions = await audit_actions(c, "admin")
        assert ("sam", "interaction.reassign", iid) in actions
        assert ("admin", "interaction.reassign", iid) in actions
        for sock in (alice, bob, visitor):
            await sock.close()


async def test_reassign_refuses_what_is_not_waiting_or_live(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        visitor = await chat(c, "Mia")
        status, body = await c.api("sam", "GET", "/api/waiting")
        iid = body["waiting"][0]["interaction_id"]
        # A queued customer is picked, not reassigned; bob is offline: refused with why.
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/reassign", {"agent_id": "bob"})
        assert (status, body["error_id"]) == (409, "invalid-state")
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/pick", {"agent_id": "bob"})
        assert (status, body["error_id"]) == (409, "agent-unavailable")
        status, body = await c.api("sam", "POST", "/api/interactions/int-nope/pick", {"agent_id": "bob"})
        assert status == 404
        await visitor.close()


async def test_forcing_an_agent_state_is_for_their_teams_supervisor_and_audited(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        alice = await c.agent_socket("alice")
        status, body = await c.api("sue", "PUT", "/api/agents/alice/state", {"state": "away", "reason": "x"})
        assert (status, body["error_id"]) == (403, "not-your-team")
        status, body = await c.api("sam", "PUT", "/api/agents/alice/state", {"state": "offline"})
        assert (status, body["state"]) == (200, "offline")
        forced = await alice.expect(lambda m: m.get("type") == "agent.state_changed"
                                    and m["state"] == "offline")
        assert forced["by"] == "sam"
        assert ("sam", "agent.set_state", "alice") in await audit_actions(c, "sam")
        await alice.close()


async def test_a_customer_overflowing_into_another_teams_queue_is_on_its_supervisors_list(
        tmp_path: Path) -> None:
    queues = [{**q, "overflow": [{"after": 1, "to_queue": "sales"}]} if q["name"] == "support" else q
              for q in TEAMS["queues"]]
    async with running_center(tmp_path, {}, **{**TEAMS, "queues": queues}) as c:
        visitor = await chat(c, "Mia")  # nobody is available: she waits, then also for sales
        status, body = await c.api("sue", "GET", "/api/waiting")
        assert (status, body["waiting"]) == (200, [])  # not yet sales' customer
        deadline = asyncio.get_running_loop().time() + 10
        while not body["waiting"]:
            assert asyncio.get_running_loop().time() < deadline, "never on the sales supervisor's list"
            await asyncio.sleep(0.2)
            status, body = await c.api("sue", "GET", "/api/waiting")
        [row] = body["waiting"]
        assert (row["queue"], row["also_queues"], row["state"]) == ("support", ["sales"], "queued")
        status, body = await c.api("sam", "GET", "/api/waiting")
        assert [r["also_queues"] for r in body["waiting"]] == [["sales"]]
        await visitor.close()
