"""The Slack channel in the whole server: signed Events API deliveries in, the real
``AsyncWebClient`` out to a fake Slack Web API on loopback, an agent on the real WebSocket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cti.domain import InteractionState
from tests.adapters.center import Center, running_center
from tests.adapters.slack.fake_slack import (
    BOT_ID,
    BOT_USER,
    CUSTOMER_TEAM,
    OUR_TEAM,
    SIGNING_SECRET,
    TOKEN,
    FakeSlack,
    body_of,
    message_event,
    serve,
    signed_headers,
    slack_user,
    url_verification,
)
from tests.wsclient import JsonSocket

EVENTS = "/webhooks/slack/events"
SHARED = "C0SHARED01"  # a Slack Connect channel with a customer
OTHER_SHARED = "C0SHARED02"
NOT_WATCHED = "C0INTERNAL"
JANE = "U0JANE0001"
RAJ = "U0RAJ00001"
COLLEAGUE = "U0STAFF001"  # one of ours, writing in the shared channel directly


@dataclass
class Rig:
    center: Center
    slack: FakeSlack

    async def deliver(self, payload: dict[str, Any], **signing: Any) -> tuple[int, Any]:
        body = body_of(payload)
        return await self.post(body, signed_headers(body, **signing))

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        async with self.center.http.post(f"{self.center.url}{EVENTS}", data=body, headers=headers) as r:
            return r.status, (await r.json() if r.content_type == "application/json" else await r.text())

    async def interactions(self) -> list[Any]:
        return list(await self.center.services.context.list_interactions(limit=100))

    async def bodies(self, interaction_id: str) -> list[str]:
        return [m.body for m in await self.center.services.context.messages(interaction_id)]


def slack_section(api_url: str) -> dict[str, Any]:
    return {"bot_token": TOKEN, "signing_secret": SIGNING_SECRET, "bot_user_id": BOT_USER,
            "team_id": OUR_TEAM, "api_base_url": api_url,
            "channels": {SHARED: {"name": "acme-support"}, OTHER_SHARED: None}}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    fake = FakeSlack(users={JANE: slack_user(JANE, "Jane D", "Jane Doe"),
                            RAJ: slack_user(RAJ, "", "Raj Patel")})
    async with serve(fake) as api_url, running_center(tmp_path, {"slack": slack_section(api_url)}) as center:
        yield Rig(center, fake)
    assert fake.problems == []


BASE = int(time.time())  # message ts are ids here: fixed for the run, so a thread names its root


def ts(offset: int) -> str:
    return f"{BASE}.{offset:06d}"


async def accept_offer(agent: JsonSocket) -> dict[str, Any]:
    offer = await agent.expect("interaction.offered")
    ack = await agent.command({"type": "accept", "interaction_id": offer["interaction_id"]})
    assert ack["type"] == "ack", ack
    return offer


async def test_customer_message_agent_reply_thread_and_new_topic(rig: Rig) -> None:
    agent = await rig.center.agent_socket("alice")
    root = ts(100)
    status, _ = await rig.deliver(message_event(SHARED, JANE, "Our &lt;export&gt; fails: <https://acme.example/x|log>",
                                                root))
    assert status == 200

    offer = await accept_offer(agent)
    pop = offer["screen_pop"]
    assert pop["interaction"]["channel"] == "slack"
    assert pop["customer"]["display_name"] == "Jane D"  # from users.info
    assert {"kind": "slack", "value": JANE} in pop["customer"]["identities"]
    assert [m["body"] for m in pop["messages"]] == ["Our <export> fails: log (https://acme.example/x)"]
    assert pop["context"]["slack_channel_name"] == "acme-support"
    interaction_id = offer["interaction_id"]

    ack = await agent.command({"type": "reply", "interaction_id": interaction_id,
                               "body": "Looking <now> & soon"})
    assert ack["type"] == "ack", ack
    sent = await agent.expect(lambda m: m.get("type") == "message.status"
                              and m["interaction_id"] == interaction_id)
    assert sent["status"] == "sent", sent
    [post] = rig.slack.posts
    assert post["channel"] == SHARED and post["thread_ts"] == root
    assert post["text"] == "*Alice Martin*: Looking &lt;now&gt; &amp; soon"
    assert sent["channel_ref"] == f"slack:{SHARED}:{post['ts']}"

    # Slack echoes our own reply as a message event: it is not the customer writing.
    echo = message_event(SHARED, BOT_USER, post["text"], post["ts"], thread_ts=root, team=OUR_TEAM,
                         bot_id=BOT_ID)
    assert (await rig.deliver(echo))[0] == 200

    # A reply in the thread continues the same interaction.
    assert (await rig.deliver(message_event(SHARED, JANE, "thanks, still broken", ts(101),
                                            thread_ts=root)))[0] == 200
    added = await agent.expect(lambda m: m.get("type") == "message.added"
                               and m["message"]["body"] == "thanks, still broken")
    assert added["interaction_id"] == interaction_id
    assert await rig.bodies(interaction_id) == ["Our <export> fails: log (https://acme.example/x)",
                                                "Looking <now> & soon", "thanks, still broken"]

    # A new top-level message is a new matter: a new interaction, offered with its own thread.
    assert (await rig.deliver(message_event(SHARED, JANE, "another question", ts(102))))[0] == 200
    second = await agent.expect("interaction.offered")
    assert second["interaction_id"] != interaction_id
    assert second["screen_pop"]["customer"]["id"] == pop["customer"]["id"]
    assert len(await rig.interactions()) == 2
    assert rig.slack.lookups == [JANE]  # the display name is cached
    await agent.close()


async def test_url_verification_is_answered_only_when_signed(rig: Rig) -> None:
    assert await rig.deliver(url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")) == (
        200, {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    status, answer = await rig.post(body_of(url_verification("abc")), {"Content-Type": "application/json"})
    assert status == 401 and "abc" not in str(answer)


async def test_forged_stale_and_tampered_deliveries_store_nothing(rig: Rig) -> None:
    payload = message_event(SHARED, JANE, "let me in", ts(200))
    body = body_of(payload)
    forged = signed_headers(body, secret="not-the-signing-secret-0000000000")
    stale = signed_headers(body, timestamp=time.time() - 6 * 60)
    future = signed_headers(body, timestamp=time.time() + 6 * 60)
    tampered = signed_headers(body)
    unsigned = {"Content-Type": "application/json"}
    bad_stamp = {**signed_headers(body), "X-Slack-Request-Timestamp": "yesterday"}
    for headers in (forged, stale, future, unsigned, bad_stamp):
        assert (await rig.post(body, headers))[0] == 401, headers
    assert (await rig.post(body.replace(b"let me in", b"let me out"), tampered))[0] == 401
    assert await rig.interactions() == []
    assert rig.slack.lookups == []


async def test_retried_delivery_is_stored_once(rig: Rig) -> None:
    payload = message_event(SHARED, RAJ, "invoice question", ts(300))
    assert (await rig.deliver(payload))[0] == 200
    # Slack timed out waiting (as it thinks) and delivers the same event again, freshly signed.
    assert (await rig.deliver(payload, retry=1))[0] == 200
    assert (await rig.deliver(payload, retry=2))[0] == 200
    # The same message under another event id (our record of event ids lost, say on a restart)
    # is still the same Slack message: stored once.
    again = {**payload, "event_id": "Ev0RESTARTED"}
    assert (await rig.deliver(again, retry=3))[0] == 200
    [interaction] = await rig.interactions()
    assert await rig.bodies(interaction.id) == ["invoice question"]
    # users.info has no display name for Raj: the real name is used.
    customer = await rig.center.services.context.customer(interaction.customer_id)
    assert customer.display_name == "Raj Patel"


async def test_bots_edits_joins_staff_and_other_channels_are_ignored(rig: Rig) -> None:
    root = ts(400)
    ignored = [
        message_event(SHARED, BOT_USER, "our bot", ts(401), team=OUR_TEAM),
        message_event(SHARED, "U0OTHERBOT", "some integration", ts(402), bot_id="B0OTHER001",
                      subtype="bot_message"),
        message_event(SHARED, JANE, "", ts(403), subtype="channel_join"),
        message_event(SHARED, JANE, "edited", ts(404), subtype="message_changed", hidden=True),
        message_event(SHARED, JANE, "", ts(405), subtype="message_deleted", hidden=True),
        message_event(SHARED, COLLEAGUE, "I'll look", ts(406), team=OUR_TEAM),
        message_event(NOT_WATCHED, JANE, "internal chatter", ts(407)),
        message_event(SHARED, JANE, "   ", root),
        {**message_event(SHARED, JANE, "x", ts(408)), "event": {"type": "reaction_added", "user": JANE}},
        {"token": "t", "type": "app_rate_limited", "team_id": OUR_TEAM, "minute_rate_limited": 1518467820},
    ]
    for payload in ignored:
        assert (await rig.deliver(payload))[0] == 200, payload
    assert await rig.interactions() == []
    assert rig.slack.lookups == []


async def test_thread_after_closed_interaction_starts_one_that_continues(rig: Rig) -> None:
    agent = await rig.center.agent_socket("alice")
    root = ts(500)
    await rig.deliver(message_event(OTHER_SHARED, JANE, "first matter", root))
    first = (await accept_offer(agent))["interaction_id"]
    done = await agent.command({"type": "complete", "interaction_id": first, "disposition": "solved"})
    assert done["type"] == "ack", done

    await rig.deliver(message_event(OTHER_SHARED, JANE, "actually, one more thing", ts(501), thread_ts=root))
    second = (await accept_offer(agent))["interaction_id"]
    assert second != first
    await rig.deliver(message_event(OTHER_SHARED, JANE, "and another", ts(502), thread_ts=root))
    await agent.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "and another")
    assert await rig.bodies(second) == ["actually, one more thing", "and another"]

    # The new interaction answers in the same Slack thread.
    await agent.command({"type": "reply", "interaction_id": second, "body": "on it"})
    status = await agent.expect("message.status")
    assert status["status"] == "sent"
    assert rig.slack.posts[-1]["thread_ts"] == root and rig.slack.posts[-1]["channel"] == OTHER_SHARED
    stored = await rig.center.services.context.interaction(first)
    assert stored.state is InteractionState.CLOSED
    await agent.close()


async def test_slack_errors_become_failed_status_not_a_crash(rig: Rig) -> None:
    agent = await rig.center.agent_socket("alice")
    await rig.deliver(message_event(SHARED, JANE, "hello?", ts(600)))
    interaction_id = (await accept_offer(agent))["interaction_id"]

    rig.slack.post_errors[SHARED] = (200, {"ok": False, "error": "not_in_channel"}, {})
    await agent.command({"type": "reply", "interaction_id": interaction_id, "body": "hi"})
    failed = await agent.expect("message.status")
    assert failed["status"] == "failed" and failed["channel_ref"] is None
    assert failed["why"] == "slack-not_in_channel"

    rig.slack.post_errors[SHARED] = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    await agent.command({"type": "reply", "interaction_id": interaction_id, "body": "hi again"})
    assert (await agent.expect("message.status"))["status"] == "failed"
    # Within Slack's Retry-After the channel is not called again.
    del rig.slack.post_errors[SHARED]
    await agent.command({"type": "reply", "interaction_id": interaction_id, "body": "third try"})
    assert (await agent.expect("message.status"))["status"] == "failed"
    assert [p.get("refused") for p in rig.slack.posts] == ["not_in_channel", "ratelimited"]

    # The server still takes messages and the customer is still served.
    assert (await rig.deliver(message_event(SHARED, JANE, "anyone?", ts(601), thread_ts=ts(600))))[0] == 200
    await agent.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "anyone?")
    await agent.close()


async def test_unknown_user_is_still_a_customer(rig: Rig) -> None:
    agent = await rig.center.agent_socket("alice")
    stranger = "U0NOBODY01"
    await rig.deliver(message_event(SHARED, stranger, "who am I", ts(700), team=CUSTOMER_TEAM))
    offer = await agent.expect("interaction.offered")
    assert offer["screen_pop"]["customer"]["display_name"] is None
    assert {"kind": "slack", "value": stranger} in offer["screen_pop"]["customer"]["identities"]
    await agent.close()


async def test_a_long_message_is_stored_cut_to_the_server_limit(rig: Rig) -> None:
    text = "log line\n" * 4_400  # Slack takes up to 40,000 characters, and repeats them in blocks
    blocks = [{"type": "rich_text", "elements": [{"type": "rich_text_section",
                                                  "elements": [{"type": "text", "text": text}]}]}]
    payload = message_event(SHARED, JANE, text, ts(800), blocks=blocks)
    assert len(body_of(payload)) > 64 * 1024
    assert (await rig.deliver(payload))[0] == 200
    [interaction] = await rig.interactions()
    [body] = await rig.bodies(interaction.id)
    limit = rig.center.services.config.max_message_chars
    assert len(body) == limit and body.startswith("log line\nlog line") and body.endswith("[truncated]")


async def test_a_thread_reply_that_overtakes_its_root_shares_its_interaction(rig: Rig) -> None:
    # Slack does not promise order: the reply's event may come first.
    root = ts(900)
    assert (await rig.deliver(message_event(SHARED, JANE, "(follow-up)", ts(901), thread_ts=root)))[0] == 200
    assert (await rig.deliver(message_event(SHARED, JANE, "the question", root)))[0] == 200
    [interaction] = await rig.interactions()
    assert sorted(await rig.bodies(interaction.id)) == ["(follow-up)", "the question"]
    assert interaction.channel_refs["slack_thread_ts"] == root
