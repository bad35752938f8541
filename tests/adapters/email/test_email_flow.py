"""E-mail through the real server: SMTP in with ``smtplib``, the agent on the WebSocket and API,
replies and acknowledgements out through a real SMTP relay on loopback."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path
from typing import Any

import pytest

from adapters.channel import AdapterDeps
from adapters.email import from_config, submit_async
from cti.domain import Channel
from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import SUPPORT, bare_id, mail, raw
from tests.adapters.email.peers import SmtpSink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANN = "ann.lee@example.com"


async def send(port: int, message: Any, *, mail_from: str = ANN, rcpt_to: str = SUPPORT) -> Any:
    data = message if isinstance(message, bytes) else raw(message)
    return await submit_async("127.0.0.1", port, data, mail_from=mail_from, rcpt_to=[rcpt_to])


async def email_interactions(center: Center) -> list[Any]:
    found = await center.services.context.list_interactions(limit=1000)
    return [i for i in found if i.channel is Channel.EMAIL]


async def bodies(center: Center, interaction_id: str) -> list[str]:
    return [m.body for m in await center.services.context.messages(interaction_id)]


async def test_a_mail_is_offered_acknowledged_answered_and_the_answer_threads_back(
        tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=sink.port, from_name="ACME Support")
    async with running_center(tmp_path, channels) as center:
        alice = await center.agent_socket("alice")
        first = mail(subject="Order 42 missing", body="My order 42 has not arrived.\n\nAnn")
        assert (await send(smtp_port, first)).accepted

        offer = await alice.expect("interaction.offered")
        pop = offer["screen_pop"]
        interaction_id = offer["interaction_id"]
        assert pop["interaction"]["channel"] == "email"
        assert pop["interaction"]["subject"] == "Order 42 missing"
        assert pop["customer"]["display_name"] == "Ann Lee"
        assert {"kind": "email", "value": ANN} in pop["customer"]["identities"]
        assert [m["body"] for m in pop["messages"]] == ["My order 42 has not arrived.\n\nAnn"]
        assert pop["context"]["email.from"] == ANN and pop["context"]["email.to"] == SUPPORT
        tag = pop["interaction"]["channel_refs"]["email_tag"]
        assert len(tag) == 8

        # The acknowledgement: once, automatic, from the address written to, with the reference.
        [ack] = await sink.wait_for(1)
        assert ack.mail_from == "" and ack.rcpt_tos == [ANN]
        am = ack.message
        assert am["From"] == f"ACME Support <{SUPPORT}>"
        assert am["Subject"] == f"We have received your message [#{tag}]"  # ours, never theirs
        assert am["In-Reply-To"] == first["Message-ID"]
        assert am["Auto-Submitted"] == "auto-replied"
        assert f"[#{tag}]" in am.get_content()

        accepted = await alice.command({"type": "accept", "interaction_id": interaction_id})
        assert accepted["type"] == "ack", accepted
        status, _ = await center.api("alice", "POST", f"/api/interactions/{interaction_id}/reply",
                                     {"body": "Sorry Ann, we ship a new one today.\nAlice"})
        assert status == 201
        sent = await alice.expect("message.status")
        assert sent["status"] == "sent" and sent["interaction_id"] == interaction_id, sent

        _, reply = await sink.wait_for(2)
        rm = reply.message
        assert reply.mail_from == SUPPORT and reply.rcpt_tos == [ANN]
        assert rm["From"] == f"ACME Support <{SUPPORT}>" and rm["To"] == ANN
        assert rm["Subject"] == f"Re: Order 42 missing [#{tag}]"
        assert rm["In-Reply-To"] == first["Message-ID"]
        assert first["Message-ID"] in rm["References"]
        assert bare_id(rm["Message-ID"]) == sent["channel_ref"]
        assert bare_id(rm["Message-ID"]).endswith("@acme.example")
        assert rm["Auto-Submitted"] is None
        assert rm.get_content().startswith("Sorry Ann, we ship a new one today.")

        # The customer answers our reply: same interaction, quoted history trimmed, no new ack.
        answer = mail(subject=f"Re: Order 42 missing [#{tag}]",
                      body="Great, thanks!\n\nOn Mon, 1 Dec 2026 at 10:00, ACME Support wrote:\n> Sorry Ann",
                      in_reply_to=rm["Message-ID"], references=[first["Message-ID"], rm["Message-ID"]])
        assert (await send(smtp_port, answer)).accepted
        added = await alice.expect(lambda m: m.get("type") == "message.added"
                                   and m["message"]["sender"] == "customer")
        assert added["interaction_id"] == interaction_id
        assert added["message"]["body"] == "Great, thanks!"

        # The same mail again (a sender's retry): accepted, stored once.
        assert (await send(smtp_port, answer)).accepted
        assert await bodies(center, interaction_id) == [
            "My order 42 has not arrived.\n\nAnn", "Sorry Ann, we ship a new one today.\nAlice",
            "Great, thanks!"]
        assert len(await email_interactions(center)) == 1
        await asyncio.sleep(0.3)
        assert len(sink.received) == 2  # no acknowledgement for a continued thread
        await alice.close()


async def test_threading_by_reference_tag_and_by_a_reply_to_the_acknowledgement(
        tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    async with running_center(tmp_path, email_channel(tmp_path, smtp_port=smtp_port,
                                                      relay_port=sink.port)) as center:
        first = mail(subject="Invoice 1042 charged twice")
        assert (await send(smtp_port, first)).accepted
        [ack] = await sink.wait_for(1)
        [interaction] = await email_interactions(center)
        tag = interaction.channel_refs["email_tag"]

        # A reply to the acknowledgement from a client that sets only In-Reply-To.
        to_ack = mail(subject="Re: something else", body="Also 1043.", in_reply_to=ack.message["Message-ID"])
        assert (await send(smtp_port, to_ack)).accepted
        # A fresh mail (no threading headers) with the tag in the subject, from the same customer.
        tagged = mail(subject=f"Fwd: invoice [#{tag}]", body="Here is the PDF.")
        assert (await send(smtp_port, tagged)).accepted
        assert await bodies(center, interaction.id) == ["My order 42 has not arrived.", "Also 1043.",
                                                        "Here is the PDF."]

        # The same tag from someone else does not join Ann's interaction: a tag is guessable.
        stranger = mail(sender="Eve <eve@example.net>", subject=f"Re: [#{tag}]", body="Let me in.")
        assert (await send(smtp_port, stranger, mail_from="eve@example.net")).accepted
        found = await email_interactions(center)
        assert len(found) == 2
        eve = next(i for i in found if i.id != interaction.id)
        assert await bodies(center, eve.id) == ["Let me in."]
        await sink.wait_for(2)  # Eve's new thread is acknowledged with its own tag
        eve_tag = eve.channel_refs["email_tag"]
        assert sink.received[1].message["Subject"] == f"We have received your message [#{eve_tag}]"


async def test_automatic_mail_never_starts_a_loop(tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    async with running_center(tmp_path, email_channel(tmp_path, smtp_port=smtp_port,
                                                      relay_port=sink.port)) as center:
        alice = await center.agent_socket("alice")
        first = mail(subject="Where is my parcel?")
        assert (await send(smtp_port, first)).accepted
        offer = await alice.expect("interaction.offered")
        interaction_id = offer["interaction_id"]
        await alice.command({"type": "accept", "interaction_id": interaction_id})
        await sink.wait_for(1)  # the acknowledgement of the customer's own mail
        status, _ = await center.api("alice", "POST", f"/api/interactions/{interaction_id}/reply",
                                     {"body": "It left our warehouse yesterday."})
        assert status == 201
        _, reply = await sink.wait_for(2)
        our_id = reply.message["Message-ID"]

        # New threads from machines: none is stored, none acknowledged.
        machines = [
            mail(sender="Ann Lee <ann.lee@example.com>", subject="Out of office",
                 headers={"Auto-Submitted": "auto-replied"}),
            mail(sender="news@shop.example", subject="Our deals", headers={"Precedence": "bulk"}),
            mail(sender="list@lists.example", subject="[list] hello",
                 headers={"List-Id": "<l.lists.example>"}),
            mail(sender="noreply@service.example", subject="Your receipt"),
            mail(sender=SUPPORT, subject="Our own mail come back"),
            mail(sender="bob@example.org", subject="Vacation", headers={"X-Autoreply": "yes"}),
        ]
        for m in machines:
            assert (await send(smtp_port, m, mail_from="x@example.org")).accepted
        null_sender = mail(sender="Mail Delivery System <MAILER-DAEMON@mx.example.org>",
                           subject="Undelivered Mail Returned to Sender")
        assert (await send(smtp_port, null_sender, mail_from="")).accepted
        assert len(await email_interactions(center)) == 1

        # Automatic mail about our thread is stored on it, labelled, and never answered.
        ooo = mail(subject="Automatic reply: Re: Where is my parcel?", body="I am away until Monday.",
                   in_reply_to=our_id, headers={"Auto-Submitted": "auto-replied"})
        assert (await send(smtp_port, ooo)).accepted
        bounce = bounce_for(reply.raw, our_id)
        assert (await send(smtp_port, bounce, mail_from="")).accepted
        stored = await bodies(center, interaction_id)
        assert stored[2] == "[automatic reply]\nI am away until Monday."
        assert stored[3].startswith("[delivery failure report]\n")
        assert "could not be delivered" in stored[3]
        assert len(await email_interactions(center)) == 1
        await asyncio.sleep(0.3)
        assert len(sink.received) == 2
        await alice.close()


async def test_automatic_mail_may_be_stored_but_is_still_not_acknowledged(
        tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=sink.port, automatic="store")
    async with running_center(tmp_path, channels) as center:
        ooo = mail(sender="Bob <bob@example.org>", subject="Out of office",
                   headers={"Auto-Submitted": "auto-replied"}, body="Away.")
        assert (await send(smtp_port, ooo, mail_from="bob@example.org")).accepted
        [interaction] = await email_interactions(center)
        assert interaction.context["email.automatic"] == "auto-reply"
        assert "email_ack" not in interaction.channel_refs
        await asyncio.sleep(0.3)
        assert sink.received == []


async def test_over_size_and_unknown_recipients_are_refused_at_smtp_time(
        tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=sink.port, max_message_bytes=20_000)
    async with running_center(tmp_path, channels) as center:
        big = raw(mail(body="x" * 60 + "\n" + ("lorem ipsum " * 8 + "\n") * 400))
        # smtplib announces the size (the listener offers SIZE): refused at MAIL FROM.
        result = await send(smtp_port, big)
        assert result.code == 552 and "size" in result.message.lower()

        # A client that does not announce it: refused after DATA, with the same code.
        def without_size() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
                client.ehlo()
                assert client.mail(ANN)[0] == 250
                assert client.rcpt(SUPPORT)[0] == 250
                return client.data(big)

        code, text = await asyncio.to_thread(without_size)
        assert code == 552 and b"Too much mail data" in text

        result = await send(smtp_port, mail(to="nobody@acme.example"), rcpt_to="nobody@acme.example")
        assert result.code == 550
        assert await email_interactions(center) == []
        assert sink.received == []


async def test_a_refused_reply_tells_the_agent_why(tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    async with running_center(tmp_path, email_channel(tmp_path, smtp_port=smtp_port,
                                                      relay_port=sink.port)) as center:
        alice = await center.agent_socket("alice")
        gone = mail(sender="Gone <gone@refused.example>", subject="Hello")
        assert (await send(smtp_port, gone, mail_from="gone@refused.example")).accepted
        offer = await alice.expect("interaction.offered")
        await alice.command({"type": "accept", "interaction_id": offer["interaction_id"]})
        status, _ = await center.api("alice", "POST", f"/api/interactions/{offer['interaction_id']}/reply",
                                     {"body": "Hello back"})
        assert status == 201
        outcome = await alice.expect("message.status")
        assert outcome["status"] == "refused" and outcome["why"] == "recipient-refused"
        await alice.close()


def bounce_for(original: bytes, original_id: str) -> bytes:
    """A delivery status notification as Postfix writes one, quoting our reply."""
    boundary = "BOUNDARY-dsn"
    return (
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n"
        "To: support@acme.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.com>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Your message could not be delivered to ann.lee@example.com: mailbox full.\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; ann.lee@example.com\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
    ).encode() + original + f"\r\n--{boundary}--\r\n".encode()


async def test_receive_without_a_socket_stores_a_message_delivered_many_times_at_once_once(
        tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as center:
        services = center.services
        deps = AdapterDeps(live=services.live, interactions=services.interactions,
                           context=services.context, hub=services.hub, clock=services.clock, ids=services.ids)
        adapter = from_config({}, deps)
        data = raw(mail(message_id="<same@example.com>"))
        try:
            results = await asyncio.gather(*(adapter.receive(data, envelope_sender=ANN, recipients=[SUPPORT])
                                             for _ in range(5)))
        finally:
            await adapter.aclose()
        assert sorted(r.disposition.value for r in results) == ["duplicate"] * 4 + ["stored"]
        assert len({r.interaction_id for r in results if r.interaction_id}) == 1
        [interaction] = await email_interactions(center)
        assert await bodies(center, interaction.id) == ["My order 42 has not arrived."]
