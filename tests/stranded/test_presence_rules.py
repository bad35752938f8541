"""Who is gone (pure), and the presence stores' contract, in memory and on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio

from cti.presence import gone
from cti.presence_store import MemoryPresence, PresenceStore, RedisPresence


def test_gone_is_who_was_last_seen_a_grace_ago_or_earlier() -> None:
    seen = {"alice": 100.0, "bob": 80.0, "carol": 130.0, "dan": 90.0}
    assert gone(seen, now=110.0, grace=20.0) == ["bob", "dan"]
    assert gone(seen, now=109.9, grace=20.0) == ["bob"]
    assert gone({}, now=1e9, grace=1.0) == []


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, unique_prefix: str) -> AsyncIterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    client = redis_asyncio.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisPresence(redis=client, prefix=unique_prefix)
    finally:
        keys = [k async for k in client.scan_iter(f"{unique_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_an_agent_is_seen_at_the_latest_of_every_node_and_touch(store: PresenceStore) -> None:
    await store.mark("node-a", {"alice": 10.0, "bob": 12.0})
    await store.mark("node-b", {"alice": 15.0})  # reconnected on the other node
    await store.touch("alice", 11.0, create=False)
    assert await store.last_seen() == {"alice": 15.0, "bob": 12.0}


async def test_touch_creates_only_when_told(store: PresenceStore) -> None:
    await store.touch("carol", 5.0, create=False)  # never had a desktop: an API client
    assert await store.last_seen() == {}
    await store.touch("carol", 5.0, create=True)  # restored at start: expected at a desk
    assert await store.last_seen() == {"carol": 5.0}


async def test_a_claim_takes_only_an_agent_gone_everywhere_and_only_once(store: PresenceStore) -> None:
    await store.mark("node-a", {"alice": 10.0})
    await store.mark("node-b", {"alice": 30.0})
    assert await store.claim_gone("alice", 20.0) is False  # node B still vouches past the cutoff
    assert await store.last_seen() == {"alice": 30.0}
    assert await store.claim_gone("alice", 30.0) is True
    assert await store.claim_gone("alice", 30.0) is False  # a second sweeper acts on nothing
    assert await store.last_seen() == {}
    assert await store.claim_gone("nobody", 1e9) is False
