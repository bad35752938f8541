"""Lua script calls to Redis, pipelined: the calls made in one turn of the loop share a round trip.

A routing store on a busy node is called by many coroutines at once (agents accepting,
interactions arriving, the engine offering). Each call still runs as its own atomic script;
only the network trip is shared. When nothing else is in flight a call goes out at once on
its own (a lone caller pays exactly one plain call); calls made while others are in flight
wait for the next turn of the loop and go out together, like Nagle's algorithm.

Order: as with a plain connection pool, concurrent calls may run in any order relative to
each other (a coroutine's own calls are in order, since it awaits each). ``run_all`` sends
its calls together and they run in the order given.

Scripts go by SHA. A reply of NOSCRIPT (Redis restarted or flushed its script cache) means
the call did not run: the scripts are loaded and those calls are sent again, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis_asyncio
from redis.exceptions import NoScriptError

Call = tuple[str, Sequence[str | int]]  # (script source, arguments)


class ScriptBatcher:
    def __init__(self, *, redis: redis_asyncio.Redis, keys: Sequence[str]) -> None:
        self._redis = redis
        self._keys = list(keys)
        self._sha: dict[str, str] = {}  # script source -> SHA known to be loaded
        self._pending: list[tuple[Call, asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0

    async def run(self, script: str, *args: str | int) -> Any:
        """Run one script with the store's keys; its reply (errors raised as usual)."""
        if self._in_flight or self._pending:
            return await self._queue((script, args))
        self._in_flight += 1
        try:
            return await self._direct(script, args)
        finally:
            self._in_flight -= 1

    async def run_all(self, calls: Sequence[Call]) -> list[Any]:
        """Run several scripts, one after another on the server, in one round trip."""
        return list(await asyncio.gather(*(self._queue(call) for call in calls)))

    def _queue(self, call: Call) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((call, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self._in_flight += len(batch)  # from now: a direct call must not overtake the batch
            task = asyncio.create_task(self._send(batch), name="redis-script-batch")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _direct(self, script: str, args: Sequence[str | int]) -> Any:
        keys = self._keys
        for _ in range(2):
            sha = self._sha.get(script)
            if sha is None:
                sha = self._sha[script] = await self._redis.script_load(script)
            try:
                return await self._redis.evalsha(sha, len(keys), *keys, *args)
            except NoScriptError:
                self._sha.pop(script, None)
        raise NoScriptError("scripts vanished twice in a row")

    async def _send(self, batch: list[tuple[Call, asyncio.Future[Any]]]) -> None:
        try:
            todo = batch
            for _ in range(2):
                missing = {script for (script, _), _ in todo if script not in self._sha}
                for script in missing:
                    self._sha[script] = await self._redis.script_load(script)
                replies = await self._pipeline([call for call, _ in todo])
                retry = []
                for (call, future), reply in zip(todo, replies, strict=True):
                    if isinstance(reply, NoScriptError):
                        self._sha.pop(call[0], None)
                        retry.append((call, future))
                    elif not future.done():
                        if isinstance(reply, Exception):
                            future.set_exception(reply)
                        else:
                            future.set_result(reply)
                if not retry:
                    return
                todo = retry
            raise NoScriptError("scripts vanished twice in a row")
        except BaseException as exc:
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._in_flight -= len(batch)

    async def _pipeline(self, calls: Sequence[Call]) -> list[Any]:
        keys = self._keys
        async with self._redis.pipeline(transaction=False) as pipe:
            for script, args in calls:
                pipe.evalsha(self._sha[script], len(keys), *keys, *args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies
