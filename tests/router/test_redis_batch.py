"""Pipelined script calls: order kept, one reply each, lost scripts reloaded, a silent Redis timed out."""

from __future__ import annotations

import asyncio
import hashlib

import hiredis
import pytest
import redis.asyncio as redis_asyncio
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from router.redis_batch import ScriptBatcher

pytestmark = pytest.mark.integration

APPEND = "redis.call('RPUSH', KEYS[1], ARGV[1]); return redis.call('LLEN', KEYS[1])"
FAIL = "return redis.error_reply('nope')"


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


class SilentRedis:
    """A server that speaks just enough RESP to connect and load scripts, then answers each
    EVALSHA only once told to: a Redis that hangs."""

    def __init__(self) -> None:
        self.answer = False
        self.evalsha_seen = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader()
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    name = command[0].upper()
                    if name == b"HELLO":  # as an old Redis: the client falls back to RESP2
                        writer.write(b"-ERR unknown command 'HELLO'\r\n")
                    elif name == b"SCRIPT":
                        sha = hashlib.sha1(command[2]).hexdigest().encode()
                        writer.write(b"$40\r\n" + sha + b"\r\n")
                    elif name == b"EVALSHA":
                        self.evalsha_seen.set()
                        if self.answer:
                            writer.write(b":1\r\n")
                    else:
                        writer.write(b"+OK\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def test_a_redis_that_does_not_answer_fails_the_call_within_the_clients_timeout() -> None:
    fake = SilentRedis()
    async with fake as port:
        client = redis_asyncio.Redis(host="127.0.0.1", port=port, socket_timeout=0.2)
        try:
            batcher = ScriptBatcher(redis=client, keys=["k"])
            with pytest.raises(RedisTimeoutError):
                async with asyncio.timeout(10):  # a deadline for the test, not the timeout tested
                    await batcher.run("return 1")
            assert fake.evalsha_seen.is_set()
            fake.answer = True  # the connection was dropped; the next call opens a new one
            assert await batcher.run("return 1") == 1
            assert await asyncio.gather(*(batcher.run("return 1") for _ in range(5))) == [1] * 5
        finally:
            await client.aclose()
