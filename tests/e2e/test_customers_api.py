"""Customers over REST on the real server: profile, identities, timeline pages, linking by hand."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Api, login, only_available, visitor
from tests.server_process import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def chat_customer(http: aiohttp.ClientSession, srv: RunningServer, sam: Api, body: str,
                        **hello: Any) -> tuple[str, str]:
    """A visitor writes and leaves; the (customer id, interaction id) it made."""
    chat, _ = await visitor(http, srv, **hello)
    await chat.send({"type": "message", "body": body})
    await chat.expect("message")
    await chat.send({"type": "leave"})
    await chat.close()
    status, found = await sam.call("GET", "/api/interactions?limit=50")
    assert status == 200, found
    mine = [i for i in found if i["context"].get("chat.name") == hello["name"]]
    assert len(mine) == 1, found
    # Typed details are only claims (issue 9): a supervisor links them by hand after checking.
    status, claims = await sam.call("GET", f"/api/interactions/{mine[0]['id']}/claims")
    assert status == 200, claims
    for claim in claims:
        status, body = await sam.call("POST", f"/api/interactions/{mine[0]['id']}/claims/{claim['id']}/link",
                                      {"reason": "checked with the customer"})
        assert status == 200, body
    return mine[0]["customer_id"], mine[0]["id"]


async def identities(api: Api, customer_id: str) -> set[tuple[str, str]]:
    status, body = await api.call("GET", f"/api/customers/{customer_id}")
    assert status == 200, body
    return {(i["kind"], i["value"]) for i in body["identities"]}


async def test_link_by_hand_merges_histories_and_a_supervisor_can_undo_it(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    await only_available(http, srv)  # nobody: the chats only wait, then are abandoned
    sam, alice = await login(http, srv, "sam"), await login(http, srv, "alice")
    by_phone, phone_chat = await chat_customer(http, srv, sam, "my parcel?", name="P. Ortiz",
                                               phone="(415) 555-0199")
    by_email, email_chat = await chat_customer(http, srv, sam, "invoice please", name="Pat Ortiz",
                                               email="pat.ortiz@example.net")
    assert by_phone != by_email
    assert ("phone", "+14155550199") in await identities(sam, by_phone)

    # Alice holds neither customer's interaction: linking them is not hers to do (issue 9).
    pair = {"a": {"kind": "phone", "value": "415 555 0199"},
            "b": {"kind": "email", "value": "Pat.Ortiz@example.net"}}
    status, body = await alice.call("POST", "/api/customers/link", {**pair, "reason": "same person"})
    assert (status, body["error_id"]) == (404, "identity-not-found")
    # Sam, her supervisor, knows they are the same person and links the two identities, saying why.
    status, linked = await sam.call("POST", "/api/customers/link", {
        "a": {"kind": "phone", "value": "415 555 0199"},
        "b": {"kind": "email", "value": "Pat.Ortiz@example.net"},
        "reason": "caller confirmed the e-mail address"})
    assert status == 200, linked
    survivor = linked["id"]
    assert survivor in (by_phone, by_email)
    assert {("phone", "+14155550199"), ("email", "pat.ortiz@example.net")} <= await identities(
        sam, survivor)

    # One history: both chats on the survivor's timeline, newest first, in pages.
    # Each chat is two entries: the interaction and its message.
    status, page = await sam.call("GET", f"/api/customers/{survivor}/timeline?limit=2")
    assert status == 200 and [(e["kind"], e["interaction_id"]) for e in page["entries"]] == [
        ("message", email_chat), ("interaction", email_chat)]
    assert page["next_cursor"]
    status, rest = await sam.call("GET", f"/api/customers/{survivor}/timeline?limit=2"
                                           f"&before={page['next_cursor']}")
    assert status == 200 and [(e["kind"], e["interaction_id"]) for e in rest["entries"]] == [
        ("message", phone_chat), ("interaction", phone_chat)]
    assert rest["entries"][0]["summary"] == "my parcel?"
    status, body = await sam.call("GET", f"/api/customers/{survivor}/timeline?limit=0")
    assert (status, body["error_id"]) == (400, "bad-limit")

    # The merge is in the audit log with who and why, and on the customer's record.
    status, audit = await sam.call("GET", "/api/audit")
    merge = next(e for e in audit if e["action"] == "customer.merge" and e["target"] == survivor)
    assert merge["actor"] == "sam"
    assert "caller confirmed the e-mail address" in str(merge["details"])
    status, profile = await sam.call("GET", f"/api/customers/{survivor}")
    [record] = [m for m in profile["merges"] if m["undone_at"] is None]

    # Only a supervisor may undo it; undoing restores both customers and their histories.
    status, body = await alice.call("POST", f"/api/merges/{record['id']}/undo")
    assert (status, body["error_id"]) == (403, "wrong-role")
    status, undone = await sam.call("POST", f"/api/merges/{record['id']}/undo")
    assert status == 200, undone
    for customer_id, chat_id in ((by_phone, phone_chat), (by_email, email_chat)):
        status, page = await sam.call("GET", f"/api/customers/{customer_id}/timeline")
        assert {e["interaction_id"] for e in page["entries"]} == {chat_id}
    status, audit = await sam.call("GET", "/api/audit")
    assert any(e["action"] == "customer.unmerge" and e["actor"] == "sam" for e in audit)


async def test_an_identity_unlinked_by_hand_no_longer_finds_the_customer(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    await only_available(http, srv)
    sam, bob = await login(http, srv, "sam"), await login(http, srv, "bob")
    customer_id, _ = await chat_customer(http, srv, sam, "hi", name="Kim Lee", email="kim@example.org",
                                         phone="+44 20 7946 0958")
    # Bob never served Kim: he may not change her record (issue 9); her team's supervisor may.
    unlink = {"identity": {"kind": "email", "value": "kim@example.org"}}
    status, body = await bob.call("POST", f"/api/customers/{customer_id}/unlink", unlink)
    assert (status, body["error_id"]) == (404, "customer-not-found")
    status, body = await sam.call("POST", f"/api/customers/{customer_id}/unlink", unlink)
    assert status == 200, body
    assert ("email", "kim@example.org") not in await identities(sam, customer_id)
    assert ("phone", "+442079460958") in await identities(sam, customer_id)
    status, audit = await sam.call("GET", "/api/audit")
    assert any(e["action"] == "identity.unlink" and e["actor"] == "sam" for e in audit)

    # Bad identities are refused with the field named.
    status, body = await bob.call("POST", "/api/customers/link", {
        "a": {"kind": "fax", "value": "1"}, "b": {"kind": "email", "value": "kim@example.org"}})
    assert (status, body["error_id"]) == (400, "bad-identity")
    status, body = await bob.call("POST", "/api/customers/link", {
        "a": {"kind": "email", "value": "not-an-address"}, "b": {"kind": "email", "value": "k@example.org"}})
    assert (status, body["error_id"]) == (400, "invalid-email")
