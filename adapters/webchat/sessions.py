"""Visitor sessions of the web chat: who is connected, which interaction they continue.

A visitor whose socket drops (a page reload, a flaky phone) has ``reconnect_grace`` seconds to
come back to the same conversation; after that, or on an explicit ``leave``, the interaction
is marked as left by the customer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.clock import IdSource
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity, Interaction, jsonable
from cti.errors import CtiError, InvalidInput
from cti.identities import normalise, normalise_phone
from cti.lifecycle import OPEN_STATES
from cti.ports import ContextStore
from cti.service import InteractionService
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

REF_VISITOR = "chat_visitor"
REF_SESSION = "chat_session"
MAX_NAME = 100


@dataclass
class Visitor:
    visitor_id: str
    identities: list[InboundIdentity]
    name: str | None
    page: str | None
    interaction_id: str | None = None
    sockets: set[Any] = field(default_factory=set)


class ChatSessions:
    def __init__(self, *, interactions: InteractionService, context: ContextStore, ids: IdSource,
                 queue: str, skills: Mapping[str, int], reconnect_grace: float,
                 default_country_code: str) -> None:
        self._interactions = interactions
        self._context = context
        self._ids = ids
        self._queue = queue
        self._skills = skills
        self._grace = reconnect_grace
        self._country = default_country_code
        self._visitors: dict[str, Visitor] = {}
        self._by_interaction: dict[str, str] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}

    def visitor_for(self, interaction_id: str) -> Visitor | None:
        visitor_id = self._by_interaction.get(interaction_id)
        return self._visitors.get(visitor_id) if visitor_id else None

    async def hello(self, data: Mapping[str, Any], socket: Any) -> tuple[Visitor, dict[str, Any]]:
        visitor_id = data.get("visitor_id")
        if not isinstance(visitor_id, str) or not 8 <= len(visitor_id) <= 64 or not visitor_id.isascii():
            visitor_id = self._ids.new_id("vis")
        identities = [InboundIdentity(Identity(IdentityKind.CHAT, visitor_id), IdentityLevel.ASSERTED,
                                      "chat-session")]
        # Typed into the form: claims, shown to the agent, never trusted to find anyone.
        email = data.get("email")
        if isinstance(email, str) and email.strip():
            identities.append(InboundIdentity(normalise(IdentityKind.EMAIL, email), IdentityLevel.CLAIMED,
                                              "chat-form"))
        phone = data.get("phone")
        if isinstance(phone, str) and phone.strip():
            identities.append(InboundIdentity(Identity(IdentityKind.PHONE, normalise_phone(
                phone, default_country_code=self._country)), IdentityLevel.CLAIMED, "chat-form"))
        name = data.get("name") if isinstance(data.get("name"), str) else None
        if name is not None and len(name) > MAX_NAME:
            raise InvalidInput("field-too-long", f"the name exceeds {MAX_NAME} characters", field="name")
        page = data.get("page") if isinstance(data.get("page"), str) else None
        visitor = self._visitors.get(visitor_id)
        if visitor is None:
            visitor = Visitor(visitor_id=visitor_id, identities=identities, name=name or None,
                              page=(page or "")[:500] or None)
            self._visitors[visitor_id] = visitor
        else:
            visitor.identities = identities
            visitor.name = name or visitor.name
        self._cancel_timer(visitor_id)
        visitor.sockets.add(socket)
        interaction = await self._open_interaction(visitor)
        messages: list[Any] = []
        if interaction is not None:
            visitor.interaction_id = interaction.id
            self._by_interaction[interaction.id] = visitor_id
            messages = [jsonable(m) for m in await self._context.messages(interaction.id)]
        welcome = {"type": "welcome", "visitor_id": visitor_id,
                   "interaction_id": interaction.id if interaction else None, "messages": messages}
        return visitor, welcome

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

    async def message(self, visitor: Visitor, body: Any) -> None:
        if not isinstance(body, str):
            raise InvalidInput("bad-field", "'body' must be a string", field="body")
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
        context = {"chat.page": visitor.page} if visitor.page else {}
        if visitor.name:
            context["chat.name"] = visitor.name
        # Known before it exists: the visitor's own first message is echoed while it is created.
        interaction_id = self._ids.new_id("int")
        visitor.interaction_id = interaction_id
        self._by_interaction[interaction_id] = visitor.visitor_id
        try:
            await self._interactions.start_inbound(
                channel=Channel.CHAT, identities=visitor.identities, display_name=visitor.name,
                queue=self._queue, skills=self._skills, context=context, first_message=first_body,
                interaction_id=interaction_id,
                channel_refs={REF_VISITOR: visitor.visitor_id, REF_SESSION: self._ids.new_id("chs")})
        except BaseException:
            visitor.interaction_id = None
            self._by_interaction.pop(interaction_id, None)
            raise

    async def disconnected(self, visitor: Visitor, socket: Any, *, leaving: bool) -> None:
        visitor.sockets.discard(socket)
        if visitor.sockets:
            return
        if leaving or self._grace <= 0:
            await self._left(visitor.visitor_id)
        else:
            self._cancel_timer(visitor.visitor_id)
            self._timers[visitor.visitor_id] = asyncio.create_task(self._grace_then_leave(visitor.visitor_id))

    async def _grace_then_leave(self, visitor_id: str) -> None:
        await asyncio.sleep(self._grace)
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
