"""Polling mode end to end: the server reads the fake X API with tweepy (bearer token here, an
OAuth 2.0 user-context token), with since_id, backing off on a 429 until x-rate-limit-reset."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cti.domain import Channel
from tests.adapters.center import running_center
from tests.adapters.x.conftest import ANN, BEA, bearer_section, first_message
from tests.adapters.x.fake_x import FakeX
from tests.adapters.x.payloads import ACCOUNT
from tests.waiting import until

MENTIONS_ROUTE = "/2/users/{id}/mentions"


def added_with(body: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == "message.added" and m["message"]["body"] == body


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_polling_reads_mentions_since_id_and_waits_out_a_rate_limit(
        tmp_path: Path, fake_x: FakeX) -> None:
    old = fake_x.add_mention(ANN[0], "@AcmeHelp where is my parcel? <3")
    note = fake_x.add_mention(ACCOUNT, "@AcmeHelp a note to self")  # ours: never an interaction
    section = bearer_section(fake_x, mode="polling", poll_seconds=0.2)
    async with running_center(tmp_path, {"x": section}) as center:
        alice = await center.agent_socket("alice")
        offer = await alice.expect("interaction.offered")
        interaction_id = offer["interaction_id"]
        assert await first_message(alice, offer) == "@AcmeHelp where is my parcel? <3"
        assert offer["screen_pop"]["context"]["x.handle"] == "@ann_lee"
        await alice.command({"type": "accept", "interaction_id": interaction_id})

        # The next read is refused once with a 429; the poller must leave mentions alone until
        # the reset, while DMs (another endpoint, another window) go on being read.
        reset = int(time.time()) + 2
        fake_x.rate_limit_once[MENTIONS_ROUTE] = reset
        await wait_for(lambda: any(s.status == 429 for s in fake_x.seen))
        limited_at = next(s.at for s in fake_x.seen if s.status == 429)
        follow_up = fake_x.add_mention(ANN[0], "@AcmeHelp tracking says delivered, it was not",
                                       conversation_id=old, replied_to=old)
        added = await alice.expect(lambda m: m.get("type") == "message.added"
                                   and "tracking says" in m["message"]["body"])
        assert added["interaction_id"] == interaction_id  # same conversation, same interaction

        mention_reads = fake_x.calls("/mentions")
        after = [s for s in mention_reads if s.at > limited_at]
        assert after and all(s.at >= reset for s in after), "read again before x-rate-limit-reset"
        assert any(limited_at < s.at < reset for s in fake_x.calls("/2/dm_events"))
        assert "since_id" not in mention_reads[0].query  # first read: the newest page
        # The cursor is the newest tweet read, our own ignored one included.
        assert all(s.query.get("since_id") == note for s in mention_reads[1:] if s.at <= after[0].at)
        await wait_for(lambda: fake_x.calls("/mentions")[-1].query.get("since_id") == follow_up)

        await alice.command({"type": "reply", "interaction_id": interaction_id, "body": "Checking now"})
        assert (await alice.expect("message.status"))["status"] == "sent"
        assert fake_x.posted_tweets == [{"text": "Checking now",
                                         "reply": {"in_reply_to_tweet_id": follow_up}}]

        found = await center.services.context.list_interactions(states=None, agent_id=None, limit=100)
        assert [i.id for i in found if i.channel is Channel.X] == [interaction_id]
        assert fake_x.problems == []
        await alice.close()


async def test_polling_reads_dms_and_stores_each_once_across_pages_and_restarts(
        tmp_path: Path, fake_x: FakeX) -> None:
    for n in range(3):
        fake_x.add_dm(BEA[0], f"message {n}")
    section = bearer_section(fake_x, mode="polling", poll_seconds=0.2, poll_page_size=5)
    async with running_center(tmp_path, {"x": section}) as center:
        alice = await center.agent_socket("alice")
        offer = await alice.expect("interaction.offered")
        assert await first_message(alice, offer) == "message 0"  # oldest first
        interaction_id = offer["interaction_id"]
        await alice.command({"type": "accept", "interaction_id": interaction_id})
        # More than a page arrives between two polls: read back to the last one seen.
        for n in range(3, 10):
            fake_x.add_dm(BEA[0], f"message {n}")
        fake_x.add_dm(ACCOUNT, "our own answer", recipient=BEA[0])
        for n in range(3, 10):
            await alice.expect(added_with(f"message {n}"))
        await alice.command({"type": "reply", "interaction_id": interaction_id, "body": "All read"})
        assert (await alice.expect("message.status"))["status"] == "sent"
        assert fake_x.posted_dms == [(BEA[0], {"text": "All read"})]
        await alice.close()
    assert any(s.query.get("pagination_token") for s in fake_x.calls("/2/dm_events"))

    # While the server is down more than a page arrives. The cursors were kept: after the
    # restart the poller reads back to the newest event it had stored, not just the newest page.
    for n in range(10, 17):
        fake_x.add_dm(BEA[0], f"message {n}")
    reads_before = len(fake_x.calls("/2/dm_events"))
    async with running_center(tmp_path, {"x": section}) as center:
        async def customer_bodies() -> list[str]:
            messages = await center.services.context.messages(interaction_id)
            return [m.body for m in messages if m.sender.value == "customer"]

        async def customer_bodies_count(count: int) -> bool:
            return len(await customer_bodies()) >= count

        await until(lambda: customer_bodies_count(17), what="17 stored messages")
        assert await customer_bodies() == [f"message {n}" for n in range(17)]
        await wait_for(lambda: len(fake_x.calls("/2/dm_events")) >= reads_before + 4)
        assert await customer_bodies() == [f"message {n}" for n in range(17)]  # nothing twice
    assert fake_x.problems == []
