"""Two nodes on one PostgreSQL and Redis: every node hears every event, and each event is still
delivered once, by a delivery the node where it happened recorded."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.clock import SystemClock, UuidIds
from cti.events import InteractionClosed
from cti.hub import EventHub
from cti.settings.webhooks import WebhookSettings
from cti.webhooks.deliveries import DeliveryStatus
from cti.webhooks.dispatcher import WebhookDispatcher
from tests.waiting import until
from tests.webhooks.conftest import FAST, subscriber
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def closed(interaction_id: str) -> InteractionClosed:
    return InteractionClosed(at=time.time(), interaction_id=interaction_id, agent_id=None, disposition=None)


async def test_each_event_is_delivered_once_whichever_node_hears_it(
        pg_schema: str, redis_client: redis_asyncio.Redis, unique_prefix: str, receiver: Receiver) -> None:
    await upgrade_async(pg_schema)
    crm = subscriber("crm", receiver.at("/crm"))
    settings = WebhookSettings.model_validate({**FAST, "subscribers": [crm]})
    parts: list[tuple[SqlContextStore, EventHub, WebhookDispatcher]] = []
    for node in ("node-a", "node-b"):
        context = SqlContextStore(url=pg_schema, clock=SystemClock(), ids=UuidIds())
        hub = EventHub(node_id=node, redis=redis_client, channel=f"{unique_prefix}:events")
        dispatcher = WebhookDispatcher(settings=settings, store=context.webhook_store(), context=context,
                                       hub=hub, clock=SystemClock(), ids=UuidIds(), node_id=node)
        parts.append((context, hub, dispatcher))
    try:
        for context, hub, dispatcher in parts:
            await context.start()
            await hub.start()
            await dispatcher.start()
        (context, hub_a, _), (_, hub_b, _) = parts
        heard_on_b = hub_b.subscribe()
        for n in range(3):
            await hub_a.publish(closed(f"int-a{n}"))
        await until(lambda: heard_on_b.queue.qsize() == 3, what="node b to hear node a's events")
        # Node b records in the order it hears: once its own event is delivered, it has long
        # since passed over node a's.
        await hub_b.publish(closed("int-b0"))

        def sent_for(interaction_id: str) -> bool:
            return any(json.loads(r.body)["data"]["interaction_id"] == interaction_id
                       for r in receiver.accepted("/crm"))

        await until(lambda: sent_for("int-b0"), what="node b's own event delivered")
        await until(lambda: len(receiver.accepted("/crm")) >= 4, what="node a's three")

        async def all_delivered() -> bool:
            found = await context.webhook_store().listing(status=None, subscriber="crm", limit=100)
            return all(d.status is DeliveryStatus.DELIVERED for d in found)

        await until(all_delivered, what="every delivery written down")
        rows = await context.webhook_store().listing(status=None, subscriber="crm", limit=100)
        assert sorted(d.interaction_id or "" for d in rows) == ["int-a0", "int-a1", "int-a2", "int-b0"]
        got = receiver.accepted("/crm")
        assert len(got) == 4 and len({json.loads(r.body)["id"] for r in got}) == 4
    finally:
        for context, hub, dispatcher in reversed(parts):
            await dispatcher.aclose()
            await hub.aclose()
            await context.aclose()
