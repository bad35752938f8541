"""Work that must run on one node at a time: a lease in Redis that its holder keeps renewing.

Two nodes on one AMI link would each turn the same caller into an interaction and each ring an
agent; two nodes polling one mailbox or one X account would each spend the provider's rate limit
on the same messages. The holder renews the lease every third of its time to live; a node that
dies stops renewing and another takes over when the lease expires. Without Redis there is one
node, and the work simply runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cti.errors import Unavailable
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

# Renew or release only our own lease: a GET-then-act in Python could act on another's.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    def __init__(self, redis: Any, key: str, holder: str, *, ttl: float = 15.0) -> None:
        if ttl <= 0:
            raise ValueError("the lease needs a positive time to live")
        self._redis = redis
        self._key = key
        self._holder = holder
        self.ttl = ttl
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        """Take the lease if it is free, or keep it if it is ours."""
        ms = int(self.ttl * 1000)
        if await self._redis.set(self._key, self._holder, nx=True, px=ms):
            return True
        return bool(await self._renew(keys=[self._key], args=[self._holder, ms]))

    async def release(self) -> None:
        await self._release(keys=[self._key], args=[self._holder])

    async def holder(self) -> str | None:
        raw = await self._redis.get(self._key)
        return raw.decode() if isinstance(raw, bytes) else raw


Job = Callable[[], Awaitable[None]]


class LeaseKeeper:
    """Runs ``on_gained`` when this node takes the lease and ``on_lost`` when it loses it."""

    def __init__(self, lease: RedisLease, *, on_gained: Job, on_lost: Job, name: str = "ami") -> None:
        self._lease = lease
        self._name = name
        self._on_gained = on_gained
        self._on_lost = on_lost
        self.holding = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self._name}-lease")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])
        if self.holding:
            self.holding = False
            await self._on_lost()
            with contextlib.suppress(Exception):  # best effort: it expires by itself anyway
                await self._lease.release()

    async def _run(self) -> None:
        while True:
            try:
                held = await self._lease.acquire()
            except Exception as exc:  # Redis unreachable: we cannot prove we still own it
                log.warning("lease name=%s: cannot reach redis: %s", self._name, exc)
                held = False
            if held and not self.holding:
                self.holding = True
                log.info("lease gained name=%s", self._name)
                await self._on_gained()
            elif not held and self.holding:
                self.holding = False
                log.warning("lease lost name=%s", self._name)
                await self._on_lost()
            await asyncio.sleep(self._lease.ttl / 3)


class OneNode:
    """A job (``start`` and ``stop``) run by one node of the cluster at a time: under a lease
    when there is one, at once when the node is alone."""

    def __init__(self, *, start: Job, stop: Job, lease: RedisLease | None, name: str) -> None:
        self._start = start
        self._stop = stop
        self._keeper = LeaseKeeper(lease, on_gained=start, on_lost=stop, name=name) if lease else None

    async def start(self) -> None:
        await (self._keeper.start() if self._keeper is not None else self._start())

    async def aclose(self) -> None:
        await (self._keeper.aclose() if self._keeper is not None else self._stop())


@dataclass(frozen=True, slots=True)
class Leases:
    """Where leases live: ``redis`` shared by the nodes (None: one node), keys under ``prefix``."""

    redis: Any | None = None
    prefix: str = "cti"
    node_id: str = "local"
    ttl: float = 15.0

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str, *, wait: float = 10.0, ttl: float = 30.0) -> AsyncIterator[None]:
        """One holder of ``name`` across the nodes at a time (alone, there is nothing to do:
        the caller's own lock is enough). A holder that dies frees it after ``ttl``.

        Raises ``Unavailable`` after ``wait`` seconds without it, so a caller never hangs.
        """
        if self.redis is None:
            yield
            return
        # Hashed: names carry phone numbers and addresses, which have no business in Redis keys.
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
        lease = RedisLease(self.redis, f"{self.prefix}:lock:{digest}", f"{self.node_id}:{uuid.uuid4().hex}",
                           ttl=ttl)
        deadline = time.monotonic() + wait
        pause = 0.005
        while not await lease.acquire():
            if time.monotonic() > deadline:
                raise Unavailable("lock-busy", "another node holds this work; try again",
                                  waited=wait)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # it expires by itself anyway
                await lease.release()

    def one_node(self, name: str, *, start: Job, stop: Job) -> OneNode:
        lease = (RedisLease(self.redis, f"{self.prefix}:{name}:lease", self.node_id, ttl=self.ttl)
                 if self.redis is not None else None)
        return OneNode(start=start, stop=stop, lease=lease, name=name)
