"""The visitor's side of one-time codes: prove the e-mail address or phone typed in the form.

The visitor asks for a code to a detail they claimed (``send_code``), the core's claim service
sends it through the e-mail or SMS channel, and the visitor types it back (``verify_code``); the
claim then becomes verified and the conversation is that customer's. Wrong tries, expiry and a
per-conversation hourly cap live in the claim service's code store; this module adds the chat's
own tighter cap (``identity.chat_codes_per_window`` per ``identity.chat_code_window`` seconds,
per conversation and per address, shared by the nodes through the limiter's storage), so a
visitor cannot use the widget to flood someone's mailbox or phone.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Protocol

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from adapters.webchat.sessions import ChatSessions, Visitor
from cti.domain import Customer, Identity
from cti.errors import Conflict, InvalidInput, Unavailable

log = logging.getLogger(__name__)


class VisitorClaims(Protocol):
    """What the web chat needs of the core's claim service (``cti.claims.ClaimService``)."""

    async def send_code_to(self, interaction_id: str, identity: Identity, *, actor: str) -> None: ...
    async def verify_code(self, interaction_id: str, code: str, *, actor: str) -> Customer: ...


class VisitorCodes:
    def __init__(self, *, sessions: ChatSessions, claims: VisitorClaims | None, storage: Storage,
                 per_window: int, window: float) -> None:
        self._sessions = sessions
        self._claims = claims
        self._limiter = MovingWindowRateLimiter(storage)
        self._limit = RateLimitItemPerSecond(per_window, max(1, round(window)))

    async def send(self, visitor: Visitor, to: str) -> dict[str, str]:
        claims = self._service()
        target = visitor.claims.get(to)
        if target is None:
            raise InvalidInput("nothing-to-verify", f"no {to} was given when the chat started", to=to)
        interaction_id = await self._conversation(visitor)
        for key in (f"conversation:{interaction_id}", f"to:{target.kind.value}:{target.value}"):
            if not await self._limiter.hit(self._limit, "chat-code", key):
                stats = await self._limiter.get_window_stats(self._limit, "chat-code", key)
                # The limiter's storage keeps wall-clock times, so the wait is told against one.
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise Conflict("too-many-codes", "too many codes were asked for; try again later",
                               retry_after=retry_after)
        await claims.send_code_to(interaction_id, target, actor="visitor")
        log.info("chat code sent interaction=%s to=%s", interaction_id, to)
        return {"type": "code_sent", "to": to}

    async def verify(self, visitor: Visitor, code: str) -> dict[str, Any]:
        claims = self._service()
        interaction_id = await self._conversation(visitor)
        customer = await claims.verify_code(interaction_id, code.strip(), actor="visitor")
        kinds = sorted(k for k, identity in visitor.claims.items() if identity in customer.identities)
        log.info("chat claim verified interaction=%s customer=%s", interaction_id, customer.id)
        return {"type": "verified", "kinds": kinds}

    def _service(self) -> VisitorClaims:
        if self._claims is None:
            raise Unavailable("codes-unavailable", "one-time codes are not available here")
        return self._claims

    async def _conversation(self, visitor: Visitor) -> str:
        interaction_id = await self._sessions.open_interaction_id(visitor)
        if interaction_id is None:
            raise Conflict("no-conversation", "write a message first: codes belong to a conversation")
        return interaction_id
