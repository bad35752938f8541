"""The pure parts of the X channel on plain data: signatures, payload parsing, threading refs,
reply planning, configuration, rate-limit arithmetic."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from adapters.channel import SendRefused
from adapters.x import signing
from adapters.x.config import Mode, parse_x_config
from adapters.x.events import Kind, XEvent, dms_from_v2, from_activity, mentions_from_v2, oldest_first
from adapters.x.poller import FALLBACK_RATE_WAIT, MAX_RATE_WAIT, RESET_MARGIN, newest, rate_wait
from adapters.x.replies import DirectMessage, TweetReply, plan_reply, weighted_length
from adapters.x.threads import (
    EMPTY_BODY,
    REF_CONVERSATION,
    REF_DM_WITH,
    REF_FIRST,
    is_own,
    thread_lookup,
    to_inbound,
)
from adapters.x.webhook import fresh
from cti.config import ConfigError
from cti.domain import (
    Channel,
    Direction,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
)
from cti.domain import MessageSender as S
from tests.adapters.x.payloads import ACCOUNT, dm_v11, tweet_v11, user_v11

ann = user_v11("1001", "ann_lee", "Ann Lee")

# ----- signing ------------------------------------------------------------------------------


def test_crc_and_signature_match_hmac_sha256_base64() -> None:
    mac = hmac.new(b"secret", b"token-1", hashlib.sha256).digest()
    assert signing.crc_response("secret", "token-1") == {
        "response_token": "sha256=" + base64.b64encode(mac).decode()}
    body = b'{"for_user_id":"1"}'
    header = "sha256=" + base64.b64encode(hmac.new(b"secret", body, hashlib.sha256).digest()).decode()
    assert signing.sign("secret", body) == header
    assert signing.verify("secret", body, header)


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha1=abc", "sha256=Zm9v",
                                    signing.sign("other", b"{}"), signing.sign("secret", b"{} ")])
def test_signature_refused(header: str | None) -> None:
    assert not signing.verify("secret", b"{}", header)


# ----- parsing ------------------------------------------------------------------------------


def test_v2_mentions_parsed_with_users_conversation_and_reply_target() -> None:
    page = {
        "data": [
            {"id": "20", "text": "@acme it&amp;s &lt;broken&gt;", "author_id": "1001",
             "conversation_id": "10", "created_at": "2024-05-01T10:00:00.000Z",
             "referenced_tweets": [{"type": "replied_to", "id": "15"}]},
            {"id": "21", "text": "RT @x: @acme", "author_id": "1002",
             "referenced_tweets": [{"type": "retweeted", "id": "3"}]},
            {"id": "not-a-number", "text": "x", "author_id": "1001"},
            {"id": "22", "author_id": "1001"},
            "garbage",
        ],
        "includes": {"users": [{"id": "1001", "username": "ann_lee", "name": "Ann Lee"}]},
        "meta": {"result_count": 5},
    }
    (event,) = mentions_from_v2(page)
    assert event == XEvent(kind=Kind.MENTION, id="20", author_id="1001", text="@acme it&s <broken>",
                           handle="ann_lee", name="Ann Lee", created_at=1714557600.0,
                           conversation_id="10", replied_to="15")
    assert mentions_from_v2({"meta": {"result_count": 0}}) == []


def test_v2_dm_events_keep_message_creates_only() -> None:
    page = {"data": [
        {"id": "31", "event_type": "MessageCreate", "text": "hi & bye", "sender_id": "1002",
         "dm_conversation_id": "1002-4000000001", "created_at": "2024-05-01T10:00:00Z"},
        {"id": "30", "event_type": "ParticipantsJoin", "sender_id": "1002"},
    ], "includes": {"users": [{"id": "1002", "username": "bea_n", "name": "Bea"}]}}
    (event,) = dms_from_v2(page)
    assert (event.kind, event.id, event.text, event.handle, event.dm_conversation_id) == (
        Kind.DM, "31", "hi & bye", "bea_n", "1002-4000000001")


def test_activity_payload_tweets_addressed_to_us_and_dms() -> None:
    long = tweet_v11("41", ann, "@acme short…")
    long.update(truncated=True, extended_tweet={"full_text": "@acme the whole long story"})
    retweet = tweet_v11("42", ann, "RT @acme")
    retweet["retweeted_status"] = {"id_str": "1"}
    elsewhere = tweet_v11("43", ann, "talking to someone else", mentions=["999"])
    reply_to_us = tweet_v11("44", ann, "thanks", in_reply_to="40", in_reply_to_user=ACCOUNT, mentions=[])
    payload: dict[str, Any] = {
        "for_user_id": ACCOUNT,
        "tweet_create_events": [long, retweet, elsewhere, reply_to_us, {"id_str": "45"}],
        "direct_message_events": [dm_v11("51", "1002", ACCOUNT, "hello", at=1_700_000_000.0),
                                  {"type": "message_create", "id": "52"}, {"type": "read_receipt"}],
        "users": {"1002": {"id": "1002", "screen_name": "bea_n", "name": "Bea Novak"}},
    }
    events = from_activity(payload, ACCOUNT)
    assert [(e.kind, e.id, e.text) for e in events] == [
        (Kind.MENTION, "41", "@acme the whole long story"), (Kind.MENTION, "44", "thanks"),
        (Kind.DM, "51", "hello")]
    assert events[1].replied_to == "40" and events[1].conversation_id is None
    assert (events[2].handle, events[2].name, events[2].created_at) == ("bea_n", "Bea Novak", 1_700_000_000.0)
    assert from_activity({**payload, "for_user_id": "777"}, ACCOUNT) == []
    assert from_activity({"for_user_id": ACCOUNT, "tweet_create_events": "nope", "users": 3}, ACCOUNT) == []


def test_oldest_first_sorts_by_snowflake_not_text() -> None:
    events = [XEvent(Kind.DM, i, "1", "") for i in ("100", "99", "1000")]
    assert [e.id for e in oldest_first(events)] == ["99", "100", "1000"]
    assert newest(None, events) == "1000" and newest("5000", events) == "5000" and newest(None, []) is None


# ----- threading ----------------------------------------------------------------------------


def _mention(**kw: Any) -> XEvent:
    base: dict[str, Any] = {"kind": Kind.MENTION, "id": "20", "author_id": "1001", "text": "hi",
                            "handle": "ann_lee", "name": "Ann Lee"}
    return XEvent(**{**base, **kw})


def test_mention_refs_thread_by_reply_target_and_conversation_root() -> None:
    msg = to_inbound(_mention(conversation_id="10", replied_to="15"), queue=None, max_chars=4000)
    assert msg.channel is Channel.X and msg.message_ref == "x-tweet:20"
    assert list(msg.thread_refs) == ["x-tweet:15", "x-tweet:10"]
    # X's own user id: verified (issue 9), so it may merge customers.
    assert list(msg.identities) == [InboundIdentity(Identity(IdentityKind.X, "1001"), IdentityLevel.VERIFIED,
                                                    "x-signed")]
    assert msg.display_name == "Ann Lee" and msg.continue_open_within is None
    assert msg.interaction_refs[REF_FIRST] == "x-tweet:20" and msg.interaction_refs[REF_CONVERSATION] == "10"
    assert msg.context["x.handle"] == "@ann_lee"
    assert msg.context["x.url"] == "https://x.com/ann_lee/status/20"
    assert thread_lookup(_mention(conversation_id="10")) == (REF_CONVERSATION, "10")
    assert thread_lookup(_mention()) is None  # the webhook's v1.1 tweets have no conversation id
    root = to_inbound(_mention(conversation_id="20"), queue="vip", max_chars=4000)
    assert list(root.thread_refs) == [] and root.queue == "vip"


def test_dm_refs_continue_the_senders_open_dm_interaction() -> None:
    dm = XEvent(Kind.DM, "31", "1002", "  ", handle=None, name=None)
    assert thread_lookup(dm) == (REF_DM_WITH, "1002")
    msg = to_inbound(dm, queue=None, max_chars=4000, continues={REF_FIRST: "x-dm:7"})
    assert msg.message_ref == "x-dm:31" and list(msg.thread_refs) == ["x-dm:7"]
    assert msg.body == EMPTY_BODY and msg.display_name is None
    assert msg.interaction_refs[REF_DM_WITH] == "1002"
    long = to_inbound(XEvent(Kind.DM, "32", "1002", "x" * 50), queue=None, max_chars=10)
    assert long.body == "x" * 9 + "…"
    assert is_own(XEvent(Kind.DM, "33", ACCOUNT, "x"), ACCOUNT) and not is_own(dm, ACCOUNT)


def test_stale_events_dropped_unless_age_unlimited() -> None:
    events = [_mention(id="1", created_at=1000.0), _mention(id="2", created_at=1900.0), _mention(id="3")]
    assert [e.id for e in fresh(events, now=2000.0, max_age=600)] == ["2", "3"]
    assert len(fresh(events, now=2000.0, max_age=0)) == 3


# ----- replies ------------------------------------------------------------------------------


def _interaction(refs: dict[str, str]) -> Interaction:
    return Interaction(id="int-1", channel=Channel.X, direction=Direction.INBOUND, customer_id="c",
                       queue="support", state=InteractionState.ACTIVE, channel_refs=refs)


def _msg(sender: S, ref: str | None) -> Message:
    return Message(id=f"m-{ref}", interaction_id="int-1", sender=sender, body="b", at=0.0, channel_ref=ref)


def test_mention_reply_answers_the_latest_customer_tweet() -> None:
    interaction = _interaction({"x_kind": "mention", "x_handle": "ann_lee", REF_FIRST: "x-tweet:20"})
    history = [_msg(S.CUSTOMER, "x-tweet:20"), _msg(S.AGENT, "x-tweet:25"), _msg(S.CUSTOMER, "x-tweet:30"),
               _msg(S.AGENT, None)]
    assert plan_reply(interaction, history, " Thanks! ", mention_in_reply=False) == TweetReply(
        "Thanks!", "30")
    assert plan_reply(interaction, [], "Hi", mention_in_reply=True) == TweetReply("@ann_lee Hi", "20")
    assert plan_reply(interaction, [], "@Ann_Lee hi", mention_in_reply=True).text == "@Ann_Lee hi"
    other = plan_reply(interaction, [], "@ann_leexyz hi", mention_in_reply=True)
    assert other.text == "@ann_lee @ann_leexyz hi"
    with pytest.raises(SendRefused) as refused:
        plan_reply(interaction, [], "é" * 281, mention_in_reply=False)
    assert refused.value.why == "too-long"
    with pytest.raises(SendRefused):
        plan_reply(_interaction({"x_kind": "mention"}), [], "hi", mention_in_reply=False)


def test_dm_reply_goes_to_the_customer() -> None:
    interaction = _interaction({"x_kind": "dm", "x_user_id": "1002"})
    assert plan_reply(interaction, [], "Hello", mention_in_reply=True) == DirectMessage("Hello", "1002")
    with pytest.raises(SendRefused):
        plan_reply(interaction, [], "x" * 10_001, mention_in_reply=False)


def test_weighted_length_counts_links_and_wide_characters_as_x_does() -> None:
    assert weighted_length("hello") == 5
    assert weighted_length("see https://example.com/a/very/long/path?with=query") == 4 + 23
    assert weighted_length("日本") == 4 and weighted_length("👍") == 2
    assert weighted_length("é") == 1  # NFC: one code point


# ----- configuration ------------------------------------------------------------------------

QUEUES = {"support": object()}
OAUTH = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}


def test_config_defaults_and_secrets_hidden() -> None:
    config = parse_x_config({"account_user_id": 42, **OAUTH}, queues=QUEUES)
    assert config.account_user_id == "42" and config.mode is Mode.POLLING and config.user_auth
    assert config.api_base_url == "https://api.twitter.com" and config.webhook_path == "/webhooks/x"
    assert "cs" not in repr(config) and "ats" not in repr(config)
    bearer = parse_x_config({"account_user_id": "42", "bearer_token": "b", "mode": "webhook",
                             "consumer_secret": "cs", "queue": "support", "poll_seconds": 5}, queues=QUEUES)
    assert not bearer.user_auth and bearer.mode is Mode.WEBHOOK and bearer.queue == "support"


@pytest.mark.parametrize("raw", [
    {**OAUTH},  # no account
    {"account_user_id": "@acme", **OAUTH},
    {"account_user_id": "42"},  # no credentials
    {"account_user_id": "42", "consumer_key": "ck", "consumer_secret": "cs"},  # half of OAuth 1.0a
    {"account_user_id": "42", "bearer_token": "b", "mode": "webhook"},  # no consumer secret
    {"account_user_id": "42", "bearer_token": "b", "mode": "stream"},
    {"account_user_id": "42", "bearer_token": "b", "poll_seconds": 0},
    {"account_user_id": "42", "bearer_token": "b", "poll_page_size": 500},
    {"account_user_id": "42", "bearer_token": "b", "queue": "nope"},
    {"account_user_id": "42", "bearer_token": "b", "api_base_url": "ftp://x"},
    {"account_user_id": "42", "bearer_token": "b", "webhook_path": "/api/x"},
    {"account_user_id": "42", "bearer_token": "b", "poll_dms": "yes"},
    {"account_user_id": "42", "bearer_token": "b", "bearer": "typo"},
])
def test_config_errors(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"channels\.x"):
        parse_x_config(raw, queues=QUEUES)


# ----- rate limits --------------------------------------------------------------------------


def test_rate_wait_runs_to_the_reset_within_bounds() -> None:
    assert rate_wait(1010.0, 1000.0) == 10.0 + RESET_MARGIN
    assert rate_wait(900.0, 1000.0) == RESET_MARGIN  # a reset already past: just the margin
    assert rate_wait(10_000_000.0, 1000.0) == MAX_RATE_WAIT  # a clock far off is not believed
    assert rate_wait(None, 1000.0) == FALLBACK_RATE_WAIT
