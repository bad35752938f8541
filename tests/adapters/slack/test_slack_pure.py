"""The pure parts of the Slack channel on plain data: configuration, text, payloads, caches,
signatures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from adapters.channel import AdapterDeps, SendRefused
from adapters.registry import build_adapters
from adapters.slack import SlackAdapter
from adapters.slack.cache import RecentEvents, TtlCache
from adapters.slack.config import SlackConfig, parse_slack_config
from adapters.slack.payloads import (
    REF_CHANNEL,
    REF_FIRST_MESSAGE,
    REF_THREAD,
    REF_THREAD_TS,
    CustomerPost,
    EventCallback,
    Ignored,
    OtherEnvelope,
    PayloadError,
    UrlVerification,
    classify,
    inbound_message,
    parse_envelope,
    retry_of,
)
from adapters.slack.signature import make_verifier, refusal
from adapters.slack.text import TRUNCATED, bounded, escape, plain_text, reply_text
from adapters.slack.web_api import SlackSendError, pick_display_name, retry_after
from cti.clock import ManualClock, SequentialIds
from cti.config import ConfigError, parse_config
from cti.domain import (
    Channel,
    Customer,
    Direction,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
    MessageSender,
)
from cti.live_config import LiveConfig
from tests.adapters.center import center_config

QUEUES = ("support", "billing")
BASE: dict[str, Any] = {"bot_token": "xoxb-secret-token", "signing_secret": "very-secret-signing",
                        "bot_user_id": "U0BOT0001", "channels": ["C0SHARED01"]}


def config(**changes: Any) -> SlackConfig:
    return parse_slack_config({**BASE, **changes}, queues=QUEUES)


# ----- configuration --------------------------------------------------------------------------

def test_config_minimal_and_full() -> None:
    cfg = config()
    assert list(cfg.channels) == ["C0SHARED01"]
    assert cfg.api_base_url == "https://slack.com/api/" and cfg.team_id is None
    assert cfg.queue_for("C0SHARED01") is None

    full = config(channels={"C0A": {"queue": "billing", "name": "acme"}, "C0B": None}, queue="support",
                  team_id="T0OURS", api_base_url="http://127.0.0.1:9/api", timeout=3)
    assert full.queue_for("C0A") == "billing" and full.queue_for("C0B") == "support"
    assert full.channels["C0A"].name == "acme"
    assert full.api_base_url == "http://127.0.0.1:9/api/" and full.timeout == 3.0


@pytest.mark.parametrize("changes", [
    {"bot_token": ""}, {"signing_secret": None}, {"bot_user_id": "my-bot"}, {"channels": []},
    {"channels": ["#support"]}, {"channels": {"C0A": {"queue": "nowhere"}}},
    {"channels": {"C0A": {"colour": "red"}}}, {"queue": "nowhere"}, {"team_id": "ours"},
    {"api_base_url": "ftp://x"}, {"timeout": 0}, {"timeout": True}, {"webhook_path": "/x"},
])
def test_bad_config_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        config(**changes)


def test_secrets_stay_out_of_repr_and_errors() -> None:
    assert "xoxb-secret-token" not in repr(config())
    assert "very-secret-signing" not in repr(config())
    with pytest.raises(ConfigError) as caught:
        parse_slack_config({**BASE, "bot_token": "   "}, queues=QUEUES)
    assert "bot_token" in str(caught.value)


# ----- text -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("slack", "plain"), [
    ("a &lt;b&gt; &amp;amp; c", "a <b> &amp; c"),
    ("see <https://x.example/p?a=1&amp;b=2|the page>", "see the page (https://x.example/p?a=1&b=2)"),
    ("<https://x.example>", "https://x.example"),
    ("<mailto:ann@acme.example|ann@acme.example>", "ann@acme.example"),
    ("hi <@U0BOT0001> and <@U0X|jo>", "hi @U0BOT0001 and @jo"),
    ("in <#C0A|general>", "in #general"),
    ("<!here> <!subteam^S0A|@ops> <!date^1392734382^{date}|Feb 18>", "@here @ops Feb 18"),
    ("a < b and c > d", "a < b and c > d"),
])
def test_plain_text(slack: str, plain: str) -> None:
    assert plain_text(slack) == plain


def test_replies_are_escaped_and_signed() -> None:
    assert escape("<@U1> & <!channel>") == "&lt;@U1&gt; &amp; &lt;!channel&gt;"
    assert reply_text("Ann <ops>", "*done* <!here>") == "*Ann &lt;ops&gt;*: *done* &lt;!here&gt;"
    assert plain_text(escape("x < y & <z>")) == "x < y & <z>"


def test_bounded() -> None:
    assert bounded("short", 10) == "short"
    long = bounded("x" * 100, 40)
    assert len(long) == 40 and long.endswith(TRUNCATED)


# ----- payloads -------------------------------------------------------------------------------

def envelope(event: dict[str, Any], event_id: str = "Ev01") -> EventCallback:
    parsed = parse_envelope(json.dumps({"type": "event_callback", "event_id": event_id,
                                        "team_id": "T0OURS", "event": event}).encode())
    assert isinstance(parsed, EventCallback)
    return parsed


def message(**fields: Any) -> dict[str, Any]:
    return {"type": "message", "channel": "C0SHARED01", "user": "U0JANE", "text": "hello",
            "ts": "1700000000.000100", "team": "T0ACME", "user_team": "T0ACME", **fields}


def test_parse_envelope() -> None:
    assert parse_envelope(b'{"type":"url_verification","challenge":"c1"}') == UrlVerification("c1")
    assert parse_envelope(b'{"type":"app_rate_limited"}') == OtherEnvelope("app_rate_limited")
    assert envelope(message()).event["text"] == "hello"
    for bad in (b"not json", b"[1]", b'{"type":"url_verification"}', b'{"type":"event_callback",'
                b'"event":{}}', b'{"type":"event_callback","event_id":"Ev1","event":"x"}', b"\xff\xfe"):
        with pytest.raises(PayloadError):
            parse_envelope(bad)


def test_retry_headers() -> None:
    assert retry_of({}) is None
    assert retry_of({"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}) == (2, "http_timeout")
    assert retry_of({"X-Slack-Retry-Num": "x"}) == (-1, "unknown")


def test_classify_customer_messages() -> None:
    cfg = config(team_id="T0OURS")
    top = classify(envelope(message()), cfg)
    assert isinstance(top, CustomerPost)
    assert (top.root_ts, top.message_ref, top.thread_key) == (
        "1700000000.000100", "slack:C0SHARED01:1700000000.000100", "C0SHARED01:1700000000.000100")
    reply = classify(envelope(message(ts="1700000001.000200", thread_ts="1700000000.000100")), cfg)
    assert isinstance(reply, CustomerPost) and reply.root_ts == "1700000000.000100"
    broadcast = classify(envelope(message(subtype="thread_broadcast", thread_ts="1700000000.000100",
                                          ts="1700000002.000300")), cfg)
    assert isinstance(broadcast, CustomerPost)
    upload = classify(envelope(message(subtype="file_share", text="",
                                       files=[{"name": "log.txt", "permalink": "https://f.example/1"},
                                              "junk", {"title": "screen"}])), cfg)
    assert isinstance(upload, CustomerPost)
    assert upload.text == "[file] log.txt: https://f.example/1\n[file] screen"


@pytest.mark.parametrize(("fields", "reason"), [
    ({"type": "reaction_added"}, "event reaction_added"),
    ({"channel": "C0ELSEWHERE"}, "channel not watched"),
    ({"subtype": "message_changed"}, "subtype message_changed"),
    ({"subtype": "channel_join"}, "subtype channel_join"),
    ({"subtype": "bot_message", "bot_id": "B1"}, "subtype bot_message"),
    ({"bot_id": "B0OTHER"}, "bot"),
    ({"user": "U0BOT0001"}, "our bot"),
    ({"user": None}, "no user"),
    ({"user_team": "T0OURS"}, "our own workspace"),
    ({"ts": "yesterday"}, "bad ts"),
    ({"thread_ts": 17}, "bad thread_ts"),
    ({"text": "  "}, "empty"),
])
def test_classify_ignores(fields: dict[str, Any], reason: str) -> None:
    assert classify(envelope(message(**fields)), config(team_id="T0OURS")) == Ignored(reason)


def test_without_team_id_everyone_but_bots_is_a_customer() -> None:
    assert isinstance(classify(envelope(message(user_team="T0OURS")), config()), CustomerPost)


def test_inbound_message() -> None:
    cfg = config(channels={"C0SHARED01": {"queue": "billing", "name": "acme"}})
    post = classify(envelope(message(ts="1700000001.000200", thread_ts="1700000000.000100",
                                     text="x" * 50)), cfg)
    assert isinstance(post, CustomerPost)
    msg = inbound_message(post, cfg, display_name="Jane", thread_refs=["slack:C0SHARED01:1700000000.000100"],
                          max_chars=20)
    # A user id in a signed event: verified (issue 9).
    assert msg.channel is Channel.SLACK and msg.identities == [
        InboundIdentity(Identity(IdentityKind.SLACK, "U0JANE"), IdentityLevel.VERIFIED, "slack-signed")]
    assert len(msg.body) == 20 and msg.display_name == "Jane" and msg.queue == "billing"
    assert msg.message_ref == "slack:C0SHARED01:1700000001.000200"
    assert msg.continue_open_within is None  # a new top-level message is a new interaction
    assert msg.interaction_refs == {REF_CHANNEL: "C0SHARED01", REF_THREAD_TS: "1700000000.000100",
                                    REF_THREAD: "C0SHARED01:1700000000.000100",
                                    REF_FIRST_MESSAGE: "slack:C0SHARED01:1700000001.000200"}
    assert msg.context == {"slack_channel": "C0SHARED01", "slack_channel_name": "acme",
                           "slack_team": "T0ACME"}


# ----- caches ---------------------------------------------------------------------------------

def test_ttl_cache_expires_and_is_bounded() -> None:
    clock = ManualClock()
    cache: TtlCache[str, str | None] = TtlCache(clock, max_entries=2)
    cache.put("a", None, ttl=10)
    assert cache.get("a") == (True, None)  # a cached "no answer" is still a hit
    clock.advance(10)
    assert cache.get("a") == (False, None)
    for key in "bcd":
        cache.put(key, key, ttl=10)
    assert len(cache) == 2 and cache.get("b") == (False, None) and cache.get("d") == (True, "d")


def test_recent_events() -> None:
    clock = ManualClock()
    recent = RecentEvents(clock, ttl=60)
    assert recent.claim("Ev1") and not recent.claim("Ev1")
    recent.release("Ev1")
    assert recent.claim("Ev1")
    clock.advance(61)
    assert recent.claim("Ev1")


# ----- signatures -----------------------------------------------------------------------------

def signed(body: bytes, stamp: int, secret: str = "s3cret") -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(stamp), body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": signature}


def test_signature_refusals_on_our_clock() -> None:
    clock = ManualClock(1_700_000_000)
    verifier = make_verifier("s3cret", clock)
    body = b'{"type":"event_callback"}'
    now = 1_700_000_000
    assert refusal(verifier, body, signed(body, now)) is None
    assert refusal(verifier, body, signed(body, now - 299)) is None
    assert refusal(verifier, body, signed(body, now - 301)) == "stale"
    assert refusal(verifier, body, signed(body, now + 301)) == "stale"
    assert refusal(verifier, body, signed(body, now, secret="other")) == "bad-signature"
    assert refusal(verifier, body + b" ", signed(body, now)) == "bad-signature"
    assert refusal(verifier, body, {}) == "unsigned"
    odd_stamp = {**signed(body, now), "X-Slack-Request-Timestamp": "1e9"}
    assert refusal(verifier, body, odd_stamp) == "bad-timestamp"
    assert refusal(verifier, b"\xff", signed(b"", now)) == "bad-body"
    clock.advance(301)  # the same signed request, replayed five minutes later
    assert refusal(verifier, body, signed(body, now)) == "stale"


# ----- Web API answers ------------------------------------------------------------------------

def test_display_name_choice() -> None:
    user = {"name": "jdoe", "real_name": "Jane Doe", "profile": {"display_name": "", "real_name": "J. Doe"}}
    assert pick_display_name({"ok": True, "user": user}) == "J. Doe"
    assert pick_display_name({"ok": True, "user": {**user, "profile": {"display_name": " JD "}}}) == "JD"
    assert pick_display_name({"ok": True, "user": {"name": "jdoe"}}) == "jdoe"
    assert pick_display_name({"ok": False}) is None


def test_retry_after_and_error_text() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    assert retry_after({"Retry-After": "soon"}) == 30.0
    assert retry_after(None) is None
    assert str(SlackSendError("ratelimited", retry_after=12)) == (
        "slack refused the reply: ratelimited, retry after 12 s")


# ----- the registry -----------------------------------------------------------------------------

def bare_deps() -> AdapterDeps:
    nothing: Any = None  # constructors do no I/O: the services are not touched here
    return AdapterDeps(live=LiveConfig(parse_config(center_config({}))), interactions=nothing,
                       context=nothing,
                       hub=nothing, clock=ManualClock(), ids=SequentialIds())


def test_registry_builds_the_adapter_or_refuses_the_section() -> None:
    deps = bare_deps()
    adapters = build_adapters({"slack": {**BASE, "queue": "support"}}, deps)
    assert isinstance(adapters[Channel.SLACK], SlackAdapter)
    with pytest.raises(ConfigError, match="unknown queue"):
        build_adapters({"slack": {**BASE, "queue": "sales"}}, deps)


async def test_a_reply_without_a_slack_thread_is_refused() -> None:
    adapter = SlackAdapter(config(), bare_deps())
    interaction = Interaction(id="int-1", channel=Channel.SLACK, direction=Direction.INBOUND,
                              customer_id="cus-1", queue="support", state=InteractionState.ACTIVE)
    reply = Message(id="msg-1", interaction_id="int-1", sender=MessageSender.AGENT, body="hi", at=0.0,
                    agent_id="alice")
    with pytest.raises(SendRefused) as caught:
        await adapter.send(interaction, reply, Customer(id="cus-1", display_name=None))
    assert caught.value.why == "no-slack-thread"
