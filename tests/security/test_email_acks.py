"""Our automatic acknowledgements cannot be aimed at a stranger or used to carry a stranger's text.

Through the server's own SMTP listener (mail sent in with ``smtplib``) and a real SMTP relay on
loopback that captures what we send.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.email import submit_async
from cti.domain import Channel
from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel, sink, smtp_port
from tests.adapters.email.mails import SUPPORT, mail, raw
from tests.adapters.email.peers import SmtpSink
from tests.waiting import until

__all__ = ["sink", "smtp_port"]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def send(port: int, message: object, *, mail_from: str) -> None:
    result = await submit_async("127.0.0.1", port, raw(message), mail_from=mail_from,  # type: ignore[arg-type]
                                rcpt_to=[SUPPORT])
    assert result.accepted


async def stored(center: Center) -> int:
    found = await center.services.context.list_interactions(limit=1000)
    return sum(1 for i in found if i.channel is Channel.EMAIL)


async def test_the_acknowledgement_never_goes_to_a_reply_to_the_sender_chose(
        tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    async with running_center(tmp_path, email_channel(tmp_path, smtp_port=smtp_port,
                                                      relay_port=sink.port)) as center:
        await send(smtp_port, mail(sender="Ann Lee <ann.lee@example.com>", subject="Order 42",
                                   headers={"Reply-To": "victim@elsewhere.example"}),
                   mail_from="ann.lee@example.com")
        [ack] = await sink.wait_for(1)
        assert ack.rcpt_tos == ["ann.lee@example.com"]
        assert await stored(center) == 1


async def test_no_acknowledgement_when_the_envelope_sender_is_not_aligned_with_from(
        tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    async with running_center(tmp_path, email_channel(tmp_path, smtp_port=smtp_port,
                                                      relay_port=sink.port)) as center:
        # A forged From: the mail is stored for an agent to read, but nobody is mailed.
        await send(smtp_port, mail(sender="CEO <ceo@bank.example>", subject="Urgent"),
                   mail_from="mailer@evil.example")
        # The null sender (a bounce) is never acknowledged either (nor stored: it is automatic).
        await send(smtp_port, mail(sender="Bea <bea@example.org>", subject="Bounced?"), mail_from="")
        # Aligned by organizational domain (DMARC's relaxed alignment): acknowledged, to the
        # envelope sender.
        await send(smtp_port, mail(sender="Raj <raj@example.co.uk>", subject="Hello"),
                   mail_from="raj@mail.example.co.uk")
        [ack] = await sink.wait_for(1)
        assert ack.rcpt_tos == ["raj@mail.example.co.uk"]
        await until(lambda: _count(center, 2), what="both people's mails to be stored")
        assert len(sink.received) == 1


async def _count(center: Center, n: int) -> bool:
    return await stored(center) >= n


async def test_the_acknowledgement_has_a_subject_of_our_own(
        tmp_path: Path, sink: SmtpSink, smtp_port: int) -> None:
    async with running_center(tmp_path, email_channel(tmp_path, smtp_port=smtp_port,
                                                      relay_port=sink.port)) as center:
        await send(smtp_port, mail(subject="You won! Claim your prize at https://evil.example/win"),
                   mail_from="ann.lee@example.com")
        [ack] = await sink.wait_for(1)
        [interaction] = await center.services.context.list_interactions(limit=10)
        tag = interaction.channel_refs["email_tag"]
        assert ack.message["Subject"] == f"We have received your message [#{tag}]"
        assert "evil.example" not in ack.message.as_string()


async def test_acknowledgements_have_a_global_hourly_cap(
        tmp_path: Path, sink: SmtpSink, smtp_port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.email.replies")
    channel = email_channel(tmp_path, smtp_port=smtp_port, relay_port=sink.port, ack_limit_total_per_hour=3)
    async with running_center(tmp_path, channel) as center:
        senders = [f"customer{n}@example{n}.com" for n in range(5)]
        for address in senders:  # five different people: the per-recipient cap is never reached
            await send(smtp_port, mail(sender=address, subject="Hello"), mail_from=address)
        await until(lambda: _count(center, 5), what="all five mails to be stored")
        await until(lambda: sum("reason=hourly-total" in r.getMessage() for r in caplog.records) == 2,
                    what="two acknowledgements to be withheld")
        assert len(sink.received) == 3
        assert sorted(r for m in sink.received for r in m.rcpt_tos) == sorted(senders[:3])
