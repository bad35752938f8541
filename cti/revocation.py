"""Revoked log-in tokens and one-time WebSocket tickets in Redis, when nodes share one: a log-out
on one node is seen by all at once, and a ticket opens one socket on one node only."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from cti.clock import Clock


class RedisTokenRecords:
    def __init__(self, *, redis: Any, prefix: str, clock: Clock) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock

    def _seconds_until(self, at: float) -> int:
        return max(1, math.ceil(at - self._clock.now()))

    async def revoke(self, jti: str, *, expires_at: float) -> None:
        # The entry expires with the token: after that the token is refused for its age anyway.
        await self._redis.set(f"{self._prefix}:revoked:{jti}", "1", ex=self._seconds_until(expires_at))

    async def is_revoked(self, jti: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}:revoked:{jti}"))

    async def put_ticket(self, ticket: str, principal: Mapping[str, Any], *, expires_at: float) -> None:
        await self._redis.set(f"{self._prefix}:ticket:{ticket}", json.dumps(principal),
                              ex=self._seconds_until(expires_at))

    async def take_ticket(self, ticket: str) -> Mapping[str, Any] | None:
        # GETDEL is atomic: of two nodes taking the same ticket, one gets it.
        raw = await self._redis.getdel(f"{self._prefix}:ticket:{ticket}")
        if raw is None:
            return None
        found: Mapping[str, Any] = json.loads(raw)
        return found
