"""Visitor sessions of the web chat: who is connected, which interaction they continue.

A visitor whose socket drops (a page reload, a flaky phone) has ``reconnect_grace`` seconds to
come back to the same conversation; after that, or on an explicit ``leave``, the interaction
is marked as left by the customer.

Coming back needs the session secret the server gave that browser in its first welcome (see
``adapters.webchat.signing``): the visitor id alone is an identity agents see, so a ``hello``
with a visitor id and no matching secret is a new visitor with a new, empty conversation.

What a visitor is, by level (``cti.domain.IdentityLevel``):

- the chat visitor id: asserted ("chat-session"), proven by the secret, found again by it;
- an identifier signed by the embedding site: verified ("hmac"); a bad signature is refused;
- the e-mail address and phone typed in the form: claimed ("chat-form"), never attached to a
  customer until a one-time code proves them (``adapters.webchat.codes``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.webchat.schemas import Hello
from adapters.webchat.signing import SiteSignatures, new_session_secret, secret_matches
from cti.clock import IdSource
from cti.config import ChatConfig
from cti.domain import (
    Channel,
    ChatSession,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    jsonable,
)
from cti.errors import CtiError
from cti.identities import normalise, normalise_phone
from cti.lifecycle import OPEN_STATES
from cti.ports import ContextStore
from cti.service import InteractionService
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

REF_VISITOR = "chat_visitor"
REF_SESSION = "chat_session"
PAGE_KEPT = 500  # characters of the page address kept in the interaction's context


@dataclass
class Visitor:
    visitor_id: str
    secret_hash: str  # of the browser's session secret; the secret itself is never kept
    identities: list[InboundIdentity]
    name: str | None
    page: str | None
    claims: dict[str, Identity] = field(default_factory=dict)  # "email"/"phone" as typed, normalised
    interaction_id: str | None = None
    sockets: set[Any] = field(default_factory=set)
    left_message: bool = False  # wrote while the chat was closed: kept for an agent, never abandoned


class ChatSessions:
    def __init__(self, *, interactions: InteractionService, context: ContextStore, ids: IdSource,
                 chat: Callable[[], ChatConfig], default_country_code: str,
                 sites: SiteSignatures | None = None, is_open: Callable[[str],
                                                                        bool] = lambda _: True) -> None:
        self._interactions = interactions
        self._context = context
        self._ids = ids
        # Read at each use: an admin may change the chat's queue, skills or grace while it runs.
        self._chat = chat
        self._is_open = is_open
        self._country = default_country_code
        self._sites = sites or SiteSignatures({})
        self._visitors: dict[str, Visitor] = {}
        self._by_interaction: dict[str, str] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}

    def visitor_for(self, interaction_id: str) -> Visitor | None:
        visitor_id = self._by_interaction.get(interaction_id)
        return self._visitors.get(visitor_id) if visitor_id else None

    async def hello(self, data: Hello, socket: Any) -> tuple[Visitor, dict[str, Any]]:
        # Everything that can refuse the hello runs before any state changes.
        signed = self._signed_identity(data)
        claims = self._claims(data)
        visitor_id, secret, secret_hash = await self._session(data)
        identities = [InboundIdentity(Identity(IdentityKind.CHAT, visitor_id), IdentityLevel.ASSERTED,
                                      "chat-session")]
        if signed is not None:
            identities.append(InboundIdentity(signed, IdentityLevel.VERIFIED, "hmac"))
        identities += [InboundIdentity(c, IdentityLevel.CLAIMED, "chat-form") for c in claims.values()]
        name = data.name or None
        visitor = self._visitors.get(visitor_id)
        if visitor is None:
            visitor = Visitor(visitor_id=visitor_id, secret_hash=secret_hash, identities=identities,
                              name=name, page=(data.page or "")[:PAGE_KEPT] or None, claims=claims)
            self._visitors[visitor_id] = visitor
        else:
            visitor.identities = identities
            visitor.claims = claims or visitor.claims
            visitor.name = name or visitor.name
        self._cancel_timer(visitor_id)
        visitor.sockets.add(socket)
        interaction = await self._open_interaction(visitor)
        messages: list[Any] = []
        if interaction is not None:
            visitor.interaction_id = interaction.id
            self._by_interaction[interaction.id] = visitor_id
            messages = [jsonable(m) for m in await self._context.messages(interaction.id)]
            if signed is not None and signed not in (
                    await self._context.customer(interaction.customer_id)).identities:
                # Signed in on the site since the chat began: that proves who this chat's customer is.
                await self._context.prove_identity(interaction.customer_id, signed, actor="webchat",
                                                   how="verified", reason=f"signed by site {data.site}")
                await self._context.record_presented(
                    interaction.id, [InboundIdentity(signed, IdentityLevel.VERIFIED, "hmac")],
                    display_name=None)
        welcome: dict[str, Any] = {"type": "welcome", "visitor_id": visitor_id,
                                   "interaction_id": interaction.id if interaction else None,
                                   "messages": messages, "claims": sorted(visitor.claims),
                                   # Outside the queue's business hours: the page offers to leave a message.
                                   "open": self._is_open(self._chat().queue)}
        if secret is not None:
            welcome["session_secret"] = secret  # once, to this browser; only its hash is kept
        return visitor, welcome

    def _signed_identity(self, data: Hello) -> Identity | None:
        if data.identifier is None and data.identifier_hash is None:
            return None
        return self._sites.verify(data.site, data.identifier, data.identifier_hash)

    def _claims(self, data: Hello) -> dict[str, Identity]:
        claims: dict[str, Identity] = {}
        if data.email and data.email.strip():
            claims["email"] = normalise(IdentityKind.EMAIL, data.email)
        if data.phone and data.phone.strip():
            claims["phone"] = Identity(IdentityKind.PHONE,
                                       normalise_phone(data.phone, default_country_code=self._country))
        return claims

    async def _session(self, data: Hello) -> tuple[str, str | None, str]:
        """(visitor id, the new secret or None when the browser proved it has one, its hash)."""
        if data.visitor_id is not None:
            known = self._visitors.get(data.visitor_id)
            stored = (known.secret_hash if known is not None
                      else await self._context.chat_secret_hash(data.visitor_id))
            if stored is not None and secret_matches(data.session_secret, stored):
                return data.visitor_id, None, stored
            log.info("chat hello for visitor=%s without its session secret: a new visitor", data.visitor_id)
        secret, secret_hash = new_session_secret()
        return self._ids.new_id("vis"), secret, secret_hash

    async def _open_interaction(self, visitor: Visitor) -> Interaction | None:
        if visitor.interaction_id:
            interaction = await self._context.interaction(visitor.interaction_id)
            if interaction.state in OPEN_STATES and not interaction.customer_left:
                return interaction
            return None
        customer = await self._context.find_customer(Identity(IdentityKind.CHAT, visitor.visitor_id))
        if customer is None:
            return None
        for interaction in await self._context.open_interactions(customer.id, Channel.CHAT):
            mine = interaction.channel_refs.get(REF_VISITOR) == visitor.visitor_id
            if mine and not interaction.customer_left:
                return interaction
        return None

    async def open_interaction_id(self, visitor: Visitor) -> str | None:
        """The visitor's conversation if it is still open (for one-time codes)."""
        if visitor.interaction_id is None:
            return None
        interaction = await self._context.interaction(visitor.interaction_id)
        if interaction.state not in OPEN_STATES or interaction.customer_left:
            return None
        return interaction.id

    async def message(self, visitor: Visitor, body: str) -> None:
        if visitor.interaction_id is not None:
            interaction = await self._context.interaction(visitor.interaction_id)
            if interaction.state not in OPEN_STATES or interaction.customer_left:
                self._by_interaction.pop(visitor.interaction_id, None)
                visitor.interaction_id = None
        if visitor.interaction_id is None:
            await self._start(visitor, body)  # stores the first message before queueing
            return
        await self._interactions.customer_message(visitor.interaction_id, body)

    async def _start(self, visitor: Visitor, first_body: str) -> None:
        self._interactions.check_body(first_body)
        chat = self._chat()
        context = {"chat.page": visitor.page} if visitor.page else {}
        if not self._is_open(chat.queue):
            # A message left while closed waits in the queue for the next agent; the visitor
            # leaving does not abandon it (nobody was there to answer live).
            context["chat.left_message"] = "yes"
            visitor.left_message = True
        if visitor.name:
            context["chat.name"] = visitor.name
        # Known before it exists: the visitor's own first message is echoed while it is created.
        interaction_id = self._ids.new_id("int")
        visitor.interaction_id = interaction_id
        self._by_interaction[interaction_id] = visitor.visitor_id
        try:
            await self._interactions.start_inbound(
                channel=Channel.CHAT, identities=visitor.identities, display_name=visitor.name,
                queue=chat.queue, skills=chat.skills, context=context, first_message=first_body,
                interaction_id=interaction_id,
                channel_refs={REF_VISITOR: visitor.visitor_id, REF_SESSION: self._ids.new_id("chs")},
                # Kept with the conversation: a reconnect to any node finds the session to resume it.
                chat_session=ChatSession(visitor.visitor_id, visitor.secret_hash))
        except BaseException:
            visitor.interaction_id = None
            self._by_interaction.pop(interaction_id, None)
            raise
        if visitor.left_message:
            for socket in list(visitor.sockets):
                socket.put({"type": "status", "state": "message_left"})

    async def disconnected(self, visitor: Visitor, socket: Any, *, leaving: bool) -> None:
        visitor.sockets.discard(socket)
        if visitor.sockets:
            return
        grace = self._chat().reconnect_grace
        if visitor.left_message:
            self._forget(visitor.visitor_id)
        elif leaving or grace <= 0:
            await self._left(visitor.visitor_id)
        else:
            self._cancel_timer(visitor.visitor_id)
            self._timers[visitor.visitor_id] = asyncio.create_task(self._grace_then_leave(visitor.visitor_id))

    def _forget(self, visitor_id: str) -> None:
        visitor = self._visitors.pop(visitor_id, None)
        if visitor is not None and visitor.interaction_id is not None:
            self._by_interaction.pop(visitor.interaction_id, None)

    async def _grace_then_leave(self, visitor_id: str) -> None:
        await asyncio.sleep(self._chat().reconnect_grace)
        self._timers.pop(visitor_id, None)
        await self._left(visitor_id)

    async def _left(self, visitor_id: str) -> None:
        visitor = self._visitors.pop(visitor_id, None)
        if visitor is None or visitor.interaction_id is None:
            return
        self._by_interaction.pop(visitor.interaction_id, None)
        try:
            await self._interactions.customer_left(visitor.interaction_id)
        except CtiError as exc:
            log.warning("chat leave failed interaction=%s: %s", visitor.interaction_id, exc.error_id)

    def _cancel_timer(self, visitor_id: str) -> None:
        timer = self._timers.pop(visitor_id, None)
        if timer is not None:
            timer.cancel()

    async def aclose(self) -> None:
        await stop_tasks(list(self._timers.values()))
        self._timers.clear()
