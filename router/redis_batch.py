"""Lua script calls to Redis, pipelined: calls made while others are in flight share a round trip.

A routing store on a busy node is called by many coroutines at once (agents accepting,
interactions arriving, the engine offering). Each call still runs as its own atomic script;
only the network trip is shared. When nothing else is in flight a call goes out at once on
its own (a lone caller pays exactly one trip); calls made while the connection is busy
wait, and all of them go out together as soon as it is free, like Nagle's algorithm: the
busier the node, the more calls share each trip.

The calls go over one connection of the client's pool that the batcher keeps for itself,
written as one buffer of EVALSHA commands packed here (the prefix naming the script and
the keys is packed once per script): redis-py's command machinery (argument encoding,
pipeline objects, a pool checkout per trip) cost several times the trip itself. redis-py
still owns the socket: connecting, timeouts, parsing replies (hiredis), closing with the
client.

Order: calls go out in the order they were made (a direct call first if it found the
connection free); ``run_all`` sends its calls together and they run in the order given.

Scripts go by SHA. A reply of NOSCRIPT (Redis restarted or flushed its script cache) means
the call did not run: the scripts are loaded and those calls are sent again, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis_asyncio
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = str | bytes | int
Call = tuple[str, Sequence[Arg]]  # (script source, arguments)


def bulk(value: Arg) -> bytes:
    """One RESP bulk string."""
    raw = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%b\r\n" % (len(raw), raw)


class ScriptBatcher:
    def __init__(self, *, redis: redis_asyncio.Redis, keys: Sequence[str]) -> None:
        self._redis = redis
        self._sha: dict[str, str] = {}  # script source -> SHA known to be loaded
        self._heads: dict[str, bytes] = {}  # SHA -> packed "EVALSHA <sha> <numkeys> <keys...>"
        self._keys = bulk(len(keys)) + b"".join(bulk(k) for k in keys)
        self._fixed = 3 + len(keys)  # EVALSHA, sha, numkeys, keys
        self._pending: list[tuple[list[Call], asyncio.Future[list[Any]]]] = []  # groups of calls
        self._drainer: asyncio.Task[None] | None = None
        self._busy = False  # someone is using the connection
        self._conn: AbstractConnection | None = None
        self._timeout: float | None = None  # the client's socket timeout, per trip
        self.trips = 0  # round trips made (for benchmarks: calls per trip)

    async def run(self, script: str, *args: Arg) -> Any:
        """Run one script with the store's keys; its reply (errors raised as usual)."""
        (reply,) = await self.run_all([(script, args)])
        return reply

    async def run_all(self, calls: Sequence[Call]) -> list[Any]:
        """Run several scripts, one after another on the server, in one round trip."""
        if not calls:
            return []
        if self._busy or self._pending or self._drainer is not None:
            replies = await self._queue(list(calls))
        else:
            self._busy = True
            try:
                replies = await self._exchange(calls)
            finally:
                self._busy = False
                if self._pending:
                    self._start_drainer()
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def _queue(self, calls: list[Call]) -> asyncio.Future[list[Any]]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((calls, future))
        if not self._busy:
            self._start_drainer()
        return future

    def _start_drainer(self) -> None:
        if self._drainer is None:
            # The task starts on the next turn of the loop: the calls made in this turn
            # are all pending by then and share its first trip.
            self._drainer = asyncio.create_task(self._drain(), name="redis-script-batch")

    async def _drain(self) -> None:
        self._busy = True
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._settle(batch)
        finally:
            self._busy = False
            self._drainer = None

    async def _settle(self, batch: list[tuple[list[Call], asyncio.Future[list[Any]]]]) -> None:
        """One trip for every group queued; each group's future gets its own replies."""
        try:
            replies = await self._exchange([call for calls, _ in batch for call in calls])
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        start = 0
        for calls, future in batch:
            end = start + len(calls)
            if not future.done():  # else its caller gave up waiting
                future.set_result(replies[start:end])
            start = end

    async def _exchange(self, calls: Sequence[Call]) -> list[Any]:
        """One reply per call (error replies as exception values), scripts reloaded if lost."""
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for _ in range(2):
            for script in {calls[i][0] for i in todo} - self._sha.keys():
                self._sha[script] = await self._redis.script_load(script)
            got = await self._trip([calls[i] for i in todo])
            retry = []
            for i, reply in zip(todo, got, strict=True):
                if isinstance(reply, NoScriptError):
                    self._sha.pop(calls[i][0], None)
                    retry.append(i)
                else:
                    replies[i] = reply
            if not retry:
                return replies
            todo = retry
        raise NoScriptError("scripts vanished twice in a row")

    async def _trip(self, calls: Sequence[Call]) -> list[Any]:
        conn = self._conn
        if conn is None:
            # Kept for good; closed with the client (its pool closes connections in use too).
            # redis-py leaves get_connection untyped.
            pool = self._redis.connection_pool
            conn = self._conn = await pool.get_connection()  # type: ignore[no-untyped-call]
            # The client's timeout applies to the whole trip here, once: redis-py applies it
            # to each write (a task each) and each reply read (a timer each), which cost more
            # than the rest of a trip.
            self._timeout = conn.socket_timeout
            conn.socket_timeout = None
        # A failed or timed-out send or read leaves the connection closed by redis-py; the
        # next trip reconnects it.
        try:
            async with asyncio.timeout(self._timeout):
                await conn.send_packed_command(b"".join(self._pack(script, args) for script, args in calls))
                self.trips += 1
                replies: list[Any] = []
                for _ in calls:
                    try:
                        replies.append(await conn.read_response())
                    except ResponseError as exc:
                        replies.append(exc)
        except TimeoutError as exc:
            raise RedisTimeoutError(f"no reply from Redis within {self._timeout}s") from exc
        return replies

    def _pack(self, script: str, args: Sequence[Arg]) -> bytes:
        sha = self._sha[script]
        head = self._heads.get(sha)
        if head is None:
            head = self._heads[sha] = bulk("EVALSHA") + bulk(sha) + self._keys
        return b"*%d\r\n%b%b" % (self._fixed + len(args), head, b"".join(bulk(a) for a in args))
