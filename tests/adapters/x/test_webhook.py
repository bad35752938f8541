"""Webhook mode end to end: X's deliveries on a real socket, the agent on the real WebSocket,
replies through the real tweepy client to the fake X API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

from cti.domain import Channel, Interaction
from tests.adapters.center import Center, running_center
from tests.adapters.x.conftest import ANN, BEA, KEYS, first_message, oauth1_section
from tests.adapters.x.fake_x import FakeX
from tests.adapters.x.payloads import ACCOUNT, delivery, dm_v11, tweet_v11, user_v11, x_signature

ann = user_v11(*ANN)
bea = user_v11(*BEA)
acme = user_v11(ACCOUNT, "AcmeHelp", "Acme Help")


async def post(center: Center, body: bytes, *, signature: str | None = None,
               secret: str = KEYS.consumer_secret) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    sig = signature if signature is not None else x_signature(secret, body)
    if sig:
        headers["x-twitter-webhooks-signature"] = sig
    async with center.http.post(f"{center.url}/webhooks/x", data=body, headers=headers) as r:
        return r.status, await r.json()


async def x_interactions(center: Center) -> list[Interaction]:
    found = await center.services.context.list_interactions(states=None, agent_id=None, limit=100)
    return [i for i in found if i.channel is Channel.X]


async def stored_bodies(center: Center) -> list[str]:
    out: list[str] = []
    for interaction in await x_interactions(center):
        out += [m.body for m in await center.services.context.messages(interaction.id)]
    return out


async def test_crc_challenge_answered_with_the_consumer_secret(tmp_path: Path, fake_x: FakeX) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
        async with center.http.get(f"{center.url}/webhooks/x", params={"crc_token": token}) as r:
            assert r.status == 200 and r.content_type == "application/json"
            answer = await r.json()
        mac = hmac.new(KEYS.consumer_secret.encode(), token.encode(), hashlib.sha256).digest()
        assert answer == {"response_token": "sha256=" + base64.b64encode(mac).decode()}
        async with center.http.get(f"{center.url}/webhooks/x") as r:
            assert r.status == 400


async def test_mention_is_offered_answered_by_a_reply_tweet_and_continued(
        tmp_path: Path, fake_x: FakeX) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        alice = await center.agent_socket("alice")
        first = tweet_v11("5001", ann, "@AcmeHelp my order 42 never arrived &amp; nobody answers")
        status, summary = await post(center, delivery(tweets=[first]))
        assert (status, summary["stored"]) == (200, 1)

        offer = await alice.expect("interaction.offered")
        pop = offer["screen_pop"]
        interaction_id = offer["interaction_id"]
        assert pop["interaction"]["channel"] == "x"
        assert ("x", ANN[0]) in {(i["kind"], i["value"]) for i in pop["customer"]["identities"]}
        assert pop["customer"]["display_name"] == "Ann Lee"
        assert pop["context"]["x.handle"] == "@ann_lee" and pop["context"]["x.kind"] == "mention"
        assert await first_message(alice, offer) == "@AcmeHelp my order 42 never arrived & nobody answers"

        assert (await alice.command({"type": "accept", "interaction_id": interaction_id}))["type"] == "ack"
        ack = await alice.command({"type": "reply", "interaction_id": interaction_id,
                                   "body": "Sorry Ann, we are on it: DM us your order email?"})
        assert ack["type"] == "ack", ack
        sent = await alice.expect("message.status")
        assert sent["status"] == "sent", sent
        assert fake_x.posted_tweets == [{"text": "Sorry Ann, we are on it: DM us your order email?",
                                         "reply": {"in_reply_to_tweet_id": "5001"}}]
        our_reply = sent["channel_ref"].removeprefix("x-tweet:")
        assert sent["channel_ref"] == f"x-tweet:{our_reply}" and our_reply.isdigit()

        # Our own reply comes back through the webhook: not a customer message, no loop.
        own = tweet_v11(our_reply, acme, "Sorry Ann…", in_reply_to="5001", in_reply_to_user=ANN[0],
                        mentions=[ANN[0]])
        own_thread = tweet_v11("5002", acme, "(2/2) and we mention @AcmeHelp", in_reply_to=our_reply,
                               in_reply_to_user=ACCOUNT)  # a thread of our own addresses us
        status, summary = await post(center, delivery(tweets=[own, own_thread]))
        assert status == 200 and summary["stored"] == 0 and summary["ignored"] == 1

        # Ann answers our reply tweet: the same interaction, through our reply's ref.
        answer = tweet_v11("5003", ann, "@AcmeHelp done, sent it", in_reply_to=our_reply,
                           in_reply_to_user=ACCOUNT)
        assert (await post(center, delivery(tweets=[answer])))[1]["stored"] == 1
        added = await alice.expect(lambda m: m.get("type") == "message.added"
                                   and m["message"]["body"] == "@AcmeHelp done, sent it")
        assert added["interaction_id"] == interaction_id
        # Ann then answers her own first tweet: still the same conversation.
        again = tweet_v11("5004", ann, "@AcmeHelp order 42, to be clear", in_reply_to="5001",
                          in_reply_to_user=ANN[0])
        assert (await post(center, delivery(tweets=[again])))[1]["stored"] == 1
        added = await alice.expect(lambda m: m.get("type") == "message.added"
                                   and m["message"]["body"] == "@AcmeHelp order 42, to be clear")
        assert added["interaction_id"] == interaction_id

        # Replies answer her latest tweet.
        await alice.command({"type": "reply", "interaction_id": interaction_id, "body": "Got it, thanks!"})
        assert (await alice.expect("message.status"))["status"] == "sent"
        assert fake_x.posted_tweets[-1]["reply"] == {"in_reply_to_tweet_id": "5004"}

        assert [i.id for i in await x_interactions(center)] == [interaction_id]
        messages = await center.services.context.messages(interaction_id)
        assert [m.sender.value for m in messages] == ["customer", "agent", "customer", "customer", "agent"]
        assert fake_x.problems == []
        assert {s.path for s in fake_x.seen} == {"/2/tweets"}
        await alice.close()


async def test_forged_stale_and_replayed_deliveries_store_nothing_new(tmp_path: Path, fake_x: FakeX) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        mention = tweet_v11("6001", ann, "@AcmeHelp hello?")
        body = delivery(tweets=[mention])

        assert (await post(center, body, secret="not-the-consumer-secret"))[0] == 403
        assert (await post(center, body, signature=""))[0] == 403  # no header at all
        assert (await post(center, body, signature="sha256=" + "A" * 44))[0] == 403
        signed = x_signature(KEYS.consumer_secret, body)
        tampered = body.replace(b"hello?", b"refund!")
        assert (await post(center, tampered, signature=signed))[0] == 403
        stale = delivery(tweets=[tweet_v11("6002", ann, "@AcmeHelp old news", at=time.time() - 7200)])
        assert (await post(center, stale))[0] == 403
        assert await stored_bodies(center) == []

        # The genuine delivery, then X retrying it, then the same body replayed many times at once.
        assert (await post(center, body)) == (200, {"stored": 1, "duplicates": 0, "ignored": 0, "failed": 0})
        assert (await post(center, body))[1]["duplicates"] == 1
        results = await asyncio.gather(*(post(center, body) for _ in range(5)))
        assert all(status == 200 and r["stored"] == 0 for status, r in results)
        # The same event inside another delivery (X batches differently on retry): still once.
        both = delivery(tweets=[tweet_v11("6003", ann, "@AcmeHelp anyone?", in_reply_to="6001",
                                          in_reply_to_user=ACCOUNT), mention])
        assert (await post(center, both))[1] == {"stored": 1, "duplicates": 1, "ignored": 0, "failed": 0}
        assert sorted(await stored_bodies(center)) == ["@AcmeHelp anyone?", "@AcmeHelp hello?"]
        assert len(await x_interactions(center)) == 1


async def test_direct_messages_become_one_dm_interaction_answered_by_dm(tmp_path: Path,
                                                                       fake_x: FakeX) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        alice = await center.agent_socket("alice")
        dm = dm_v11("7001", BEA[0], ACCOUNT, "Hi, my invoice is wrong")
        assert (await post(center, delivery(dms=[dm], users=[bea, acme])))[1]["stored"] == 1
        offer = await alice.expect("interaction.offered")
        interaction_id = offer["interaction_id"]
        pop = offer["screen_pop"]
        assert pop["context"]["x.kind"] == "dm" and pop["context"]["x.handle"] == "@bea_n"
        assert pop["customer"]["display_name"] == "Bea Novak"
        assert await first_message(alice, offer) == "Hi, my invoice is wrong"
        await alice.command({"type": "accept", "interaction_id": interaction_id})

        await alice.command({"type": "reply", "interaction_id": interaction_id,
                             "body": "Sorry Bea, which invoice number?"})
        sent = await alice.expect("message.status")
        assert sent["status"] == "sent" and sent["channel_ref"].startswith("x-dm:")
        assert fake_x.posted_dms == [(BEA[0], {"text": "Sorry Bea, which invoice number?"})]
        assert fake_x.posted_tweets == []

        # The echo of our DM (X sends sent DMs too) is ignored; Bea's next DM continues.
        echo = dm_v11(sent["channel_ref"].removeprefix("x-dm:"), ACCOUNT, BEA[0], "Sorry Bea, which…")
        nxt = dm_v11("7003", BEA[0], ACCOUNT, "INV-2024-118")
        status, summary = await post(center, delivery(dms=[echo, nxt], users=[bea, acme]))
        assert (status, summary["stored"], summary["ignored"]) == (200, 1, 1)
        added = await alice.expect(lambda m: m.get("type") == "message.added"
                                   and m["message"]["body"] == "INV-2024-118")
        assert added["interaction_id"] == interaction_id

        # A public mention by Bea is its own interaction: a DM answer must not go public.
        mention = tweet_v11("7004", bea, "@AcmeHelp still waiting on my DM")
        assert (await post(center, delivery(tweets=[mention])))[1]["stored"] == 1
        second = await alice.expect("interaction.offered")
        assert second["interaction_id"] != interaction_id
        assert second["screen_pop"]["customer"]["id"] == pop["customer"]["id"]  # one customer

        # X refuses the DM (Bea closed her DMs): the agent is told why.
        fake_x.forbid_dms_to.add(BEA[0])
        await alice.command({"type": "reply", "interaction_id": interaction_id, "body": "Fixed!"})
        refused = await alice.expect("message.status")
        assert refused["status"] == "refused" and refused["why"] == "x-forbidden"
        assert fake_x.problems == []
        await alice.close()
