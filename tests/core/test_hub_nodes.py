"""Two hubs on one Redis, as two nodes: events cross, and a local-only subscriber hears only its
own node's (the work one node must do once, like sending an agent's reply)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_asyncio

from cti.events import AgentStateChanged
from cti.hub import EventHub

pytestmark = pytest.mark.integration


async def test_events_cross_nodes_but_not_to_local_only_subscribers(
        redis_url: str, unique_prefix: str) -> None:
    client = redis_asyncio.Redis.from_url(redis_url)
    a = EventHub(node_id="node-a", redis=client, channel=f"{unique_prefix}:events")
    b = EventHub(node_id="node-b", redis=client, channel=f"{unique_prefix}:events")
    await a.start()
    await b.start()
    try:
        everything, local = b.subscribe(), b.subscribe(local_only=True)
        await a.publish(AgentStateChanged(at=1.0, agent_id="alice", state="available"))
        await b.publish(AgentStateChanged(at=2.0, agent_id="bob", state="available"))
        async with asyncio.timeout(5):
            heard = {(await everything.get()).agent(), (await everything.get()).agent()}
        assert heard == {"alice", "bob"}
        await asyncio.sleep(0.2)  # anything else from node a would have crossed by now
        assert [local.queue.get_nowait().agent()] == ["bob"] and local.queue.empty()
    finally:
        await a.aclose()
        await b.aclose()
        await client.aclose()
