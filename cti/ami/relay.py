"""Call control from any node: a node without the Asterisk link asks the one that has it.

Only the lease holder talks to Asterisk (``lease.py``), but an agent's desktop may be connected
to any node. A command (hold, transfer, …) is published on a Redis channel with a reply channel
of the asking node; the holder runs it on its bridge and answers with the result or the error,
which the asking node raises as the same typed error. No holder within the timeout is a 503.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cti.errors import Conflict, CtiError, Forbidden, InvalidInput, NotFound, Unavailable
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

ERRORS: Mapping[int, type[CtiError]] = {400: InvalidInput, 403: Forbidden, 404: NotFound, 409: Conflict,
                                        503: Unavailable}
Handler = Callable[[str, Mapping[str, Any]], Awaitable[Any]]


class CommandRelay:
    def __init__(self, redis: Any, *, prefix: str, node_id: str, timeout: float = 5.0) -> None:
        self._redis = redis
        self._commands = f"{prefix}:ami:commands"
        self._replies = f"{prefix}:ami:replies:{node_id}"
        self._timeout = timeout
        self._waiting: dict[str, asyncio.Future[Mapping[str, Any]]] = {}
        self._handler: Handler | None = None  # set while this node holds the link
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()  # commands being run for other nodes

    def serve(self, handler: Handler | None) -> None:
        """Run commands from other nodes with ``handler`` (None: this node does not hold the link)."""
        self._handler = handler

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="ami-relay")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])

    async def call(self, method: str, args: Mapping[str, Any]) -> Any:
        request_id = secrets.token_hex(8)
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            listeners = await self._redis.publish(self._commands, json.dumps(
                {"id": request_id, "reply_to": self._replies, "method": method, "args": dict(args)}))
            if not listeners:
                raise Unavailable("voice-unavailable", "no node holds the telephony link")
            async with asyncio.timeout(self._timeout):
                reply = await future
        except TimeoutError as exc:
            raise Unavailable("voice-unavailable",
                              "the node holding the telephony link did not answer") from exc
        finally:
            self._waiting.pop(request_id, None)
        if "error" in reply:
            error = reply["error"]
            raise ERRORS.get(int(error.get("status", 503)), Unavailable)(
                str(error.get("error_id", "voice-unavailable")), str(error.get("message", "")),
                **dict(error.get("details") or {}))
        return reply.get("result")

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._commands, self._replies)
            self._ready.set()
            async for raw in pubsub.listen():
                if raw.get("type") != "message":
                    continue
                channel = raw["channel"].decode() if isinstance(raw["channel"], bytes) else raw["channel"]
                try:
                    data = json.loads(raw["data"])
                except (ValueError, TypeError):
                    log.warning("ami relay: dropped a malformed message")
                    continue
                if channel == self._replies:
                    future = self._waiting.get(str(data.get("id")))
                    if future is not None and not future.done():
                        future.set_result(data)
                elif self._handler is not None:
                    task = asyncio.create_task(self._run(self._handler, data), name="ami-relay-command")
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
        finally:
            await pubsub.aclose()

    async def _run(self, handler: Handler, data: Mapping[str, Any]) -> None:
        reply: dict[str, Any] = {"id": data.get("id")}
        try:
            reply["result"] = await handler(str(data.get("method")), data.get("args") or {})
        except CtiError as exc:
            reply["error"] = {**exc.to_dict(), "status": exc.status}
        except Exception as exc:  # the asking node must hear back, whatever went wrong here
            log.exception("ami relay: command %s failed", data.get("method"))
            reply["error"] = {"error_id": "voice-error", "message": type(exc).__name__, "status": 503}
        await self._redis.publish(str(data.get("reply_to")), json.dumps(reply, default=str))
