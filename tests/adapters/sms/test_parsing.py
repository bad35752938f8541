"""The pure parts of the SMS channel on plain data: forms, keywords, bodies, config."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.locks import KeyedLocks
from adapters.sms.config import DEFAULT_WINDOW, parse_sms_config
from adapters.sms.parsing import (
    EMPTY_BODY,
    MAX_MEDIA,
    Consent,
    Media,
    consent_change,
    failure_why,
    message_body,
    parse_inbound,
    parse_media,
    parse_status,
)
from adapters.sms.rest import TwilioSender
from cti.config import AppConfig, ConfigError, parse_config
from cti.errors import InvalidInput
from tests.adapters.center import center_config

# ----- keywords ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["STOP", "stop", " Stop\n", "STOPALL", "unsubscribe", "Cancel", "END",
                                  "quit", "REVOKE", "optout"])
def test_opt_out_keywords(body: str) -> None:
    assert consent_change(body) is Consent.OPT_OUT


@pytest.mark.parametrize("body", ["START", "yes", " Unstop "])
def test_opt_in_keywords(body: str) -> None:
    assert consent_change(body) is Consent.OPT_IN


@pytest.mark.parametrize("body", ["stop please", "Please stop", "STOP!", "HELP", "info", "", "yes please",
                                  "don't stop"])
def test_other_messages_change_nothing(body: str) -> None:
    # Twilio matches the whole body only: so do we, or our state and its block list disagree.
    assert consent_change(body) is None


def test_twilio_opt_out_type_wins() -> None:
    assert consent_change("ARRET", "STOP") is Consent.OPT_OUT  # an Advanced Opt-Out keyword
    assert consent_change("GO", "START") is Consent.OPT_IN
    assert consent_change("STOP", "HELP") is None


# ----- the incoming-message form -------------------------------------------------------------


def form(**fields: str) -> dict[str, str]:
    return {"MessageSid": "SM1", "From": "+15551230001", "To": "+15550001111", "Body": "Hi",
            "NumMedia": "0", **fields}


def test_parse_inbound() -> None:
    sms = parse_inbound(form(FromCity="ALBANY", FromState="NY", FromCountry=""), default_country_code="1")
    assert (sms.message_sid, sms.from_phone, sms.to_number, sms.text) == \
        ("SM1", "+15551230001", "+15550001111", "Hi")
    assert sms.media == [] and sms.opt_out_type is None
    assert sms.location == {"FromCity": "ALBANY", "FromState": "NY"}


def test_parse_inbound_normalises_numbers() -> None:
    sms = parse_inbound(form(From="(555) 123-0001", To="00441234567890"), default_country_code="1")
    assert (sms.from_phone, sms.to_number) == ("+15551230001", "+441234567890")


def test_short_code_recipient_has_no_number() -> None:
    assert parse_inbound(form(To="12345"), default_country_code="1").to_number is None


@pytest.mark.parametrize("sender", ["", "ACME", "whatsapp:"])
def test_sender_must_be_a_phone(sender: str) -> None:
    with pytest.raises(InvalidInput):
        parse_inbound(form(From=sender), default_country_code="1")


def test_message_sid_required() -> None:
    with pytest.raises(InvalidInput):
        parse_inbound(form(MessageSid=" "), default_country_code="1")


def test_opt_out_type_read() -> None:
    assert parse_inbound(form(OptOutType="stop"), default_country_code="1").opt_out_type == "STOP"


def test_media_read_in_order_bounded_and_only_web_links() -> None:
    fields = form(NumMedia="3", MediaUrl0="https://api.twilio.com/m/0", MediaContentType0="image/png",
                  MediaUrl1="javascript:alert(1)", MediaUrl2="https://api.twilio.com/m/2")
    assert parse_media(fields) == [Media("https://api.twilio.com/m/0", "image/png"),
                                   Media("https://api.twilio.com/m/2", None)]
    many = form(NumMedia="50", **{f"MediaUrl{n}": f"https://m/{n}" for n in range(50)})
    assert len(parse_media(many)) == MAX_MEDIA
    assert parse_media(form(NumMedia="lots")) == []
    assert parse_media(form(NumMedia="-2")) == []


# ----- the stored body -----------------------------------------------------------------------


def test_body_with_links() -> None:
    media = [Media("https://m/1", "image/jpeg"), Media("https://m/2", None)]
    assert message_body(" Look ", media, limit=4000) == "Look\n[image/jpeg] https://m/1\n[media] https://m/2"
    assert message_body("", media[:1], limit=4000) == "[image/jpeg] https://m/1"


def test_empty_message_gets_a_placeholder() -> None:
    assert message_body("  ", [], limit=4000) == EMPTY_BODY


def test_long_text_is_cut_before_the_links() -> None:
    media = [Media("https://m/" + "x" * 40, "image/png")]
    body = message_body("y" * 500, media, limit=100)
    assert len(body) == 100
    assert body.endswith("[image/png] https://m/" + "x" * 40)
    assert body.startswith("y") and "…\n" in body
    assert message_body("y" * 500, [], limit=100) == "y" * 100


# ----- status callbacks ----------------------------------------------------------------------


def test_parse_status() -> None:
    report = parse_status({"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert report is not None and (report.status, report.error_code) == ("undelivered", "30003")
    delivered = parse_status({"MessageSid": "SM9", "MessageStatus": "delivered"})
    assert delivered is not None and delivered.error_code is None
    for progress in ("queued", "sending", "sent", "accepted", "", "DELIVERED-ish"):
        assert parse_status({"MessageSid": "SM9", "MessageStatus": progress}) is None
    assert parse_status({"MessageStatus": "delivered"}) is None


def test_failure_why() -> None:
    assert failure_why("21610") == "twilio-21610"
    assert failure_why(30003) == "twilio-30003"
    assert failure_why(None) == "twilio-error"


# ----- configuration -------------------------------------------------------------------------


def app_config() -> AppConfig:
    return parse_config(center_config({}))


def section(**overrides: Any) -> dict[str, Any]:
    return {"account_sid": "AC1", "auth_token": "secret-token", "public_url": "https://cti.example.com/",
            "from_number": "555-000-1111", **overrides}


def test_config_defaults() -> None:
    cfg = parse_sms_config(section(), app_config())
    assert cfg.public_url == "https://cti.example.com"
    assert cfg.from_number == "+15550001111"
    assert cfg.window_seconds == DEFAULT_WINDOW and cfg.api_base_url is None
    assert cfg.queue_for("+15550001111") is None and cfg.sender_for("support") == "+15550001111"
    assert "secret-token" not in repr(cfg)


def test_config_numbers_per_queue() -> None:
    cfg = parse_sms_config(section(from_number=None, numbers={"+1 555 000 2222": "support"},
                                   window_seconds=600), app_config())
    assert cfg.numbers == {"+15550002222": "support"}
    assert cfg.queue_for("+15550002222") == "support"
    assert cfg.sender_for("support") == "+15550002222"
    assert cfg.sender_for("elsewhere") is None
    assert cfg.window_seconds == 600.0


@pytest.mark.parametrize(("overrides", "complaint"), [
    ({"auth_token": None}, "'auth_token' is required"),
    ({"account_sid": ""}, "'account_sid' is required"),
    ({"public_url": None}, "'public_url' is required"),
    ({"public_url": "cti.example.com"}, "http(s) URL"),
    ({"public_url": "https://cti.example.com/?a=1"}, "http(s) URL"),
    ({"api_base_url": "ftp://x"}, "http(s) URL"),
    ({"from_number": None}, "'from_number' or 'numbers'"),
    ({"from_number": "call me"}, "from_number"),
    ({"numbers": {"+15550002222": "nowhere"}}, "unknown queue 'nowhere'"),
    ({"numbers": ["+15550002222"]}, "'numbers' must map"),
    ({"queue": "nowhere"}, "unknown queue 'nowhere'"),
    ({"window_seconds": 0}, "'window_seconds' must be a positive"),
    ({"window_seconds": "soon"}, "'window_seconds' must be a positive"),
    ({"timeout_seconds": True}, "'timeout_seconds' must be a positive"),
    ({"auth_tokn": "typo"}, "unknown keys ['auth_tokn']"),
])
def test_config_errors(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_sms_config(section(**overrides), app_config())
    assert complaint in str(err.value)
    assert "secret-token" not in str(err.value)


# ----- small helpers -------------------------------------------------------------------------


async def test_keyed_locks_serialise_one_key_and_forget_it() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, name: str) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(0.01)
            order.append(f"{name}-")

    await asyncio.gather(work("a", "1"), work("a", "2"), work("b", "3"))
    assert order.index("1-") < order.index("2+")  # one key: one at a time
    assert order.index("3+") < order.index("1-")  # another key: not held up
    assert len(locks) == 0


async def test_api_base_url_replaces_twilio_origin() -> None:
    sender = TwilioSender(account_sid="AC1", auth_token="t", api_base_url="http://127.0.0.1:9/prefix",
                          timeout=1)
    try:
        target = sender._http._target("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1")
        assert target == "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Messages.json?x=1"
    finally:
        await sender.aclose()
