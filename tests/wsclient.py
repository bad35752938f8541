"""A small JSON WebSocket client for tests: wait for the message you expect, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp


class JsonSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, data: dict[str, Any]) -> None:
        await self.ws.send_json(data)

    async def expect(self, predicate: Callable[[dict[str, Any]], bool] | str, *,
                     timeout: float = 10.0) -> dict[str, Any]:
        """The next message matching ``predicate`` (or of that ``type``); earlier ones are kept."""
        match = (lambda m: m.get("type") == predicate) if isinstance(predicate, str) else predicate
        for m in self.seen:
            if match(m):
                self.seen.remove(m)
                return m
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching message in {timeout}s; got {self.seen[-10:]}")
            try:
                msg = await self.ws.receive(timeout=remaining)
            except TimeoutError:
                continue
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {msg.type} {msg.data!r}; got {self.seen[-10:]}")
            data = msg.json()
            if match(data):
                return data
            self.seen.append(data)

    async def command(self, data: dict[str, Any], *, timeout: float = 10.0) -> dict[str, Any]:
        ref = f"r{time.monotonic_ns()}"
        await self.send({**data, "ref": ref})
        return await self.expect(lambda m: m.get("ref") == ref and m.get("type") in ("ack", "error"),
                                 timeout=timeout)

    async def close(self) -> None:
        await self.ws.close()
