"""Hostile identities: who a customer is must be proven before history is shown or records merge.

Driven through the real server edge (the chat widget's socket, SMTP to the server's own listener,
a signed Twilio webhook, the desktop's REST API and socket) on the in-process server.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity
from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import SUPPORT, mail, raw
from tests.adapters.email.peers import SmtpSink, free_port
from tests.adapters.sms.fake_twilio import FakeTwilio, inbound_sms, post_webhook, sms_section
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration]

ANN_MAIL = "ann.lee@example.com"
BEN_PHONE = "+14155550177"
SECRET_NOTE = "card 4111 1111 1111 1111 on file; internal: VIP refund approved"


@dataclass
class World:
    center: Center
    sink: SmtpSink
    twilio: FakeTwilio
    smtp_port: int

    async def email(self, body: str, *, sender: str = f"Ann Lee <{ANN_MAIL}>",
                    headers: dict[str, str] | None = None) -> None:
        from adapters.email import submit_async

        answer = await submit_async("127.0.0.1", self.smtp_port, raw(mail(
            sender=sender, subject="Order 42", body=body, headers=headers)),
            mail_from=ANN_MAIL, rcpt_to=[SUPPORT])
        assert answer.accepted

    async def sms(self, sid: str, phone: str, body: str) -> None:
        status, _, _ = await post_webhook(self.center.http, self.center.url, "/webhooks/twilio/sms",
                                          inbound_sms(sid, phone, body))
        assert status == 200

    async def chat(self, **hello: Any) -> JsonSocket:
        sock = JsonSocket(await self.center.http.ws_connect(
            f"{self.center.url.replace('http', 'ws', 1)}/ws/chat"))
        await sock.send({"type": "hello", **hello})
        await sock.expect("welcome")
        return sock


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    identity = getattr(request, "param", None)
    sink, twilio = SmtpSink(), FakeTwilio()
    await sink.start()
    await twilio.start()
    smtp_port = free_port()
    channels = {**email_channel(tmp_path, smtp_port=smtp_port, relay_port=sink.port, acknowledge=False),
                "sms": sms_section(twilio)}
    try:
        extra = {"identity": identity} if identity is not None else {}
        async with running_center(tmp_path, channels, **extra) as center:
            yield World(center, sink, twilio, smtp_port)
    finally:
        await twilio.close()
        await sink.aclose()


def claim_path(iid: str, claim: dict[str, Any], action: str) -> str:
    return f"/api/interactions/{iid}/claims/{claim['id']}/{action}"


async def take(agent: JsonSocket) -> dict[str, Any]:
    """The next offer, accepted; returns the offer."""
    offer = await agent.expect("interaction.offered")
    ack = await agent.command({"type": "accept", "interaction_id": offer["interaction_id"]})
    assert ack["type"] == "ack", ack
    return offer


async def finish(agent: JsonSocket, interaction_id: str, note: str | None = None) -> None:
    done = await agent.command({"type": "complete", "interaction_id": interaction_id,
                                "disposition": "resolved", **({"note": note} if note else {})})
    assert done["type"] == "ack", done


async def known_customers(world: World, alice: JsonSocket) -> tuple[str, str]:
    """Ann (by e-mail, with an internal note) and Ben (by SMS): their customer ids."""
    await world.email("Order 42 never came.")
    ann_offer = await take(alice)
    await finish(alice, ann_offer["interaction_id"], note=SECRET_NOTE)
    await world.sms("SM0001", BEN_PHONE, "Where is my parcel?")
    ben_offer = await take(alice)
    await finish(alice, ben_offer["interaction_id"])
    return ann_offer["screen_pop"]["customer"]["id"], ben_offer["screen_pop"]["customer"]["id"]


async def test_a_chat_visitor_typing_known_details_is_shown_as_a_claim_and_merges_nothing(
        world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    ann, ben = await known_customers(world, alice)
    assert ann != ben

    chat = await world.chat(name="Ann Lee", email="Ann.Lee@Example.com", phone="415 555 0177")
    await chat.send({"type": "message", "body": "what did I order?"})
    offer = await alice.expect("interaction.offered")
    pop = offer["screen_pop"]
    # The visitor is nobody yet: neither Ann's nor Ben's record, history or notes.
    assert pop["customer"]["id"] not in (ann, ben)
    assert SECRET_NOTE not in json.dumps(offer)
    assert "Order 42 never came." not in json.dumps(offer)
    assert "Where is my parcel?" not in json.dumps(offer)
    assert {i["kind"] for i in pop["customer"]["identities"]} <= {"chat"}
    # The typed details are claims, each said to be one.
    claims = {(c["kind"], c["value"]): c for c in pop["claims"]}
    assert set(claims) == {("email", ANN_MAIL), ("phone", BEN_PHONE)}
    assert claims[("email", ANN_MAIL)]["text"] == "claims to be Ann Lee (e-mail) — not verified"
    assert all(c["level"] == "claimed" for c in claims.values())
    levels = {(i["kind"], i["level"]) for i in pop["identities"]}
    assert ("email", "claimed") in levels and ("phone", "claimed") in levels

    # Ann and Ben are still two customers; nothing merged, nothing audited as a merge.
    for customer_id in (ann, ben):
        status, body = await center.api("sam", "GET", f"/api/customers/{customer_id}")
        assert status == 200 and body["id"] == customer_id and body["merges"] == [], body
    status, audit = await center.api("sam", "GET", "/api/audit")
    assert not [e for e in audit if e["action"] == "customer.merge"], audit
    # A claimed address is no customer identity: it finds nobody new, Ann keeps hers.
    status, body = await center.api("sam", "GET", f"/api/customers/{ann}")
    assert ("email", ANN_MAIL) in {(i["kind"], i["value"]) for i in body["identities"]}
    await chat.close()
    await alice.close()


@pytest.mark.parametrize("world", [{"email": {"trusted_authserv_ids": ["trusted.example"]}}],
                         indirect=True)
async def test_mail_that_fails_dmarc_at_a_trusted_server_is_a_claim(world: World) -> None:
    alice = await world.center.agent_socket("alice")
    ann, _ = await known_customers(world, alice)
    await world.email("Please send my invoice to a new address", headers={
        "Authentication-Results": "trusted.example; dmarc=fail header.from=example.com"})
    offer = await take(alice)
    pop = offer["screen_pop"]
    assert pop["customer"]["id"] != ann
    assert SECRET_NOTE not in json.dumps(offer)
    assert [(c["kind"], c["value"], c["level"]) for c in pop["claims"]] == [("email", ANN_MAIL, "claimed")]
    assert pop["claims"][0]["text"] == "claims to be Ann Lee (e-mail) — not verified"
    await alice.close()


@pytest.mark.parametrize("world", [{"email": {"trusted_authserv_ids": ["trusted.example"]}}],
                         indirect=True)
async def test_a_dmarc_header_from_an_untrusted_server_is_ignored(world: World) -> None:
    alice = await world.center.agent_socket("alice")
    ann, _ = await known_customers(world, alice)
    # Anyone can write this header; only the trusted server's own verdict counts.
    await world.email("Still waiting", headers={"Authentication-Results": "evil.example; dmarc=fail"})
    offer = await take(alice)
    assert offer["screen_pop"]["customer"]["id"] == ann
    assert offer["screen_pop"]["claims"] == []
    assert ("email", ANN_MAIL, "asserted") in {
        (i["kind"], i["value"], i["level"]) for i in offer["screen_pop"]["identities"]}
    await alice.close()


@pytest.mark.parametrize("world", [{"email": {"trusted_authserv_ids": ["trusted.example"],
                                              "require_dmarc_pass": True}}], indirect=True)
async def test_a_forged_pass_does_not_satisfy_require_dmarc_pass(world: World) -> None:
    alice = await world.center.agent_socket("alice")
    await world.email("First", headers={"Authentication-Results": "trusted.example; dmarc=pass"})
    first = await take(alice)
    await finish(alice, first["interaction_id"])
    ann = first["screen_pop"]["customer"]["id"]
    assert first["screen_pop"]["claims"] == []
    await world.email("Second", headers={"Authentication-Results": "evil.example; dmarc=pass"})
    second = await take(alice)
    assert second["screen_pop"]["customer"]["id"] != ann
    assert [c["value"] for c in second["screen_pop"]["claims"]] == [ANN_MAIL]
    await alice.close()


async def test_asserted_identities_of_two_customers_make_a_suggestion_not_a_merge(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    ann, ben = await known_customers(world, alice)
    # A call whose caller ID is Ben's, from a line that also asserts Ann's address.
    interaction = await center.services.interactions.start_inbound(
        channel=Channel.SMS, display_name=None, first_message="hello", identities=[
            InboundIdentity(Identity(IdentityKind.PHONE, BEN_PHONE), IdentityLevel.ASSERTED, "caller-id"),
            InboundIdentity(Identity(IdentityKind.EMAIL, ANN_MAIL), IdentityLevel.ASSERTED, "sender")])
    assert interaction.customer_id == ben
    status, body = await center.api("sam", "GET", f"/api/customers/{ann}")
    assert body["merges"] == [] and body["id"] == ann
    status, suggestions = await center.api("sam", "GET", f"/api/customers/{ben}/suggestions")
    assert status == 200, suggestions
    [suggestion] = suggestions
    assert set(suggestion["customer_ids"]) == {ann, ben} and suggestion["status"] == "open"

    # Bob holds nothing of theirs: he may not see or decide it, and learns nothing.
    status, body = await center.api("bob", "GET", f"/api/customers/{ben}/suggestions")
    assert status == 404, body
    status, body = await center.api("bob", "POST", f"/api/suggestions/{suggestion['id']}/confirm",
                                    {"reason": "looks alike"})
    assert status == 404, body
    # A reason is required.
    status, body = await center.api("sam", "POST", f"/api/suggestions/{suggestion['id']}/confirm", {})
    assert (status, body["error_id"]) == (400, "missing-field")
    # Alice holds Ben's new interaction: she confirms, and the merge is audited with her reason.
    await take(alice)
    status, merged = await center.api("alice", "POST", f"/api/suggestions/{suggestion['id']}/confirm",
                                      {"reason": "customer confirmed both on the phone"})
    assert status == 200, merged
    assert merged["customer"]["id"] in (ann, ben)
    status, audit = await center.api("sam", "GET", "/api/audit")
    [merge] = [e for e in audit if e["action"] == "customer.merge"]
    assert merge["actor"] == "alice"
    assert merge["details"]["reason"] == "customer confirmed both on the phone"
    status, again = await center.api("alice", "POST", f"/api/suggestions/{suggestion['id']}/dismiss",
                                     {"reason": "oops"})
    assert (status, again["error_id"]) == (409, "suggestion-decided")
    assert interaction.customer_id == ben
    await alice.close()


async def test_a_suggestion_can_be_dismissed(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    ann, _ = await known_customers(world, alice)
    await center.services.interactions.start_inbound(
        channel=Channel.SMS, display_name=None, first_message="hello", identities=[
            InboundIdentity(Identity(IdentityKind.PHONE, BEN_PHONE), IdentityLevel.ASSERTED, "caller-id"),
            InboundIdentity(Identity(IdentityKind.EMAIL, ANN_MAIL), IdentityLevel.ASSERTED, "sender")])
    _, [suggestion] = await center.api("sam", "GET", f"/api/customers/{ann}/suggestions")
    status, body = await center.api("sam", "POST", f"/api/suggestions/{suggestion['id']}/dismiss",
                                    {"reason": "different people"})
    assert status == 200, body
    status, left = await center.api("sam", "GET", f"/api/customers/{ann}/suggestions")
    assert left == []
    status, profile = await center.api("sam", "GET", f"/api/customers/{ann}")
    assert profile["merges"] == []
    await alice.close()


async def test_verified_identities_of_two_customers_merge(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    ann, ben = await known_customers(world, alice)
    interaction = await center.services.interactions.start_inbound(
        channel=Channel.SMS, display_name=None, first_message="hello", identities=[
            InboundIdentity(Identity(IdentityKind.PHONE, BEN_PHONE), IdentityLevel.VERIFIED, "one-time-code"),
            InboundIdentity(Identity(IdentityKind.EMAIL, ANN_MAIL), IdentityLevel.VERIFIED, "hmac")])
    status, body = await center.api("sam", "GET", f"/api/customers/{ben}")
    assert status == 200 and body["id"] == interaction.customer_id and interaction.customer_id in (ann, ben)
    assert len([m for m in body["merges"] if m["undone_at"] is None]) == 1
    await alice.close()


async def test_the_agent_sends_a_code_to_the_claimed_address_and_the_code_proves_it(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    ann, _ = await known_customers(world, alice)
    sent_before = len(world.sink.received)
    chat = await world.chat(name="Ann Lee", email=ANN_MAIL)
    await chat.send({"type": "message", "body": "hello, it's Ann"})
    offer = await take(alice)
    iid = offer["interaction_id"]
    [claim] = offer["screen_pop"]["claims"]
    # Bob does not hold the interaction: he may not send codes for it.
    status, body = await center.api("bob", "POST", claim_path(iid, claim, "send-code"))
    assert status == 403, body
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "send-code"))
    assert status == 200, body
    [mail_sent] = (await world.sink.wait_for(sent_before + 1))[sent_before:]
    assert mail_sent.rcpt_tos == [ANN_MAIL]
    code = re.search(r"\b(\d{6})\b", mail_sent.message.get_content()).group(1)  # type: ignore[union-attr]
    # A wrong code is refused and counted; the right one links the interaction to Ann.
    wrong = "000000" if code != "000000" else "111111"
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "verify"),
                                    {"code": wrong})
    assert (status, body["error_id"]) == (400, "code-wrong"), body
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "verify"),
                                    {"code": code})
    assert status == 200, body
    assert body["customer"]["id"] == ann
    status, timeline = await center.api("alice", "GET", f"/api/customers/{ann}/timeline")
    assert iid in {e["interaction_id"] for e in timeline["entries"]}
    # The code is used up.
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "verify"),
                                    {"code": code})
    assert status == 409, body
    await chat.close()
    await alice.close()


async def test_too_many_wrong_codes_lock_the_claim(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    chat = await world.chat(name="Ann Lee", email=ANN_MAIL)
    await chat.send({"type": "message", "body": "hello"})
    offer = await take(alice)
    iid, [claim] = offer["interaction_id"], offer["screen_pop"]["claims"]
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "send-code"))
    assert status == 200, body
    [sent] = await world.sink.wait_for(1)
    code = re.search(r"\b(\d{6})\b", sent.message.get_content()).group(1)  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    errors = []
    for _ in range(6):
        status, body = await center.api("alice", "POST",
                                        claim_path(iid, claim, "verify"), {"code": wrong})
        errors.append(body["error_id"])
    assert errors[-1] == "code-locked"
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "verify"),
                                    {"code": code})
    assert (status, body["error_id"]) == (409, "code-locked")
    await chat.close()
    await alice.close()


async def test_the_agent_links_a_claim_by_hand_with_a_reason_and_it_is_audited(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    ann, _ = await known_customers(world, alice)
    chat = await world.chat(name="Ann Lee", email=ANN_MAIL)
    await chat.send({"type": "message", "body": "hello again"})
    offer = await take(alice)
    iid, [claim] = offer["interaction_id"], offer["screen_pop"]["claims"]
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "link"), {})
    assert (status, body["error_id"]) == (400, "missing-field")
    status, body = await center.api("bob", "POST", claim_path(iid, claim, "link"),
                                    {"reason": "trust me"})
    assert status == 403, body
    status, body = await center.api("alice", "POST", claim_path(iid, claim, "link"),
                                    {"reason": "she named her last three orders"})
    assert status == 200, body
    assert body["customer"]["id"] == ann
    status, audit = await center.api("sam", "GET", "/api/audit")
    [link] = [e for e in audit if e["action"] == "claim.link"]
    assert link["actor"] == "alice" and link["details"]["reason"] == "she named her last three orders"
    await chat.close()
    await alice.close()


async def test_linking_customers_by_hand_needs_the_role_or_an_interaction_and_a_reason(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    ann, ben = await known_customers(world, alice)
    pair = {"a": {"kind": "email", "value": ANN_MAIL}, "b": {"kind": "phone", "value": BEN_PHONE}}
    # Bob holds nothing of theirs.
    status, body = await center.api("bob", "POST", "/api/customers/link", {**pair, "reason": "same"})
    assert status == 404, body
    # A reason is required, even of a supervisor.
    status, body = await center.api("sam", "POST", "/api/customers/link", pair)
    assert (status, body["error_id"]) == (400, "missing-field")
    # Alice holds an interaction of Ben's.
    await world.sms("SM0002", BEN_PHONE, "me again")
    await take(alice)
    status, body = await center.api("alice", "POST", "/api/customers/link",
                                    {**pair, "reason": "he read the order number"})
    assert status == 200, body
    status, audit = await center.api("sam", "GET", "/api/audit")
    [merge] = [e for e in audit if e["action"] == "customer.merge"]
    assert merge["actor"] == "alice" and merge["details"]["reason"] == "he read the order number"
    assert body["id"] in (ann, ben)
    await alice.close()


async def test_link_with_a_equal_b_tells_an_agent_nothing(world: World) -> None:
    center = world.center
    alice = await center.agent_socket("alice")
    await known_customers(world, alice)
    known = {"kind": "email", "value": ANN_MAIL}
    unknown = {"kind": "email", "value": "nobody@example.org"}
    answers = []
    for identity in (known, unknown):
        answers.append(await center.api("bob", "POST", "/api/customers/link",
                                        {"a": identity, "b": identity, "reason": "probe"}))
    (s1, b1), (s2, b2) = answers
    assert s1 == s2 == 404
    assert b1 == b2, (b1, b2)
    assert "cus-" not in json.dumps(b1)
    await alice.close()


@pytest.mark.parametrize(("raw_number", "expected"), [
    ("1 415 555 0100", "+14155550100"),
    ("+1 (415) 555-0100", "+14155550100"),
    ("(415) 555-0100", "+14155550100"),
    ("0044 20 7946 0958", "+442079460958"),
])
def test_phone_numbers_are_parsed_by_phonenumbers(raw_number: str, expected: str) -> None:
    from cti.identities import normalise_phone

    assert normalise_phone(raw_number, region="US") == expected


def test_a_national_number_takes_the_configured_region() -> None:
    from cti.config import parse_config
    from cti.identities import normalise_phone

    base = {"queues": [{"name": "support"}], "agents": [], "chat": {"queue": "support"}}
    config = parse_config({**base, "identity": {"default_region": "GB"}})
    assert normalise_phone("020 7946 0958", region=config.phone_region) == "+442079460958"
    old = parse_config({**base, "default_country_code": "33"})
    assert old.phone_region == "FR"
    assert normalise_phone("06 12 34 56 78", region=old.phone_region) == "+33612345678"


@pytest.mark.parametrize("bad", ["12", "abc", "+0123", "1 415 555 01000000000"])
def test_an_invalid_number_is_a_clear_error(bad: str) -> None:
    from cti.errors import InvalidInput
    from cti.identities import normalise_phone

    with pytest.raises(InvalidInput) as caught:
        normalise_phone(bad, region="US")
    assert caught.value.error_id == "invalid-phone"


async def test_a_typed_number_matches_the_number_twilio_sends(world: World) -> None:
    alice = await world.center.agent_socket("alice")
    await world.sms("SM0100", "+14155550100", "hi from my phone")
    sms = await take(alice)
    await finish(alice, sms["interaction_id"])
    status, body = await world.center.api("sam", "POST", "/api/customers/link", {
        "a": {"kind": "phone", "value": "1 415 555 0100"}, "b": {"kind": "phone", "value": "+14155550100"},
        "reason": "same number"})
    assert status == 200, body
    assert body["id"] == sms["screen_pop"]["customer"]["id"]
    await alice.close()


@pytest.mark.parametrize(("headers", "require", "expected"), [
    (["trusted.example; dmarc=fail header.from=example.com"], False, "claimed"),
    (["evil.example; dmarc=fail"], False, "asserted"),  # not ours: ignored
    (["evil.example; dmarc=pass"], True, "claimed"),  # a forged pass proves nothing
    (["trusted.example; dmarc=pass"], True, "asserted"),
    ([], True, "claimed"),
    ([], False, "asserted"),
    # Ours is the topmost; a "trusted" header further down was written by the sender.
    (["trusted.example; dmarc=fail", "trusted.example; dmarc=pass"], False, "claimed"),
    (["Trusted.Example; DMARC=Fail"], False, "claimed"),
    (["not a header at all;;;"], False, "asserted"),
])
def test_the_sender_level_follows_the_trusted_dmarc_verdict(headers: list[str], require: bool,
                                                            expected: str) -> None:
    from adapters.email.dmarc import sender_level

    level, _ = sender_level(headers, trusted=["trusted.example"], require_pass=require)
    assert level.value == expected
