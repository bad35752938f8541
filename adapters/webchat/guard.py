"""Limits on chat visitors, so one client cannot hold the node's sockets or flood the queues.

Per client address: open sockets (a count, refused with 429 before the upgrade) and new
conversations per minute; per visitor: messages per minute; per node: visitor sockets in all;
and a deadline for ``hello``. With several nodes each node applies the caps to what it serves.

The rates are moving windows kept here (``MovingWindow``) rather than in the ``limits``
library's in-memory store: that store sweeps every key it holds after every hit, with a thread
hop per key for moving windows, so each visitor's message cost the node in proportion to every
visitor of the last minute (measured: about an eighth of the server's CPU under
``bench screen_pop``). Open sockets are a concurrency count, which ``limits`` does not do either.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import Counter, deque
from collections.abc import Callable

from aiohttp import WSCloseCode, web

from cti.settings.traffic import TrafficSettings
from desktop_api.outbox import Outbox


class Refusal(enum.StrEnum):
    """Why a visitor was refused: the ``error_id`` the client sees."""

    SOCKETS_PER_ADDRESS = "too-many-sockets"
    SOCKETS_PER_NODE = "too-many-visitors"
    CONVERSATIONS = "too-many-conversations"
    MESSAGES = "too-many-messages"
    NO_HELLO = "hello-timeout"

    @property
    def message(self) -> str:
        return {
            Refusal.SOCKETS_PER_ADDRESS: "too many chat connections from your address; close some and retry",
            Refusal.SOCKETS_PER_NODE: "the chat is busy; please retry in a moment",
            Refusal.CONVERSATIONS: "too many new conversations from your address; retry in a minute",
            Refusal.MESSAGES: "you are sending messages too fast; reconnect and slow down",
            Refusal.NO_HELLO: "no hello within the time allowed",
        }[self]


class MovingWindow:
    """At most ``limit`` hits per key in any ``window`` seconds.

    A hit costs O(1) amortised: each key keeps the times of its last ``limit`` hits at most,
    and keys idle for a whole window are dropped by a sweep that runs at most once a window.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._swept = clock()

    def hit(self, key: str) -> bool:
        """Count a hit for ``key`` and say True, or say False (and count nothing) when over."""
        now = self._clock()
        if now - self._swept >= self.window:
            self._sweep(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def __len__(self) -> int:
        return len(self._hits)

    def _sweep(self, now: float) -> None:
        self._swept = now
        idle = [key for key, hits in self._hits.items() if not hits or now - hits[-1] >= self.window]
        for key in idle:
            del self._hits[key]


class VisitorGuard:
    """The caps of one node (see ``TrafficSettings`` for each default and why)."""

    def __init__(self, settings: TrafficSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._open: Counter[str] = Counter()
        self._total = 0
        self._conversations = MovingWindow(settings.visitor_conversations_per_minute, 60.0, clock=clock)
        self._messages = MovingWindow(settings.visitor_messages_per_minute, 60.0, clock=clock)

    def admit(self, address: str) -> Refusal | None:
        """Count a new socket from ``address``, or say why it is refused; ``release`` undoes it."""
        if self._total >= self.settings.visitor_sockets_per_node:
            return Refusal.SOCKETS_PER_NODE
        if self._open[address] >= self.settings.visitor_sockets_per_address:
            return Refusal.SOCKETS_PER_ADDRESS
        self._open[address] += 1
        self._total += 1
        return None

    def release(self, address: str) -> None:
        self._total -= 1
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    async def new_conversation(self, address: str) -> Refusal | None:
        return None if self._conversations.hit(address) else Refusal.CONVERSATIONS

    async def message(self, visitor_id: str) -> Refusal | None:
        return None if self._messages.hit(visitor_id) else Refusal.MESSAGES

    async def hello_watch(self, outbox: Outbox, said_hello: Callable[[], bool]) -> None:
        """Close the socket unless it said hello within the deadline (run as a task)."""
        await asyncio.sleep(self.settings.visitor_hello_deadline)
        if not said_hello():
            await refuse(outbox, Refusal.NO_HELLO)


def refusal_response(why: Refusal) -> web.Response:
    """Before the upgrade: 429 with the reason, and when to try again."""
    return web.json_response({"error_id": why.value, "message": why.message}, status=429,
                             headers={"Retry-After": "10"})


async def refuse(outbox: Outbox, why: Refusal) -> None:
    """After the upgrade: the reason as a JSON error frame, then close with 1008 (policy)."""
    outbox.put({"type": "error", "error_id": why.value, "message": why.message})
    await outbox.close(WSCloseCode.POLICY_VIOLATION, why.value.encode())


GUARD = web.AppKey("chat_guard", VisitorGuard)
