"""A chat visitor proves the e-mail address or phone they typed with a one-time code.

The code goes out through the real e-mail channel (to the relay the tests run) or the SMS channel
(to the fake Twilio API); the visitor types it back in the widget's socket. Until then the typed
detail is a claim; after it, the conversation is that customer's. Code requests are capped per
conversation and per address, wrong codes per code.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from cti.app import ServerSettings
from cti.domain import Channel, Direction, Identity, IdentityKind, Interaction, InteractionState
from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.peers import SmtpSink, free_port
from tests.adapters.sms.fake_twilio import FakeTwilio, sms_section
from tests.security.chat_support import take_offer, visitor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANN = "ann.lee@example.com"
ANN_PHONE = "+14155550142"


@dataclass
class World:
    center: Center
    sink: SmtpSink
    twilio: FakeTwilio


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    sink, twilio = SmtpSink(), FakeTwilio()
    await sink.start()
    await twilio.start()
    channels = {**email_channel(tmp_path, smtp_port=free_port(), relay_port=sink.port, acknowledge=False),
                "sms": sms_section(twilio)}
    try:
        async with running_center(tmp_path, channels) as center:
            yield World(center, sink, twilio)
    finally:
        await twilio.close()
        await sink.aclose()


async def seed_ann(center: Center) -> str:
    """Ann, known by e-mail and phone, with a closed conversation."""
    context = center.services.context
    customer = await context.resolve_customer(
        [Identity(IdentityKind.EMAIL, ANN), Identity(IdentityKind.PHONE, ANN_PHONE)],
        display_name="Ann Lee", actor="test", reason="seed")
    await context.save_interaction(Interaction(
        id="int-ann-before", channel=Channel.EMAIL, direction=Direction.INBOUND, customer_id=customer.id,
        queue="support", state=InteractionState.CLOSED, arrived_at=1.0))
    return customer.id


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)


def mail_text(parsed: EmailMessage) -> str:
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def test_an_emailed_code_proves_the_typed_address(world: World) -> None:
    center = world.center
    ann_id = await seed_ann(center)
    alice = await center.agent_socket("alice")
    chat, welcome = await visitor(center, name="Ann Lee", email="Ann.Lee@Example.com")
    assert welcome["claims"] == ["email"]

    # No conversation yet: nothing to attach a code to.
    await chat.send({"type": "send_code", "to": "email"})
    assert (await chat.expect("error"))["error_id"] == "no-conversation"
    await chat.send({"type": "message", "body": "what did I order last time?"})
    offer = await take_offer(alice)
    interaction_id = offer["interaction_id"]
    assert offer["screen_pop"]["customer"]["id"] != ann_id  # a claim until proven

    await chat.send({"type": "send_code", "to": "phone"})  # not given: nothing to send to
    assert (await chat.expect("error"))["error_id"] == "nothing-to-verify"
    await chat.send({"type": "send_code", "to": "email"})
    assert await chat.expect("code_sent") == {"type": "code_sent", "to": "email"}
    [sent] = await world.sink.wait_for(1)
    assert sent.rcpt_tos == [ANN]
    code = code_in(mail_text(sent.message))

    wrong = "000000" if code != "000000" else "111111"
    await chat.send({"type": "verify_code", "code": wrong})
    assert (await chat.expect("error"))["error_id"] == "code-wrong"
    await chat.send({"type": "verify_code", "code": code})
    assert await chat.expect("verified") == {"type": "verified", "kinds": ["email"]}

    # The conversation is Ann's now: on her profile, with her history.
    status, body = await center.api("alice", "GET", f"/api/interactions/{interaction_id}")
    assert status == 200, body
    status, customer = await center.api("sam", "GET", f"/api/customers/{body['customer_id']}")
    assert status == 200 and customer["id"] == ann_id, customer
    assert ("chat", welcome["visitor_id"]) in {(i["kind"], i["value"]) for i in customer["identities"]}
    status, page = await center.api("sam", "GET", f"/api/customers/{ann_id}/timeline")
    assert {"int-ann-before", interaction_id} <= {e["interaction_id"] for e in page["entries"]}
    # The code is used up.
    await chat.send({"type": "verify_code", "code": code})
    assert (await chat.expect("error"))["error_id"] in ("code-expired", "code-wrong")
    await chat.close()
    await alice.close()


async def test_a_texted_code_proves_the_typed_phone(world: World) -> None:
    center = world.center
    ann_id = await seed_ann(center)
    alice = await center.agent_socket("alice")
    chat, welcome = await visitor(center, name="Ann", phone="(415) 555-0142")
    assert welcome["claims"] == ["phone"]
    await chat.send({"type": "message", "body": "it is me, Ann"})
    offer = await take_offer(alice)
    await chat.send({"type": "send_code", "to": "phone"})
    await chat.expect("code_sent")
    sent = await world.twilio.wait_sent(1)
    assert sent["To"] == ANN_PHONE
    await chat.send({"type": "verify_code", "code": code_in(sent["Body"])})
    assert await chat.expect("verified") == {"type": "verified", "kinds": ["phone"]}
    status, body = await center.api("alice", "GET", f"/api/interactions/{offer['interaction_id']}")
    assert status == 200, body
    status, customer = await center.api("sam", "GET", f"/api/customers/{body['customer_id']}")
    assert status == 200 and customer["id"] == ann_id, customer
    await chat.close()
    await alice.close()


async def test_codes_are_capped_per_conversation_and_guesses_per_code(world: World) -> None:
    center = world.center
    await seed_ann(center)
    alice = await center.agent_socket("alice")
    chat, _ = await visitor(center, email=ANN)
    await chat.send({"type": "message", "body": "send me codes"})
    await take_offer(alice)
    for _ in range(3):  # identity.chat_codes_per_window, by default
        await chat.send({"type": "send_code", "to": "email"})
        await chat.expect("code_sent")
    await chat.send({"type": "send_code", "to": "email"})
    refused = await chat.expect("error")
    assert refused["error_id"] == "too-many-codes" and refused["details"]["retry_after"] > 0
    assert len(await world.sink.wait_for(3)) == 3

    # Guessing: five wrong tries lock the codes, after which even the right one is refused.
    code = code_in(mail_text(world.sink.received[-1].message))
    wrong = "000000" if code != "000000" else "111111"
    errors = []
    for _ in range(5):
        await chat.send({"type": "verify_code", "code": wrong})
        errors.append((await chat.expect("error"))["error_id"])
    assert errors[-1] == "code-locked" or errors == ["code-wrong"] * 5
    await chat.send({"type": "verify_code", "code": code})
    assert (await chat.expect("error"))["error_id"] == "code-locked"

    # Another conversation cannot be used to keep mailing the same address.
    other, _ = await visitor(center, email=ANN)
    await other.send({"type": "message", "body": "me again"})
    await take_offer(alice)
    await other.send({"type": "send_code", "to": "email"})
    assert (await other.expect("error"))["error_id"] == "too-many-codes"
    assert len(world.sink.received) == 3
    await chat.close()
    await other.close()
    await alice.close()


async def test_the_cap_on_codes_holds_across_nodes(
        tmp_path: Path, cluster_node: Callable[[str], ServerSettings]) -> None:
    sink = SmtpSink()
    await sink.start()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        async with running_center(tmp_path / "a", email_channel(
                tmp_path / "a", smtp_port=free_port(), relay_port=sink.port, acknowledge=False),
                cluster_node("node-a")) as a, running_center(tmp_path / "b", email_channel(
                tmp_path / "b", smtp_port=free_port(), relay_port=sink.port, acknowledge=False),
                cluster_node("node-b")) as b:
            alice = await a.agent_socket("alice")
            for center, asks in ((a, 2), (b, 1)):
                chat, _ = await visitor(center, email=ANN)
                await chat.send({"type": "message", "body": f"codes from {center.url}"})
                await take_offer(alice)
                for _ in range(asks):
                    await chat.send({"type": "send_code", "to": "email"})
                    await chat.expect("code_sent")
                await chat.close()
            # The fourth code to the same address, from a third conversation on either node: refused.
            chat, _ = await visitor(a, email=ANN)
            await chat.send({"type": "message", "body": "one more"})
            await take_offer(alice)
            await chat.send({"type": "send_code", "to": "email"})
            assert (await chat.expect("error"))["error_id"] == "too-many-codes"
            assert len(await sink.wait_for(3)) == 3
            await chat.close()
            await alice.close()
    finally:
        await sink.aclose()
