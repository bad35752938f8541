"""Reject, time-out, transfer, supervision and the routing dry run, on the real server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp
import pytest

from tests.e2e.conftest import login, only_available, visitor
from tests.server_process import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_reject_timeout_and_transfer_keep_the_interaction(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    alice, bob, sam = [await login(http, srv, a) for a in ("alice", "bob", "sam")]
    await only_available(http, srv, "alice", "bob")
    alice_ws, bob_ws = await alice.socket(), await bob.socket()
    wallboard = await sam.socket("/ws/supervisor")

    chat, _ = await visitor(http, srv, name="Mia", phone="+1 415 555 0100")
    await chat.send({"type": "message", "body": "Billing question"})
    queued = await wallboard.expect("interaction.queued")
    interaction_id = queued["interaction"]["id"]
    first_queued_at = queued["interaction"]["queued_at"]

    # Alice has the better skill, so she is offered it first; she rejects.
    offer = await alice_ws.expect("interaction.offered")
    assert offer["interaction_id"] == interaction_id and offer["reason"]["rule"] == "best-skill"
    assert (await alice_ws.command({"type": "reject", "interaction_id": interaction_id}))["type"] == "ack"
    withdrawn = await wallboard.expect("interaction.offer_withdrawn")
    assert (withdrawn["agent_id"], withdrawn["why"]) == ("alice", "rejected")
    requeued = await wallboard.expect(lambda m: m.get("type") == "interaction.queued"
                                      and m.get("requeued_because") == "rejected")
    assert requeued["interaction"]["queued_at"] == first_queued_at  # the wait is kept

    # Bob gets it next, lets it time out (3 s in the test config); it goes back with the wait kept.
    offer = await bob_ws.expect("interaction.offered", timeout=10)
    assert offer["interaction_id"] == interaction_id
    withdrawn = await wallboard.expect(lambda m: m.get("type") == "interaction.offer_withdrawn"
                                       and m["why"] == "timeout", timeout=10)
    assert withdrawn["agent_id"] == "bob"
    requeued = await wallboard.expect(lambda m: m.get("type") == "interaction.queued"
                                      and m.get("requeued_because") == "timeout")
    assert requeued["interaction"]["queued_at"] == first_queued_at

    # Both have now passed on it; the supervisor sees nobody is eligible, and why.
    status, explanation = await sam.call("GET", f"/api/routing/explain/{interaction_id}")
    assert status == 200 and explanation["chosen"] is None
    why = {c["agent_id"]: c["why_not"] for c in explanation["candidates"]}
    assert why["alice"] == "excluded" and why["bob"] == "excluded"
    assert why["carol"].startswith("not-available")

    # Sam makes himself available, takes it, notes and transfers to Alice by name.
    # His desk is open before he goes available, as at a real desk: opened after, the offer
    # may already be made, and it arrives in the hello's interactions instead of as an event.
    sam_ws = await sam.socket()
    await sam.call("PUT", "/api/agents/sam/state", {"state": "available"})
    offer = await sam_ws.expect("interaction.offered")
    await sam_ws.command({"type": "accept", "interaction_id": interaction_id})
    moved = await sam_ws.command({"type": "transfer", "interaction_id": interaction_id,
                                  "agent_id": "alice", "note": "Customer wants a refund of $40"})
    assert moved["type"] == "ack" and moved["result"]["id"] == interaction_id
    offer = await alice_ws.expect(lambda m: m.get("type") == "interaction.offered"
                                  and m["interaction_id"] == interaction_id)
    assert offer["reason"]["rule"] == "target-agent"
    pop = offer["screen_pop"]
    assert [n["body"] for n in pop["notes"]] == ["Customer wants a refund of $40"]
    assert pop["messages"][0]["body"] == "Billing question"
    # The typed phone travels with the interaction as a claim (issue 9), normalised to E.164.
    assert ("phone", "+14155550100") in {(c["kind"], c["value"]) for c in pop["claims"]}
    assert (await alice_ws.command({"type": "accept", "interaction_id": interaction_id}))["type"] == "ack"
    assert (await chat.expect(lambda m: m.get("state") == "transferred"))["type"] == "status"

    # The wallboard saw the whole story, agent states included.
    await wallboard.expect(lambda m: m.get("type") == "interaction.transferred"
                           and m["to_agent"] == "alice")
    await wallboard.expect(lambda m: m.get("type") == "agent.state_changed" and m["agent_id"] == "sam")
    status, queues = await sam.call("GET", "/api/queues")
    assert status == 200 and queues["service_level_window"] == 3600
    chat_level = queues["service_level"]["support"]["chat"]
    assert chat_level["answered"] >= 1 and chat_level["target"] == 60
    assert 0 <= chat_level["level"] <= 1
    status, error = await sam.call("GET", "/api/queues?window=ten")
    assert (status, error["error_id"]) == (400, "bad-window")
    status, recent = await sam.call("GET", "/api/queues?window=60")
    assert status == 200 and recent["service_level_window"] == 60

    done = await alice_ws.command({"type": "complete", "interaction_id": interaction_id,
                                   "disposition": "resolved"})
    assert done["result"]["state"] == "closed"
    status, audit = await sam.call("GET", "/api/audit")
    assert any(e["action"] == "agent.set_state" and e["actor"] == "admin" for e in audit)
    for sock in (alice_ws, bob_ws, sam_ws, wallboard, chat):
        await sock.close()


async def test_routing_explain_from_the_command_line(srv: RunningServer, http: aiohttp.ClientSession) -> None:
    await only_available(http, srv)  # nobody
    chat, _ = await visitor(http, srv, name="Lee")
    await chat.send({"type": "message", "body": "hello?"})
    await chat.expect("message")  # stored, so queued
    sam = await login(http, srv, "sam")
    status, waiting = await sam.call("GET", "/api/interactions?state=queued")
    assert status == 200 and waiting
    interaction_id = waiting[0]["id"]
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cti.cli", "routing", "explain", interaction_id, "--url", srv.url,
         "--user", "sam", "--password", "sam", "--json"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    explanation = json.loads(out.stdout)
    assert explanation["interaction_id"] == interaction_id and explanation["chosen"] is None
    assert {c["why_not"] for c in explanation["candidates"]} >= {"not-available:offline"}
    await chat.send({"type": "leave"})
    await chat.close()
