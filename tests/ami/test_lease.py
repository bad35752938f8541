"""Only one node talks to Asterisk: the lease in Redis, taken over when its holder dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio

from cti.errors import Unavailable
from cti.lease import LeaseKeeper, Leases, RedisLease

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis_url: str, unique_prefix: str) -> AsyncIterator[redis_asyncio.Redis]:
    r = redis_asyncio.Redis.from_url(redis_url)
    yield r
    await r.delete(f"{unique_prefix}:ami:lease")
    await r.aclose()


class Node:
    def __init__(self, client: redis_asyncio.Redis, key: str, name: str, ttl: float) -> None:
        self.name = name
        self.log: list[str] = []
        self.keeper = LeaseKeeper(RedisLease(client, key, name, ttl=ttl),
                                  on_gained=self._gained, on_lost=self._lost)

    async def _gained(self) -> None:
        self.log.append("gained")

    async def _lost(self) -> None:
        self.log.append("lost")


async def until(predicate: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_one_holder_and_a_take_over_when_it_dies(client: redis_asyncio.Redis,
                                                      unique_prefix: str) -> None:
    key = f"{unique_prefix}:ami:lease"
    a, b = Node(client, key, "node-a", 0.3), Node(client, key, "node-b", 0.3)
    await a.keeper.start()
    await until(lambda: a.log == ["gained"])
    await b.keeper.start()
    await asyncio.sleep(0.5)  # several renewals: b never gets it while a lives
    assert (a.log, b.log) == (["gained"], [])
    assert await RedisLease(client, key, "x").holder() == "node-a"

    # node-a dies without a word: its task stops, its lease expires, node-b takes over.
    assert a.keeper._task is not None
    a.keeper._task.cancel()
    await until(lambda: b.log == ["gained"], timeout=2.0)
    assert await RedisLease(client, key, "x").holder() == "node-b"

    # A clean stop hands over at once.
    c = Node(client, key, "node-c", 0.3)
    await c.keeper.start()
    await b.keeper.aclose()
    assert b.log == ["gained", "lost"]
    await until(lambda: c.log == ["gained"], timeout=1.0)
    await c.keeper.aclose()


async def test_a_holder_that_loses_the_lease_stops(client: redis_asyncio.Redis, unique_prefix: str) -> None:
    key = f"{unique_prefix}:ami:lease"
    a = Node(client, key, "node-a", 0.3)
    await a.keeper.start()
    await until(lambda: a.log == ["gained"])
    await client.set(key, "someone-else", px=5000)  # e.g. it stalled past its TTL and lost it
    await until(lambda: a.log == ["gained", "lost"])
    await a.keeper.aclose()
    assert await RedisLease(client, key, "x").holder() == "someone-else"


async def test_exclusive_is_one_holder_across_nodes_and_says_when_it_gives_up(
        client: redis_asyncio.Redis, unique_prefix: str) -> None:
    a = Leases(redis=client, prefix=unique_prefix, node_id="node-a")
    b = Leases(redis=client, prefix=unique_prefix, node_id="node-b")
    order: list[str] = []

    async def work(leases: Leases, name: str) -> None:
        async with leases.exclusive("sms:+15551230001"):
            order.append(f"{name} in")
            await asyncio.sleep(0.1)
            order.append(f"{name} out")

    await asyncio.gather(work(a, "a"), work(b, "b"), work(a, "a2"))
    assert [e.split()[1] for e in order] == ["in", "out"] * 3  # never two inside at once
    assert [k async for k in client.scan_iter(f"{unique_prefix}:*")] == []  # released

    async with a.exclusive("sms:+15551230001"):
        [key] = [k.decode() async for k in client.scan_iter(f"{unique_prefix}:*")]
        assert key.startswith(f"{unique_prefix}:lock:") and "1555" not in key  # no phone numbers in Redis
        with pytest.raises(Unavailable) as busy:
            async with b.exclusive("sms:+15551230001", wait=0.2):
                pass
    assert busy.value.error_id == "lock-busy"
    async with b.exclusive("sms:+15551230001", wait=0.2):  # free again once released
        pass
