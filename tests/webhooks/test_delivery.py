"""Deliveries to a real receiver that fails, hangs and recovers: signed, the same idempotency key
on every attempt, one subscriber never holding up another, pending ones resumed after a restart,
failed ones replayed."""

from __future__ import annotations

import json
import logging
import time

import pytest

from cti.events import InteractionClosed
from cti.webhooks.deliveries import DeliveryStatus
from cti.webhooks.signing import DELIVERY, EVENT, verify
from tests.waiting import until
from tests.webhooks.conftest import OTHER_SECRET, SECRET, Center, subscriber
from tests.webhooks.receiver import FAIL, HANG, OK, REDIRECT, Receiver

pytestmark = pytest.mark.integration


async def test_a_closed_interaction_arrives_signed_once_accepted_after_failures_and_a_timeout(
        center: Center, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = receiver.at("/crm", FAIL, FAIL, HANG, then=OK)
    await center.dispatcher([subscriber("crm", url, "interaction.closed")])

    closed = await center.closed_chat("ann@example.com")

    await until(lambda: receiver.accepted("/crm"), what="the delivery to be accepted")
    [delivery] = await until(lambda: center.deliveries(DeliveryStatus.DELIVERED), what="it written down")
    got = receiver.on("/crm")
    assert [r.answered for r in got] == [FAIL, FAIL, HANG, OK]  # nothing after it was accepted
    assert delivery.attempts == 4 and delivery.last_status == 204
    # Every attempt: the same delivery id (the idempotency key), the same body, a valid signature.
    assert {r.headers[DELIVERY] for r in got} == {delivery.id}
    assert {r.body for r in got} == {delivery.body}
    assert all(verify(secret=SECRET.encode(), headers=r.headers, body=r.body, now=time.time()) for r in got)
    assert not verify(secret=OTHER_SECRET.encode(), headers=got[0].headers, body=got[0].body, now=time.time())
    assert got[0].headers[EVENT] == "interaction.closed"
    body = json.loads(delivery.body)
    assert body["id"] == delivery.id and body["type"] == "interaction.closed"
    data = body["data"]
    assert (data["agent_id"], data["disposition"], data["interaction_id"]) == ("bob", "resolved", closed.id)
    summary = data["interaction"]
    assert (summary["id"], summary["channel"], summary["queue"]) == (closed.id, "chat", "support")
    assert summary["customer_id"] == closed.customer_id
    assert "context" not in summary and "hello" not in delivery.body.decode()  # no message bodies
    # Only what the subscriber asked for: the queued, offered and accepted events were not sent.
    assert [d.event_type for d in await center.deliveries()] == ["interaction.closed"]
    assert SECRET not in caplog.text


async def test_a_stuck_subscriber_does_not_hold_up_another(center: Center, receiver: Receiver) -> None:
    slow = receiver.at("/slow", then=HANG)
    fast = receiver.at("/fast")
    await center.dispatcher([subscriber("slow", slow), subscriber("fast", fast, secret=OTHER_SECRET)],
                            timeout_seconds=60)

    for n in range(3):
        await center.hub.publish(InteractionClosed(at=time.time(), interaction_id=f"int-{n}", agent_id="bob",
                                                   disposition="resolved"))

    await until(lambda: len(receiver.accepted("/fast")) == 3, what="the fast subscriber's three deliveries")
    # The slow one is still on its first delivery: nothing it does reached the other.
    assert [r.answered for r in receiver.on("/slow")] == [HANG]
    assert all(verify(secret=OTHER_SECRET.encode(), headers=r.headers, body=r.body, now=time.time())
               for r in receiver.on("/fast"))


async def test_a_restart_resumes_pending_deliveries_with_the_same_ids(
        center_on_each_db: Center, receiver: Receiver) -> None:
    center = center_on_each_db
    url = receiver.at("/crm", then=HANG)
    # The node stops while the first delivery hangs mid-attempt and the second waits its turn.
    first = await center.dispatcher([subscriber("crm", url)], node="node-a", timeout_seconds=60)
    for n in range(2):
        await center.hub.publish(InteractionClosed(at=time.time(), interaction_id=f"int-{n}", agent_id=None,
                                                   disposition=None))
    await until(lambda: receiver.on("/crm"), what="the first attempt")
    await center.stop(first)
    [hung] = [r.headers[DELIVERY] for r in receiver.on("/crm")]
    pending = await center.deliveries()
    assert {d.status for d in pending} == {DeliveryStatus.PENDING} and len(pending) == 2

    receiver.then["/crm"] = OK  # the subscriber is back; so is the server, as another node
    await center.dispatcher([subscriber("crm", url)], node="node-b")

    await until(lambda: len(receiver.accepted("/crm")) == 2, what="both delivered after the restart")
    assert {r.headers[DELIVERY] for r in receiver.accepted("/crm")} == {d.id for d in pending}
    assert hung in {d.id for d in pending}

    async def both_delivered() -> bool:
        return len(await center.deliveries(DeliveryStatus.DELIVERED)) == 2

    await until(both_delivered, what="both written down as delivered")


async def test_a_delivery_given_up_is_kept_as_failed_and_a_replay_sends_it_again(
        center: Center, receiver: Receiver) -> None:
    url = receiver.at("/crm", then=FAIL)
    dispatcher = await center.dispatcher([subscriber("crm", url)], give_up_after_seconds=0.3)
    await center.hub.publish(InteractionClosed(at=time.time(), interaction_id="int-1", agent_id=None,
                                               disposition=None))

    [failed] = await until(lambda: center.deliveries(DeliveryStatus.FAILED), what="it given up")
    assert failed.attempts >= 2 and failed.last_status == 500 and failed.last_error == "status 500"
    tries = len(receiver.on("/crm"))

    receiver.then["/crm"] = OK
    replayed = await dispatcher.replay(failed.id, actor="admin")
    assert (replayed.status, replayed.attempts) == (DeliveryStatus.PENDING, 0)
    await until(lambda: receiver.accepted("/crm"), what="the replayed delivery")
    [again] = receiver.accepted("/crm")
    assert again.headers[DELIVERY] == failed.id and again.body == failed.body
    assert len(receiver.on("/crm")) == tries + 1
    audit = await center.context.audit_log(limit=10, target=failed.id)
    assert [(a.actor, a.action) for a in audit] == [("admin", "webhook-replay")]


async def test_a_redirect_is_not_followed(center: Center, receiver: Receiver) -> None:
    url = receiver.at("/moved", REDIRECT, then=OK)
    await center.dispatcher([subscriber("crm", url)])
    await center.hub.publish(InteractionClosed(at=time.time(), interaction_id="int-1", agent_id=None,
                                               disposition=None))
    await until(lambda: receiver.accepted("/moved"), what="the second attempt")
    assert receiver.on("/elsewhere") == []
    [delivery] = await until(lambda: center.deliveries(DeliveryStatus.DELIVERED), what="written down")
    assert delivery.attempts == 2
