"""Reads scoped to need, through the real HTTP and WebSocket edge.

Agents read a customer (profile, timeline, search) only while or after serving them (or when a
supervisor shared the customer with them); a customer they may not see answers exactly like an
unknown one. Supervisors see their own teams' queues, agents, interactions, notes and audit
entries; admins see everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.app import ServerSettings
from tests.adapters.center import Center, running_center
from tests.security.scoping import TEAMS, chat, take
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def link_claims(center: Center, who: str, interaction_id: str) -> None:
    """Details typed in the chat are claims (issue 9, identities): linked by hand after checking,
    they become the customer's identities."""
    path = f"/api/interactions/{interaction_id}/claims"
    status, claims = await center.api(who, "GET", path)
    assert status == 200, claims
    for claim in claims:
        status, body = await center.api(who, "POST", f"{path}/{claim['id']}/link", {"reason": "checked"})
        assert status == 200, body


async def test_an_agent_reads_only_the_customers_she_serves_and_held_survives_a_transfer(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        bob = await center.agent_socket("bob", available=False)
        _chat1 = await chat(center, "Ann Lee", email="ann.lee@example.com")
        taken = await take(alice)
        ann, interaction_id = taken["customer_id"], taken["id"]

        for path in (f"/api/customers/{ann}", f"/api/customers/{ann}/timeline"):
            assert (await center.api("alice", "GET", path))[0] == 200
            # Bob never served Ann: the same answer as for a customer that does not exist.
            status, body = await center.api("bob", "GET", path)
            unknown = await center.api("bob", "GET", path.replace(ann, "cus-does-not-exist"))
            assert (status, body["error_id"]) == (404, "customer-not-found") == (
                unknown[0], unknown[1]["error_id"])
            assert body["message"] == unknown[1]["message"]
            assert (await center.api("carol", "GET", path))[0] == 404

        # Alice hands the chat to Bob: the offer's screen pop shows him Ann's history (the
        # offer is the permission) before he may read her record himself.
        assert (await bob.command({"type": "set_state", "state": "available"}))["type"] == "ack"
        status, body = await center.api("alice", "POST", f"/api/interactions/{interaction_id}/transfer",
                                        {"agent_id": "bob"})
        assert status == 200, body
        offer = await bob.expect("interaction.offered")
        assert offer["screen_pop"]["customer"]["id"] == ann
        assert offer["screen_pop"]["timeline"]
        assert (await bob.command({"type": "accept", "interaction_id": interaction_id}))["type"] == "ack"

        # Held survives the transfer (the interaction now names Bob only); both read Ann.
        for agent in ("alice", "bob"):
            status, body = await center.api(agent, "GET", f"/api/customers/{ann}/timeline")
            assert status == 200 and body["entries"], (agent, body)
        # The interaction itself is Bob's now.
        status, body = await center.api("alice", "GET", f"/api/interactions/{interaction_id}")
        assert status == 403


async def test_history_older_than_the_window_is_not_readable(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, access={"agent_history_days": 0},
                              **TEAMS) as center:
        alice = await center.agent_socket("alice")
        _chat2 = await chat(center, "Ann Lee", email="ann.lee@example.com")
        taken = await take(alice)
        ann = taken["customer_id"]
        assert (await center.api("alice", "GET", f"/api/customers/{ann}"))[0] == 200
        status, body = await center.api("alice", "POST", f"/api/interactions/{taken['id']}/complete",
                                        {"disposition": "resolved"})
        assert status == 200, body
        # A window of zero days: once the interaction is over, so is her access.
        status, body = await center.api("alice", "GET", f"/api/customers/{ann}")
        assert (status, body["error_id"]) == (404, "customer-not-found")


async def test_a_supervisor_shares_a_customer_with_an_agent_of_their_team_audited(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        _chat3 = await chat(center, "Ann Lee", email="ann.lee@example.com")
        ann = (await take(alice))["customer_id"]
        path = f"/api/customers/{ann}/share"

        status, body = await center.api("alice", "POST", path, {"agent_id": "bob", "days": 1})
        assert (status, body["error_id"]) == (403, "wrong-role")
        status, body = await center.api("sue", "POST", path, {"agent_id": "bob", "days": 1})
        assert (status, body["error_id"]) == (403, "not-your-team")
        status, body = await center.api("sam", "POST", path, {"agent_id": "bob", "days": "many"})
        assert status == 400
        status, body = await center.api("sam", "POST", "/api/customers/cus-nope/share",
                                        {"agent_id": "bob", "days": 1})
        assert (status, body["error_id"]) == (404, "customer-not-found")

        assert (await center.api("bob", "GET", f"/api/customers/{ann}"))[0] == 404
        status, body = await center.api("sam", "POST", path, {"agent_id": "bob", "days": 2})
        assert status == 200, body
        status, body = await center.api("bob", "GET", f"/api/customers/{ann}/timeline")
        assert status == 200 and body["entries"]
        status, audit = await center.api("sam", "GET", "/api/audit")
        [entry] = [e for e in audit if e["action"] == "customer.share"]
        assert (entry["actor"], entry["target"], entry["details"]["agent_id"]) == ("sam", ann, "bob")


async def test_customer_search_is_scoped_like_reads(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        _chat4 = await chat(center, "Ann Lee", email="ann.lee@example.com", phone="+1 415 555 0100")
        taken = await take(alice)
        ann = taken["customer_id"]
        await link_claims(center, "alice", taken["id"])

        for q in ("ann", "ANN.LEE@example", "555 0100", "Lee"):
            status, found = await center.api("alice", "GET", f"/api/customers?q={q}")
            assert status == 200 and [c["id"] for c in found["customers"]] == [ann], (q, found)
        for who in ("bob", "carol", "sue"):
            status, found = await center.api(who, "GET", "/api/customers?q=ann")
            assert status == 200 and found["customers"] == [], who
        for who in ("sam", "admin"):
            status, found = await center.api(who, "GET", "/api/customers?q=ann")
            assert status == 200 and [c["id"] for c in found["customers"]] == [ann], who

        for bad in ("", "?q=", "?q=a", "?q=ann&limit=0", "?q=ann&limit=1000", "?q=ann&limit=x"):
            status, body = await center.api("alice", "GET", f"/api/customers{bad}")
            assert status == 400, (bad, body)
        status, doc = await center.api("alice", "GET", "/api/openapi.json")
        assert "get" in doc["paths"]["/api/customers"]


async def test_a_supervisor_sees_and_acts_on_their_own_teams_only(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        carol = await center.agent_socket("carol")
        sam_ws, hello = await _supervisor_socket(center, "sam")
        assert {a["id"] for a in hello["agents"]} <= {"alice", "bob", "sam"}
        assert set(hello["queues"]["waiting_by_queue"]) <= {"support"}
        assert set(hello["queues"]["queues_configured"]) == {"support"}

        # A support chat goes to sales: from then on it is Sue's team's, not Sam's.
        _chat5 = await chat(center, "Raj Patel", email="raj@example.org")
        sold = await take(alice)
        status, body = await center.api("alice", "POST", f"/api/interactions/{sold['id']}/transfer",
                                        {"queue": "sales"})
        assert status == 200, body
        await take(carol)
        status, body = await center.api("carol", "POST", f"/api/interactions/{sold['id']}/notes",
                                        {"body": "wants the enterprise plan"})
        assert status == 201, body
        # And a chat that stays in support.
        _chat6 = await chat(center, "Ann Lee", email="ann.lee@example.com")
        kept = await take(alice)

        status, listed = await center.api("sam", "GET", "/api/interactions")
        assert status == 200 and {i["id"] for i in listed} == {kept["id"]}, listed
        status, listed = await center.api("sam", "GET", "/api/interactions?agent_id=carol")
        assert status == 200 and listed == []
        status, listed = await center.api("sue", "GET", "/api/interactions")
        assert status == 200 and {i["id"] for i in listed} == {sold["id"]}
        status, listed = await center.api("admin", "GET", "/api/interactions")
        assert {i["id"] for i in listed} == {sold["id"], kept["id"]}

        status, body = await center.api("sam", "GET", f"/api/interactions/{sold['id']}")
        assert status == 403, body
        status, body = await center.api("sam", "POST", f"/api/interactions/{sold['id']}/notes",
                                        {"body": "peeking"})
        assert status == 403, body
        status, body = await center.api("sam", "GET", f"/api/routing/explain/{sold['id']}")
        assert status == 403, body
        status, body = await center.api("sue", "GET", f"/api/interactions/{sold['id']}")
        assert status == 200 and [n["body"] for n in body["notes"]] == ["wants the enterprise plan"]
        status, body = await center.api("sam", "GET", f"/api/interactions/{kept['id']}")
        assert status == 200
        # Raj's record: Sue's team works him now, and Sam's Alice served him before.
        for who in ("sam", "sue"):
            status, _ = await center.api(who, "GET", f"/api/customers/{sold['customer_id']}")
            assert status == 200, who
        status, _ = await center.api("sue", "GET", f"/api/customers/{kept['customer_id']}")
        assert status == 404

        status, agents = await center.api("sam", "GET", "/api/agents")
        assert {a["id"] for a in agents} == {"alice", "bob", "sam"}
        status, agents = await center.api("sue", "GET", "/api/agents")
        assert {a["id"] for a in agents} == {"carol", "sue"}

        # Sue's change to Carol is audited; Sam does not read it, the admin does.
        status, body = await center.api("sue", "PUT", "/api/agents/carol/state",
                                        {"state": "away", "reason": "training"})
        assert status == 200, body
        status, audit = await center.api("sam", "GET", "/api/audit")
        assert status == 200 and not [e for e in audit if "carol" in (e["actor"], e["target"])
                                      or e["actor"] == "sue"]
        status, audit = await center.api("admin", "GET", "/api/audit")
        assert any(e["actor"] == "sue" and e["target"] == "carol" for e in audit)

        # Sam's socket carried support's work and none of sales' (from the transfer on).
        seen = await _drain(sam_ws)
        assert any(m.get("interaction_id") == kept["id"] for m in seen), seen
        assert not [m for m in seen if (m.get("interaction") or {}).get("queue") == "sales"], seen
        assert not [m for m in seen if "carol" in (m.get("agent_id"), (m.get("interaction") or {}).get(
            "agent_id"))], seen
        assert not [m for m in seen if m["type"] == "interaction.accepted"
                    and m["interaction_id"] == sold["id"] and m["agent_id"] != "alice"], seen


async def _supervisor_socket(center: Center, who: str) -> tuple[JsonSocket, dict[str, Any]]:
    token = await center.token(who)
    ws_url = center.url.replace("http", "ws", 1)
    sock = JsonSocket(await center.http.ws_connect(f"{ws_url}/ws/supervisor?token={token}"))
    return sock, await sock.expect("hello")


async def _drain(sock: JsonSocket) -> list[dict[str, Any]]:
    """Everything the socket got until a marker event it is sure to see (its own state change)."""
    ack = await sock.command({"type": "set_state", "state": "away", "reason": "marker"})
    assert ack["type"] == "ack", ack
    await sock.expect(lambda m: m.get("type") == "agent.state_changed" and m.get("reason") == "marker")
    out: list[dict[str, Any]] = list(sock.seen)
    sock.seen.clear()
    return out


async def test_what_an_agent_held_follows_the_customer_through_a_merge_and_its_undo(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        _chat1 = await chat(center, "P. Ortiz", phone="+1 415 555 0199")
        taken = await take(alice)
        by_phone = taken["customer_id"]
        await link_claims(center, "alice", taken["id"])
        assert (await alice.command({"type": "set_state", "state": "away"}))["type"] == "ack"
        _chat2 = await chat(center, "Pat Ortiz", email="pat.ortiz@example.net")  # nobody takes it
        status, waiting = await center.api("admin", "GET", "/api/interactions?limit=50")
        [pat] = [i["id"] for i in waiting if i["context"].get("chat.name") == "Pat Ortiz"]
        await link_claims(center, "admin", pat)
        status, body = await center.api("admin", "GET", "/api/customers?q=pat.ortiz")
        [by_email] = [c["id"] for c in body["customers"]]
        assert (await center.api("alice", "GET", f"/api/customers/{by_email}"))[0] == 404

        status, linked = await center.api("admin", "POST", "/api/customers/link", {
            "a": {"kind": "phone", "value": "+14155550199"},
            "b": {"kind": "email", "value": "pat.ortiz@example.net"}, "reason": "same person"})
        assert status == 200, linked
        # One customer now, whichever survived: Alice served part of it, so she reads it all.
        for asked in (by_phone, by_email):
            status, body = await center.api("alice", "GET", f"/api/customers/{asked}/timeline")
            assert status == 200 and len({e["interaction_id"] for e in body["entries"]}) == 2, body
            assert (await center.api("bob", "GET", f"/api/customers/{asked}"))[0] == 404

        status, profile = await center.api("admin", "GET", f"/api/customers/{linked['id']}")
        [merge] = [m for m in profile["merges"] if m["undone_at"] is None]
        assert (await center.api("admin", "POST", f"/api/merges/{merge['id']}/undo"))[0] == 200
        # Apart again: she reads the customer she served, not the other.
        assert (await center.api("alice", "GET", f"/api/customers/{by_phone}"))[0] == 200
        assert (await center.api("alice", "GET", f"/api/customers/{by_email}"))[0] == 404


async def test_identities_are_unlinked_only_by_who_may_decide_for_that_customer(
        tmp_path: Path, database: ServerSettings | None) -> None:
    """Unlinking is a change to a customer record: an agent who never served the customer (or a
    supervisor of another team) can neither do it nor learn the customer exists by trying."""
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        _chat3 = await chat(center, "Ann Lee", email="ann.lee@example.com", phone="+14155550100")
        taken = await take(alice)
        ann, interaction_id = taken["customer_id"], taken["id"]
        await link_claims(center, "alice", interaction_id)
        path = f"/api/customers/{ann}/unlink"
        body = {"identity": {"kind": "phone", "value": "+14155550100"}}
        for outsider in ("bob", "carol", "sue"):
            status, answer = await center.api(outsider, "POST", path, body)
            unknown = await center.api(outsider, "POST", path.replace(ann, "cus-does-not-exist"), body)
            assert (status, answer["error_id"]) == (404, "customer-not-found") == (
                unknown[0], unknown[1]["error_id"]), (outsider, answer)
        status, answer = await center.api("alice", "GET", f"/api/customers/{ann}")
        assert {"kind": "phone", "value": "+14155550100"} in answer["identities"]
        # Alice, who holds Ann's chat, may correct the record.
        status, answer = await center.api("alice", "POST", path, body)
        assert status == 200, answer


async def test_a_supervisor_acts_on_claims_and_links_only_within_their_teams(
        tmp_path: Path, database: ServerSettings | None) -> None:
    """Sue supervises sales: the support team's chat, its claims and its customers are not hers to
    prove, link or merge (and she learns nothing of them by trying)."""
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        _chat4 = await chat(center, "Ann Lee", email="ann.lee@example.com")
        taken = await take(alice)
        claims_path = f"/api/interactions/{taken['id']}/claims"
        status, claims = await center.api("sue", "GET", claims_path)
        assert status in (403, 404), claims
        status, claims = await center.api("sam", "GET", claims_path)
        assert status == 200 and claims, claims
        claim = f"{claims_path}/{claims[0]['id']}"
        for action, body in (("link", {"reason": "looked fine"}), ("send-code", {})):
            status, answer = await center.api("sue", "POST", f"{claim}/{action}", body)
            assert status in (403, 404), (action, answer)
        # Sam links the claim; Ann is then a support customer Sue may not link or merge.
        assert (await center.api("sam", "POST", f"{claim}/link", {"reason": "checked"}))[0] == 200
        _chat5 = await chat(center, "Ann Again", phone="+14155550111")
        second = await take(alice)
        await link_claims(center, "sam", second["id"])
        status, answer = await center.api("sue", "POST", "/api/customers/link", {
            "a": {"kind": "email", "value": "ann.lee@example.com"},
            "b": {"kind": "phone", "value": "+14155550111"}, "reason": "same person"})
        assert (status, answer["error_id"]) == (404, "identity-not-found"), answer
        status, answer = await center.api("sue", "GET", f"/api/customers/{taken['customer_id']}/suggestions")
        assert (status, answer["error_id"]) == (404, "customer-not-found"), answer
        status, answer = await center.api("sam", "POST", "/api/customers/link", {
            "a": {"kind": "email", "value": "ann.lee@example.com"},
            "b": {"kind": "phone", "value": "+14155550111"}, "reason": "same person"})
        assert status == 200, answer
