"""The SMS channel end to end: the whole server on a real port, Twilio's webhooks signed with the
SDK's own validator, its REST API played by a local server, and an agent on the real socket."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from adapters.sms.adapter import STATUS_PATH, WEBHOOK_PATH
from cti.app import ServerSettings
from cti.domain import Channel, Identity, IdentityKind, Message, MessageSender
from tests.adapters.center import Center, running_center
from tests.adapters.sms.fake_twilio import (
    AUTH_TOKEN,
    OUR_NUMBER,
    PUBLIC_URL,
    SALES_NUMBER,
    FakeTwilio,
    Refusal,
    inbound_sms,
    post_webhook,
    sign,
    sms_section,
)
from tests.wsclient import JsonSocket

pytestmark = pytest.mark.slow

ANN = "+15551230001"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


async def text(center: Center, sid: str, body: str, *, from_: str = ANN, **extra: str) -> None:
    status, content_type, answer = await post_webhook(
        center.http, center.url, WEBHOOK_PATH, inbound_sms(sid, from_, body, **extra))
    assert status == 200, answer
    assert content_type == "text/xml"
    assert answer.endswith("<Response/>")


async def offered(agent: JsonSocket) -> dict[str, Any]:
    return await agent.expect("interaction.offered")


async def accept(agent: JsonSocket, interaction_id: str) -> None:
    ack = await agent.command({"type": "accept", "interaction_id": interaction_id})
    assert ack["type"] == "ack", ack


async def reply(center: Center, interaction_id: str, body: str) -> str:
    status, message = await center.api("alice", "POST", f"/api/interactions/{interaction_id}/reply",
                                       {"body": body})
    assert status == 201, message
    return str(message["id"])


async def status_of(agent: JsonSocket, message_id: str, status: str) -> dict[str, Any]:
    return await agent.expect(lambda m: m.get("type") == "message.status"
                              and m.get("message_id") == message_id and m.get("status") == status)


async def test_sms_to_agent_reply_to_twilio_and_delivery_status(
        tmp_path: Path, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        # The same number called in before: the SMS is the same customer's.
        caller = await center.services.context.resolve_customer(
            [Identity(IdentityKind.PHONE, ANN)], display_name="Ann Lee", actor="test", reason="a call")
        alice = await center.agent_socket("alice")
        await text(center, "SM" + "a" * 32, "Where is my parcel?")

        offer = await offered(alice)
        pop = offer["screen_pop"]
        assert pop["interaction"]["channel"] == "sms"
        assert pop["interaction"]["customer_id"] == caller.id
        assert pop["interaction"]["channel_refs"] == {"sms_customer": ANN, "sms_number": OUR_NUMBER}
        assert pop["customer"]["identities"] == [{"kind": "phone", "value": ANN}]
        assert [m["body"] for m in pop["messages"]] == ["Where is my parcel?"]
        assert pop["context"] == {"FromState": "NY", "FromCountry": "US"}
        interaction_id = offer["interaction_id"]
        await accept(alice, interaction_id)

        message_id = await reply(center, interaction_id, "It left our depot this morning.")
        sent = await twilio.wait_sent(1)
        assert twilio.problems == []
        assert (sent["To"], sent["From"]) == (ANN, OUR_NUMBER)
        assert sent["Body"] == "It left our depot this morning."
        callback = urlsplit(sent["StatusCallback"])
        assert f"{callback.scheme}://{callback.netloc}{callback.path}" == PUBLIC_URL + STATUS_PATH
        queued = await status_of(alice, message_id, "queued")
        assert queued["channel_ref"] == sent["Sid"]

        # Twilio reports delivery to the callback URL it was given, signed.
        callback_path = f"{callback.path}?{callback.query}"
        form = {"MessageSid": sent["Sid"], "MessageStatus": "delivered", "AccountSid": twilio.account_sid,
                "To": ANN, "From": OUR_NUMBER, "ApiVersion": "2010-04-01"}
        status, _, _ = await post_webhook(center.http, center.url, callback_path, form)
        assert status == 200
        delivered = await status_of(alice, message_id, "delivered")
        assert delivered["channel_ref"] == sent["Sid"] and delivered["why"] is None
        # A redelivered callback is not shown twice; progress ("sent") is not shown at all.
        for again in (form, {**form, "MessageStatus": "sent"}):
            status, _, _ = await post_webhook(center.http, center.url, callback_path, again)
            assert status == 200
        # The reply's MessageSid now threads back to the interaction.
        found = await center.services.context.find_interaction_by_message_ref([sent["Sid"]])
        assert found is not None and found.id == interaction_id
        await alice.close()
        assert not [m for m in alice.seen if m.get("type") == "message.status"
                    and m.get("status") in ("delivered", "sent")]
    assert AUTH_TOKEN not in caplog.text


async def test_same_number_continues_while_open_then_a_new_interaction(
        tmp_path: Path, twilio: FakeTwilio) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        alice = await center.agent_socket("alice")
        await text(center, "SM" + "1" * 32, "Hello")
        first = (await offered(alice))["interaction_id"]
        await accept(alice, first)

        await text(center, "SM" + "2" * 32, "Are you there?")
        added = await alice.expect(lambda m: m.get("type") == "message.added"
                                   and m["message"]["body"] == "Are you there?")
        assert added["interaction_id"] == first
        messages = await center.services.context.messages(first)
        assert [m.body for m in messages] == ["Hello", "Are you there?"]

        ack = await alice.command({"type": "complete", "interaction_id": first, "disposition": "resolved"})
        assert ack["type"] == "ack", ack
        await text(center, "SM" + "3" * 32, "One more thing")
        second = (await offered(alice))["interaction_id"]
        assert second != first
        assert [m.body for m in await center.services.context.messages(second)] == ["One more thing"]


async def test_texts_arriving_together_make_one_interaction(tmp_path: Path, twilio: FakeTwilio) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        await asyncio.gather(*(text(center, f"SM{n:032d}", f"part {n}") for n in range(4)))
        [interaction] = await center.services.context.list_interactions(open_only=False)
        bodies = sorted(m.body for m in await center.services.context.messages(interaction.id))
        assert bodies == ["part 0", "part 1", "part 2", "part 3"]


async def test_replies_taken_before_a_shutdown_still_go_out(tmp_path: Path, twilio: FakeTwilio) -> None:
    twilio.delay = 0.3  # Twilio is slow today: the replies queue up behind each other
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        alice = await center.agent_socket("alice")
        await text(center, "SM" + "f" * 32, "Hello?")
        interaction_id = (await offered(alice))["interaction_id"]
        await accept(alice, interaction_id)
        for n in range(3):
            await reply(center, interaction_id, f"reply {n}")
        await alice.close()
        # ...and the server is stopped (a deploy) while they wait their turn.
    assert [m["Body"] for m in twilio.sent] == ["reply 0", "reply 1", "reply 2"]


async def test_a_reply_stored_by_a_node_that_died_before_sending_it_is_sent_once(
        tmp_path: Path, twilio: FakeTwilio) -> None:
    settings = ServerSettings(db_url=f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", node_id="test",
                              reply_recovery_after=0.5)
    async with running_center(tmp_path, {"sms": sms_section(twilio)}, settings) as center:
        alice = await center.agent_socket("alice")
        await text(center, "SM" + "g" * 32, "Any news?")
        interaction_id = (await offered(alice))["interaction_id"]
        await accept(alice, interaction_id)
        sent_live = await reply(center, interaction_id, "Sent the normal way.")
        await status_of(alice, sent_live, "queued")

        # A reply stored by another node, which died before its dispatcher heard of it.
        orphan = Message(id="msg-orphan", interaction_id=interaction_id, sender=MessageSender.AGENT,
                         body="Stored, then the node died.", at=time.time(), agent_id="alice")
        assert await center.services.context.add_message(orphan)
        status = await status_of(alice, "msg-orphan", "queued")
        assert status["channel_ref"].startswith("SM")
        await asyncio.sleep(2.5)  # two more recovery passes: nothing goes out twice
        assert [m["Body"] for m in twilio.sent] == ["Sent the normal way.", "Stored, then the node died."]
        await alice.close()


@pytest.mark.integration
async def test_texts_arriving_together_at_two_nodes_make_one_interaction(
        tmp_path: Path, twilio: FakeTwilio, cluster_node: Callable[[str], ServerSettings]) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio)}, cluster_node("node-a")) as a, \
            running_center(tmp_path, {"sms": sms_section(twilio)}, cluster_node("node-b")) as b:
        # Twilio's load balancer spreads one customer's burst over both nodes.
        await asyncio.gather(*(text(a if n % 2 else b, f"SM{n:032d}", f"part {n}") for n in range(6)))
        [interaction] = await a.services.context.list_interactions(open_only=False)
        bodies = sorted(m.body for m in await b.services.context.messages(interaction.id))
        assert bodies == [f"part {n}" for n in range(6)]


@pytest.mark.integration
async def test_a_reply_made_on_one_node_is_texted_once(
        tmp_path: Path, twilio: FakeTwilio, cluster_node: Callable[[str], ServerSettings]) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio)}, cluster_node("node-a")) as a, \
            running_center(tmp_path, {"sms": sms_section(twilio)}, cluster_node("node-b")) as b:
        alice = await b.agent_socket("alice")
        await text(a, "SM" + "e" * 32, "Where is my parcel?")
        interaction_id = (await offered(alice))["interaction_id"]
        await accept(alice, interaction_id)
        message_id = await reply(b, interaction_id, "On its way.")
        await status_of(alice, message_id, "queued")
        await asyncio.sleep(0.5)  # both nodes have heard the reply by now
        assert [m["Body"] for m in twilio.sent] == ["On its way."]  # texted once, not once per node
        assert twilio.problems == []


async def test_after_the_window_a_new_interaction(tmp_path: Path, twilio: FakeTwilio) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio, window_seconds=1)}) as center:
        await text(center, "SM" + "4" * 32, "First")
        await asyncio.sleep(1.2)
        await text(center, "SM" + "5" * 32, "Later")
        context = center.services.context
        first = await context.find_interaction_by_message_ref(["SM" + "4" * 32])
        later = await context.find_interaction_by_message_ref(["SM" + "5" * 32])
        assert first is not None and later is not None
        assert first.id != later.id and first.customer_id == later.customer_id


async def test_mms_links_are_kept(tmp_path: Path, twilio: FakeTwilio) -> None:
    media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME"
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        await text(center, "MM" + "6" * 32, "Photo of the damage", NumMedia="2",
                   MediaUrl0=media + "1", MediaContentType0="image/jpeg",
                   MediaUrl1=media + "2", MediaContentType1="video/mp4")
        found = await center.services.context.find_interaction_by_message_ref(["MM" + "6" * 32])
        assert found is not None
        [message] = await center.services.context.messages(found.id)
        assert message.body == (f"Photo of the damage\n[image/jpeg] {media}1\n[video/mp4] {media}2")


async def test_forged_missing_and_replayed_webhooks(tmp_path: Path, twilio: FakeTwilio) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        form = inbound_sms("SM" + "7" * 32, ANN, "Let me in")
        context = center.services.context
        forged = {
            "missing": None,
            "wrong token": sign(WEBHOOK_PATH, form, token="not-the-auth-token"),
            "other url": sign(WEBHOOK_PATH, form, public_url="https://evil.example"),
            "garbage": "bm90IGEgc2lnbmF0dXJl",
        }
        for name, signature in forged.items():
            status, _, _ = await post_webhook(center.http, center.url, WEBHOOK_PATH, form,
                                              signature=signature)
            assert status == 403, name
        # A field changed after Twilio signed it.
        headers = {"X-Twilio-Signature": sign(WEBHOOK_PATH, form)}
        async with center.http.post(center.url + WEBHOOK_PATH, data={**form, "Body": "Changed"},
                                    headers=headers) as r:
            assert r.status == 403
        # The status callback is checked the same way.
        status, _, _ = await post_webhook(center.http, center.url, STATUS_PATH,
                                          {"MessageSid": "SMx", "MessageStatus": "delivered"}, signature=None)
        assert status == 403
        assert await context.list_interactions(open_only=False) == []
        assert await context.find_customer(Identity(IdentityKind.PHONE, ANN)) is None

        for _ in range(3):
            status, _, _ = await post_webhook(center.http, center.url, WEBHOOK_PATH, form)
            assert status == 200
        [interaction] = await context.list_interactions(open_only=False)
        assert interaction.channel is Channel.SMS
        assert [m.body for m in await context.messages(interaction.id)] == ["Let me in"]


async def test_stop_refuses_replies_and_start_allows_them(tmp_path: Path, twilio: FakeTwilio) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        alice = await center.agent_socket("alice")
        await text(center, "SM" + "8" * 32, "My order is late")
        interaction_id = (await offered(alice))["interaction_id"]
        await accept(alice, interaction_id)

        await text(center, "SM" + "9" * 32, " stop ")
        # The agent sees the STOP on the conversation...
        await alice.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "stop")
        # ...and is told why the next reply does not go.
        refused_id = await reply(center, interaction_id, "Sorry to hear that")
        refused = await status_of(alice, refused_id, "refused")
        assert refused["why"] == "opted-out"
        audit = await center.services.context.audit_log(target=f"sms-consent:{ANN}")
        assert [e.action for e in audit] == ["sms.opt-out"]

        await text(center, "SM" + "a1" * 16, "START")
        # The STOP delivered again (or replayed: Twilio signatures do not expire) changes nothing.
        await text(center, "SM" + "9" * 32, " stop ")
        allowed_id = await reply(center, interaction_id, "Welcome back")
        await status_of(alice, allowed_id, "queued")
        sent = await twilio.wait_sent(1)
        assert sent["Body"] == "Welcome back"
        assert [s["Body"] for s in twilio.sent] == ["Welcome back"]


async def test_stop_without_an_open_conversation_starts_nothing(tmp_path: Path, twilio: FakeTwilio) -> None:
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        await text(center, "SM" + "b2" * 16, "UNSUBSCRIBE")
        await text(center, "SM" + "b2" * 16, "UNSUBSCRIBE")  # redelivered: recorded once
        context = center.services.context
        assert await context.list_interactions(open_only=False) == []
        audit = await context.audit_log(target=f"sms-consent:{ANN}")
        assert [(e.action, e.details["keyword"]) for e in audit] == [("sms.opt-out", "UNSUBSCRIBE")]


async def test_twilio_errors_become_failed_statuses(tmp_path: Path, twilio: FakeTwilio) -> None:
    twilio.refuse[ANN] = Refusal(400, 21610, "Attempt to send to unsubscribed recipient")
    section = sms_section(twilio, numbers={SALES_NUMBER: "support"})
    async with running_center(tmp_path, {"sms": section}) as center:
        alice = await center.agent_socket("alice")
        await text(center, "SM" + "c3" * 16, "Hi", to=SALES_NUMBER)
        interaction_id = (await offered(alice))["interaction_id"]
        await accept(alice, interaction_id)

        failed_id = await reply(center, interaction_id, "Hello Ann")
        failed = await status_of(alice, failed_id, "failed")
        assert failed["why"] == "twilio-21610"
        assert twilio.sent == [] and twilio.problems == []
        # Twilio holds a STOP we never saw: the next reply is refused here, without a request.
        refused_id = await reply(center, interaction_id, "Hello again")
        assert (await status_of(alice, refused_id, "refused"))["why"] == "opted-out"

        # The server still serves: another customer, answered from the number they wrote to.
        bob_phone = "+15551230002"
        await text(center, "SM" + "d4" * 16, "Hello?", from_=bob_phone, to=SALES_NUMBER)
        other = (await offered(alice))["interaction_id"]
        await accept(alice, other)
        sent_id = await reply(center, other, "Yes?")
        sent = await twilio.wait_sent(1)
        assert (sent["To"], sent["From"]) == (bob_phone, SALES_NUMBER)
        await status_of(alice, sent_id, "queued")

        # Twilio could not deliver it after all: the agent is told, with the carrier's code. (A
        # callback URL without our names, as one set in the console: found by its MessageSid.)
        form = {"MessageSid": sent["Sid"], "MessageStatus": "undelivered", "ErrorCode": "30003",
                "To": bob_phone, "From": SALES_NUMBER, "AccountSid": twilio.account_sid}
        status, _, _ = await post_webhook(center.http, center.url, STATUS_PATH, form)
        assert status == 200
        undelivered = await status_of(alice, sent_id, "undelivered")
        assert undelivered["why"] == "twilio-30003"


async def test_twilio_unreachable_is_a_failed_status(tmp_path: Path, twilio: FakeTwilio) -> None:
    await twilio.close()  # nothing listens on its port any more
    async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
        alice = await center.agent_socket("alice")
        await text(center, "SM" + "e5" * 16, "Hi")
        interaction_id = (await offered(alice))["interaction_id"]
        await accept(alice, interaction_id)
        failed_id = await reply(center, interaction_id, "Hello")
        failed = await status_of(alice, failed_id, "failed")
        assert failed["why"] == "twilio-unreachable"
