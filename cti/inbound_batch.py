"""Customer messages of one burst, stored together: ``InteractionService.start_inbound_batch``.

Each item is what ``start_inbound`` (a new interaction) or ``customer_message`` (on an open
one) would have stored, with the same checks, rows and events; the difference is that the whole
batch is written in one transaction (``ContextStore.store_inbound``) and the routing engine is
poked once. An item continues an interaction of the batch by naming it (``continues``, with the
``interaction_id`` the earlier item was given).

An item the batch does not store (a check refused it, another request is storing it, the
interaction it continues was closed meanwhile) comes back with ``why``; the caller then stores it
the one-by-one way, which decides it (and answers errors) exactly as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cti import lifecycle
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.domain import (
    Channel,
    ChatSession,
    Direction,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
    MessageSender,
    jsonable,
)
from cti.events import InteractionQueued, MessageAdded
from cti.hub import EventHub
from cti.live_config import LiveConfig, as_live
from cti.ports import ContextStore, InboundWrite, RecordedAttachment
from cti.priority import priority_for
from cti.routing import RoutingStore, WaitingItem
from cti.text import clean_line, clean_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundItem:
    channel: Channel
    identities: Sequence[InboundIdentity]
    body: str | None  # None: a new interaction without a first message (a call)
    message_ref: str | None  # the channel's id of the message: the dedupe key, claimed when given
    display_name: str | None = None
    queue: str | None = None
    channel_refs: Mapping[str, str] = field(default_factory=dict)  # of a new interaction
    context: Mapping[str, str] = field(default_factory=dict)  # of a new interaction
    subject: str | None = None
    priority: float = 1.0  # of a new interaction
    skills: Mapping[str, int] = field(default_factory=dict)  # of a new one, besides its queue's
    direction: Direction = Direction.INBOUND
    # The open interaction it continues (read before), or one an earlier item of the batch
    # starts; None: it starts a new one, with ``interaction_id`` when given.
    continues: Interaction | None = None
    interaction_id: str | None = None
    attachments: Sequence[RecordedAttachment] = ()
    chat_session: ChatSession | None = None  # of a new chat: kept in the same transaction
    # False: the new interaction waits elsewhere (a call in Asterisk's fallback queue), not in
    # the router, which must never offer it (``InteractionService.hand_off``).
    routed: bool = True


@dataclass(frozen=True, slots=True)
class InboundStored:
    interaction: Interaction | None  # None: not stored by the batch (see ``why``)
    message: Message | None  # None: the message was already stored there (a duplicate)
    new_interaction: bool = False
    why: str | None = None  # "invalid", "claimed", "closed", "after" (see ``cti.ports.InboundWritten``)


class InboundBatches:
    @property
    def _config(self) -> AppConfig:
        return self._live.current  # read at each use: an admin's change counts at once

    def __init__(self, *, config: AppConfig | LiveConfig, context: ContextStore, routing: RoutingStore,
                 hub: EventHub,
                 clock: Clock, ids: IdSource, poke: Callable[[], None], check_body: Callable[[str], None],
                 waiting_item: Callable[[Interaction, float, str | None], WaitingItem]) -> None:
        self._live = as_live(config)
        self._context = context
        self._routing = routing
        self._hub = hub
        self._clock = clock
        self._ids = ids
        self._poke = poke
        self._check_body = check_body
        self._waiting_item = waiting_item

    async def store(self, items: Sequence[InboundItem], *, claim: bool = True) -> list[InboundStored]:
        """``claim``: take each message's inbound claim in the transaction (False when the caller
        holds it already)."""
        now = self._clock.now()
        writes: list[InboundWrite | None] = []
        for item in items:
            try:
                writes.append(self._write(item, now, claim=claim))
            except Exception:  # the one-by-one way raises it again, to the caller
                writes.append(None)
        ready = [w for w in writes if w is not None]
        written = iter(await self._context.store_inbound(ready) if ready else [])
        out: list[InboundStored] = []
        queued = 0
        for item, write in zip(items, writes, strict=True):
            if write is None:
                out.append(InboundStored(None, None, why="invalid"))
                continue
            result = next(written)
            if not result.stored:
                out.append(InboundStored(None, None, why=result.why))
                continue
            message = write.message if result.message_stored else None
            if write.start is not None and result.interaction is not None:
                interaction = result.interaction
                if message is not None:
                    await self._hub.publish(MessageAdded(at=message.at, interaction_id=interaction.id,
                                                         agent_id=None, message=jsonable(message)))
                if item.routed:
                    await self._routing.enqueue(self._waiting_item(interaction, now, result.working_agent))
                    queued += 1
                await self._hub.publish(InteractionQueued(at=now, interaction=jsonable(interaction)))
                log.info("interaction queued id=%s channel=%s queue=%s customer=%s routed=%s", interaction.id,
                         interaction.channel.value, interaction.queue, interaction.customer_id, item.routed)
                out.append(InboundStored(interaction, message, new_interaction=True))
                continue
            target = result.interaction or item.continues
            if target is None:  # never: an item without ``start`` continues one
                out.append(InboundStored(None, None, why="invalid"))
                continue
            if message is not None:
                await self._hub.publish(MessageAdded(at=message.at, interaction_id=target.id,
                                                     agent_id=result.agent_id, message=jsonable(message)))
            out.append(InboundStored(target, message))
        if queued:
            self._poke()
        return out

    def _write(self, item: InboundItem, now: float, *, claim: bool) -> InboundWrite:
        """The rows of one item, checked as ``start_inbound`` and ``customer_message`` check them."""
        body: str | None = None
        if item.body is not None:
            body = clean_text(item.body)
            self._check_body(body)
        claimed = f"{item.channel.value}:{item.message_ref}" if claim and item.message_ref else None
        if item.continues is not None:
            if body is None:
                raise ValueError("a message on an interaction has a body")
            message = Message(id=self._ids.new_id("msg"), interaction_id=item.continues.id,
                              sender=MessageSender.CUSTOMER, body=body, at=now, channel_ref=item.message_ref)
            return InboundWrite(claim=claimed, message=message, attachments=item.attachments)
        name = (clean_line(item.display_name, max_len=len(item.display_name)) or None) \
            if item.display_name else None
        queue_name = item.queue or self._config.chat.queue
        queue_cfg = self._config.queues.get(queue_name)
        if queue_cfg is None:
            raise LookupError(queue_name)
        interaction = Interaction(
            id=item.interaction_id or self._ids.new_id("int"), channel=item.channel, direction=item.direction,
            customer_id="", queue=queue_name, state=InteractionState.NEW,
            # The configuration's rules (channel, IVR answers) may raise what the channel gave.
            priority=priority_for(self._config.priority, channel=item.channel, context=item.context,
                                  given=item.priority),
            skills={**queue_cfg.skills, **item.skills}, arrived_at=now, channel_refs=dict(item.channel_refs),
            context=dict(item.context), subject=item.subject)
        interaction = lifecycle.apply(interaction, "enqueue", now=now)
        first = None if body is None else Message(
            id=self._ids.new_id("msg"), interaction_id=interaction.id, sender=MessageSender.CUSTOMER,
            body=body, at=now, channel_ref=item.message_ref)
        return InboundWrite(claim=claimed, message=first, start=interaction,
                            identities=list(item.identities), display_name=name,
                            reason=f"inbound {item.channel.value}", attachments=item.attachments,
                            chat_session=item.chat_session)
