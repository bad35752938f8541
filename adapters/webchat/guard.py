"""Limits on chat visitors, so one client cannot hold the node's sockets or flood the queues.

Per client address: open sockets (a count, refused with 429 before the upgrade) and new
conversations per minute; per visitor: messages per minute; per node: visitor sockets in all;
and a deadline for ``hello``. Rates use the ``limits`` library (moving windows in memory, per
node); open sockets are a concurrency count, which ``limits`` does not do, so they are counted
here. With several nodes each node applies the caps to what it serves.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import Callable

from aiohttp import WSCloseCode, web
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

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


class VisitorGuard:
    """The caps of one node (see ``TrafficSettings`` for each default and why)."""

    def __init__(self, settings: TrafficSettings) -> None:
        self.settings = settings
        self._open: Counter[str] = Counter()
        self._total = 0
        self._storage = MemoryStorage()
        self._rates = MovingWindowRateLimiter(self._storage)
        self._conversations = RateLimitItemPerMinute(settings.visitor_conversations_per_minute)
        self._messages = RateLimitItemPerMinute(settings.visitor_messages_per_minute)

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
        if await self._rates.hit(self._conversations, "conversation", address):
            return None
        return Refusal.CONVERSATIONS

    async def message(self, visitor_id: str) -> Refusal | None:
        if await self._rates.hit(self._messages, "message", visitor_id):
            return None
        return Refusal.MESSAGES

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
