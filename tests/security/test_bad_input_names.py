"""A customer's name that arrives with control characters on a channel (an e-mail display name)
is cleaned, not refused: the mail is stored and the name holds no line break or escape."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.email import submit_async
from cti.domain import Channel
from tests.adapters.center import running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import SUPPORT
from tests.adapters.x.conftest import KEYS, fake_x, oauth1_section
from tests.adapters.x.fake_x import FakeX
from tests.adapters.x.payloads import delivery, tweet_v11, user_v11, x_signature
from tests.server_process import free_port
from tests.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["fake_x"]  # the X tests' fixture, used here too


async def test_control_characters_in_an_email_display_name_are_replaced(tmp_path: Path) -> None:
    port = free_port()
    # RFC 2047 lets a display name carry any byte: here a line break, an escape and a NUL.
    mail = (b"From: =?utf-8?q?Ann_Lee=0AINFO_forged=1B=5B2J=00?= <ann@example.org>\r\n"
            b"To: " + SUPPORT.encode() + b"\r\nSubject: order 42\r\nMessage-ID: <names-1@example.org>\r\n"
            b"\r\nWhere is my order?\r\n")
    async with running_center(tmp_path, email_channel(tmp_path, smtp_port=port, relay_port=None)) as center:
        await submit_async("127.0.0.1", port, mail, mail_from="ann@example.org", rcpt_to=[SUPPORT])

        async def arrived() -> list[str]:
            found = [i for i in await center.services.context.list_interactions(limit=10)
                     if i.channel is Channel.EMAIL]
            return [i.customer_id for i in found]

        customer_id = (await until(arrived, what="the e-mail interaction"))[0]
        customer = await center.services.context.customer(customer_id)
        assert customer.display_name == "Ann Lee INFO forged [2J"


async def test_control_characters_in_an_x_profile_name_are_replaced(tmp_path: Path, fake_x: FakeX) -> None:
    """X sends the sender's profile name as its owner typed it; the mention is still stored."""
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        user = user_v11("777", "annlee", "Ann\r\nINFO forged\x1b[2J\u2028x")
        body = delivery(tweets=[tweet_v11("9001", user, "@AcmeHelp where is my order?")])
        headers = {"Content-Type": "application/json",
                   "x-twitter-webhooks-signature": x_signature(KEYS.consumer_secret, body)}
        async with center.http.post(f"{center.url}/webhooks/x", data=body, headers=headers) as r:
            assert r.status == 200, await r.text()
        found = await center.services.context.list_interactions(limit=10)
        customer = await center.services.context.customer(found[0].customer_id)
        assert customer.display_name == "Ann INFO forged [2J x"


async def test_a_text_with_control_characters_is_kept_cleaned_on_postgresql(tmp_path: Path,
                                                                            pg_schema: str) -> None:
    """A customer's SMS (signed by Twilio, typed by anyone) holding NUL and escape characters is
    stored and offered with them removed: PostgreSQL cannot store NUL, and the message must not
    be lost to a 500 that Twilio would retry for ever."""
    from cti.app import ServerSettings
    from tests.adapters.sms.fake_twilio import FakeTwilio, sms_section
    from tests.adapters.sms.test_sms_flow import offered, text

    twilio = FakeTwilio()
    await twilio.start()
    try:
        settings = ServerSettings(db_url=pg_schema, node_id="nul-test")
        async with running_center(tmp_path, {"sms": sms_section(twilio)}, settings=settings) as center:
            alice = await center.agent_socket("alice")
            await text(center, "SM" + "e" * 32, "where\x00 is my\x1b[31m parcel?\tthanks")
            offer = await offered(alice)
            assert [m["body"] for m in offer["screen_pop"]["messages"]] == [
                "where is my[31m parcel?\tthanks"]
    finally:
        await twilio.close()
