"""Pipelined script calls: order kept, one reply each, lost scripts reloaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio
from redis.exceptions import ResponseError

from router.redis_batch import ScriptBatcher
from tests.router.conftest import delete_prefix

pytestmark = pytest.mark.integration

APPEND = "redis.call('RPUSH', KEYS[1], ARGV[1]); return redis.call('LLEN', KEYS[1])"
FAIL = "return redis.error_reply('nope')"


@pytest.fixture
async def client(redis_url: str, unique_prefix: str) -> AsyncIterator[redis_asyncio.Redis]:
    c = redis_asyncio.Redis.from_url(redis_url)
    try:
        yield c
    finally:
        await delete_prefix(c, unique_prefix)
        await c.aclose()


async def test_concurrent_calls_each_run_once_and_run_all_keeps_its_order(
        client: redis_asyncio.Redis, unique_prefix: str) -> None:
    batcher = ScriptBatcher(redis=client, keys=[f"{unique_prefix}:list"])
    replies = await asyncio.gather(*(batcher.run(APPEND, str(n)) for n in range(50)))
    assert sorted(replies) == list(range(1, 51))  # each ran once, atomically
    listed = await client.lrange(f"{unique_prefix}:list", 0, -1)
    assert sorted(int(x) for x in listed) == list(range(50))
    calls = [(APPEND, (f"x{n}",)) for n in range(20)]
    assert await batcher.run_all(calls) == list(range(51, 71))  # run_all: in the order given
    assert (await client.lrange(f"{unique_prefix}:list", 50, -1)) == [f"x{n}".encode() for n in range(20)]


async def test_an_error_reaches_only_its_own_caller(client: redis_asyncio.Redis, unique_prefix: str) -> None:
    batcher = ScriptBatcher(redis=client, keys=[f"{unique_prefix}:list"])
    results = await asyncio.gather(batcher.run(APPEND, "x"), batcher.run(FAIL), batcher.run(APPEND, "y"),
                                   return_exceptions=True)
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError)


async def test_scripts_the_server_forgot_are_loaded_again(client: redis_asyncio.Redis,
                                                          unique_prefix: str) -> None:
    batcher = ScriptBatcher(redis=client, keys=[f"{unique_prefix}:list"])
    assert await batcher.run(APPEND, "x") == 1
    # As after a restart of Redis: the SHA it knew is unknown there now.
    batcher._sha[APPEND] = "0" * 40
    assert await batcher.run(APPEND, "y") == 2
    batcher._sha[APPEND] = "0" * 40
    assert sorted(await asyncio.gather(batcher.run(APPEND, "z"), batcher.run(APPEND, "w"))) == [3, 4]
