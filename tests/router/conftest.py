"""Routing-store fixtures: every contract test runs on the memory store and on Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pytest
import redis.asyncio as redis_asyncio

from cti.routing import RoutingStore
from router.memory_store import MemoryRoutingStore
from router.redis_store import RedisRoutingStore
from router.stats import QueueStats


class StatsStore(RoutingStore, Protocol):
    async def stats(self, now: float) -> QueueStats: ...


StoreFactory = Callable[..., Awaitable[StatsStore]]


async def delete_prefix(client: redis_asyncio.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def make_store(request: pytest.FixtureRequest, unique_prefix: str) -> AsyncIterator[StoreFactory]:
    """A factory of stores of one kind; Redis stores share one prefix but each has its own client."""
    if request.param == "memory":
        shared: dict[str, MemoryRoutingStore] = {}

        async def memory(**kwargs: Any) -> StatsStore:
            # "Another node" of a single-node store is the same store.
            return shared.setdefault("store", MemoryRoutingStore(**kwargs))

        yield memory
        return
    redis_url: str = request.getfixturevalue("redis_url")
    clients: list[redis_asyncio.Redis] = []

    async def redis_store(**kwargs: Any) -> StatsStore:
        client = redis_asyncio.Redis.from_url(redis_url)
        clients.append(client)
        return RedisRoutingStore(redis=client, prefix=unique_prefix, **kwargs)

    try:
        yield redis_store
    finally:
        if clients:
            try:
                await delete_prefix(clients[0], unique_prefix)
            finally:
                for client in clients:
                    await client.aclose()


@pytest.fixture
async def store(make_store: StoreFactory) -> StatsStore:
    return await make_store()


@pytest.fixture
async def client(redis_url: str, unique_prefix: str) -> AsyncIterator[redis_asyncio.Redis]:
    """A Redis client for a test; its keys (under the test's prefix) are deleted after."""
    c = redis_asyncio.Redis.from_url(redis_url)
    try:
        yield c
    finally:
        await delete_prefix(c, unique_prefix)
        await c.aclose()

