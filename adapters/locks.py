"""One lock per key (a phone number, a Message-ID), dropped when nobody holds or waits for it.

With ``leases`` shared by several nodes the lock holds across them too: a node first takes its
own lock (so its requests queue locally), then the cluster's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from cti.lease import Leases


class KeyedLocks:
    def __init__(self, leases: Leases | None = None, name: str = "") -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._leases = leases
        self._name = name

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if self._leases is None:
                    yield
                else:
                    async with self._leases.exclusive(f"{self._name}:{key}"):
                        yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
