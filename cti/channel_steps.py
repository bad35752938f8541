"""What the channels report about their interactions: ``InteractionService``'s channel steps.

A customer's first message or call (``start_inbound``, ``start_inbound_batch``), their further
messages (``customer_message``) and their leaving (``customer_left``); work that starts with its
agent (``start_active``); and what the call paths learn on the way (``update_refs``,
``call_ended``, ``reassign``). Every change goes through ``InteractionCore``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from cti import lifecycle
from cti.campaigns import PopCampaigns
from cti.domain import (
    Channel,
    ChatSession,
    Customer,
    Direction,
    Identity,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
    MessageSender,
    jsonable,
)
from cti.errors import Conflict, NotFound
from cti.events import (
    InteractionAbandoned,
    InteractionAccepted,
    InteractionQueued,
    InteractionTransferred,
    InteractionWrapUp,
    MessageAdded,
)
from cti.inbound_batch import InboundBatches, InboundItem, InboundStored
from cti.interaction_core import ROUTED_ELSEWHERE, CoreSteps, InteractionCore
from cti.priority import priority_for
from cti.text import clean_line, clean_text

# Under the service's name: what operators filter the log on did not move with the code.
log = logging.getLogger("cti.service")


class ChannelSteps(CoreSteps):
    def __init__(self, core: InteractionCore, *, campaigns: PopCampaigns | None = None) -> None:
        super().__init__(core)
        self._campaigns = campaigns  # the campaign notices an interaction's words match (issue 13)
        self._batches = InboundBatches(
            config=core.live, context=core.context, routing=core.routing, hub=core.hub, clock=core.clock,
            ids=core.ids, poke=core.poke, check_body=core.check_body,
            waiting_item=lambda i, at, working: replace(core.waiting_item(i, enqueued_at=at),
                                                        working_agent=working))

    async def start_inbound(
        self, *, channel: Channel, identities: Sequence[InboundIdentity], display_name: str | None,
        queue: str | None = None, channel_refs: Mapping[str, str] | None = None,
        context: Mapping[str, str] | None = None, priority: float = 1.0,
        skills: Mapping[str, int] | None = None, subject: str | None = None,
        direction: Direction = Direction.INBOUND, first_message: str | None = None,
        first_message_ref: str | None = None, interaction_id: str | None = None,
        chat_session: ChatSession | None = None, routed_elsewhere: str | None = None,
    ) -> Interaction:
        """A new queued interaction; ``first_message`` (the customer's words that started it) is
        stored before it is queued, so the offer's screen pop always shows it. ``chat_session``:
        the web chat visitor's session, kept with it.

        ``identities`` say how each was established: verified and asserted ones find (verified
        ones also merge) the customer; claimed ones attach to nobody and are recorded on the
        interaction, for the screen pop and the agent's one-time code or link by hand.

        Written in one transaction (customer, interaction, presented identities, first message,
        chat session), as a batch of one (``cti.inbound_batch``); what a check refuses there is
        refused here by the step-by-step way, with its own error.

        ``routed_elsewhere``: where it waits instead of the router (a call Asterisk's fallback
        queue took while the server was away); it is queued but never offered (``hand_off``)."""
        if routed_elsewhere:
            context = {**(context or {}), ROUTED_ELSEWHERE: routed_elsewhere}
        item = InboundItem(
            channel=channel, identities=list(identities), body=first_message, message_ref=first_message_ref,
            display_name=display_name, queue=queue, channel_refs=dict(channel_refs or {}),
            context=dict(context or {}), subject=subject, priority=priority, skills=dict(skills or {}),
            direction=direction, interaction_id=interaction_id, chat_session=chat_session,
            routed=not routed_elsewhere)
        # The caller holds the message's claim when it has one (``adapters.channel.deliver``).
        (stored,) = await self._batches.store([item], claim=False)
        if stored.interaction is not None:
            return stored.interaction
        if chat_session is not None:
            await self._context.keep_chat_session(chat_session)
        return await self._start_inbound_each(
            channel=channel, identities=identities, display_name=display_name, queue=queue,
            channel_refs=channel_refs, context=context, priority=priority, skills=skills, subject=subject,
            direction=direction, first_message=first_message, first_message_ref=first_message_ref,
            interaction_id=interaction_id, routed=not routed_elsewhere)

    async def _start_inbound_each(
        self, *, channel: Channel, identities: Sequence[InboundIdentity], display_name: str | None,
        queue: str | None, channel_refs: Mapping[str, str] | None, context: Mapping[str, str] | None,
        priority: float, skills: Mapping[str, int] | None, subject: str | None, direction: Direction,
        first_message: str | None, first_message_ref: str | None, interaction_id: str | None,
        routed: bool = True,
    ) -> Interaction:
        """``start_inbound`` a step at a time: what the batch's checks refused raises its error here."""
        if first_message is not None:
            first_message = clean_text(first_message)
            self._core.check_body(first_message)
        # A name from a channel (an e-mail's From, an X or Slack profile, a caller name) is cleaned,
        # not refused: the customer's message must not be lost for an odd name.
        display_name = (clean_line(display_name, max_len=len(display_name)) or None) if display_name else None
        queue_name = queue or self._config.chat.queue
        queue_cfg = self._config.queues.get(queue_name)
        if queue_cfg is None:
            raise NotFound("queue-not-found", f"no queue {queue_name!r}", queue=queue_name)
        presented = list(identities)
        # Claims are ignored here (never attach or merge) and recorded on the interaction below.
        customer = await self._context.resolve_inbound(
            presented, display_name=display_name, actor="system", reason=f"inbound {channel.value}")
        now = self._clock.now()
        interaction = Interaction(
            id=interaction_id or self._ids.new_id("int"), channel=channel, direction=direction,
            customer_id=customer.id, queue=queue_name, state=InteractionState.NEW,
            priority=priority_for(self._config.priority, channel=channel, context=context or {},
                                  given=priority),
            skills={**queue_cfg.skills, **(skills or {})}, arrived_at=now,
            channel_refs=dict(channel_refs or {}), context=dict(context or {}), subject=subject,
        )
        interaction = await self._context.save_interaction(lifecycle.apply(interaction, "enqueue", now=now))
        # Before it is queued: the offer's screen pop shows every identity and claim.
        await self._context.record_presented(interaction.id, presented, display_name=display_name)
        if first_message is not None:
            message = Message(id=self._ids.new_id("msg"), interaction_id=interaction.id,
                              sender=MessageSender.CUSTOMER, body=first_message, at=now,
                              channel_ref=first_message_ref)
            await self._context.add_message(message)
            await self._hub.publish(MessageAdded(at=now, interaction_id=interaction.id, agent_id=None,
                                                 message=jsonable(message)))
        if routed:
            working = await self._working_agent(customer.id, interaction.id)
            await self._routing.enqueue(replace(self._core.waiting_item(interaction, enqueued_at=now),
                                                working_agent=working))
        await self._hub.publish(InteractionQueued(at=now, interaction=jsonable(interaction)))
        log.info("interaction queued id=%s channel=%s queue=%s customer=%s routed=%s",
                 interaction.id, channel.value, queue_name, customer.id, routed)
        if routed:
            self._poke()
        return interaction

    async def start_inbound_batch(self, items: Sequence[InboundItem]) -> list[InboundStored]:
        """Several customer messages of one channel's burst, each a new interaction or one more
        message on an open one, written in one transaction (see ``cti.inbound_batch``)."""
        return await self._batches.store(items)

    async def customer_message(self, interaction_id: str, body: str, *,
                               channel_ref: str | None = None) -> Message | None:
        """Store a customer's message; returns None when ``channel_ref`` was already stored."""
        body = clean_text(body)  # every channel's customer text enters here
        self._core.check_body(body)
        interaction = await self._context.interaction(interaction_id)
        if interaction.state not in lifecycle.OPEN_STATES:
            raise Conflict("interaction-closed", "the interaction is closed",
                           interaction_id=interaction_id)
        message = Message(id=self._ids.new_id("msg"), interaction_id=interaction_id,
                          sender=MessageSender.CUSTOMER, body=body, at=self._clock.now(),
                          channel_ref=channel_ref)
        if not await self._context.add_message(message):
            return None
        # Read again: an offer made while the message was stored must still reach its agent.
        interaction = await self._context.interaction(interaction_id)
        # A campaign named after the offer: matched (and tagged) now, shown on the desk with it.
        campaigns = [] if self._campaigns is None else await self._campaigns.rematch(interaction, body)
        await self._hub.publish(MessageAdded(at=message.at, interaction_id=interaction_id,
                                             agent_id=interaction.agent_id, message=jsonable(message),
                                             campaigns=campaigns))
        return message

    async def start_active(
        self, *, channel: Channel, agent_id: str, identities: Sequence[Identity],
        display_name: str | None, queue: str | None = None,
        channel_refs: Mapping[str, str] | None = None, context: Mapping[str, str] | None = None,
        direction: Direction = Direction.OUTBOUND,
    ) -> tuple[Interaction, Customer]:
        """Work that already has its agent: an outbound call (click-to-dial), or a call found
        talking that no interaction records (adopted after a resync). Active at once, on their load."""
        if agent_id not in self._config.agents:
            raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
        queue_name = queue or self._config.chat.queue
        if queue_name not in self._config.queues:
            raise NotFound("queue-not-found", f"no queue {queue_name!r}", queue=queue_name)
        customer = await self._context.resolve_customer(
            identities, display_name=display_name, actor=agent_id,
            reason=f"{direction.value} {channel.value} with an agent")
        now = self._clock.now()
        interaction = Interaction(
            id=self._ids.new_id("int"), channel=channel, direction=direction,
            customer_id=customer.id, queue=queue_name, state=InteractionState.NEW, arrived_at=now,
            channel_refs=dict(channel_refs or {}), context=dict(context or {}))
        interaction = await self._context.save_interaction(
            lifecycle.apply(interaction, "dial", now=now, agent_id=agent_id))
        await self._routing.hold(interaction.id, agent_id, channel)
        await self._hub.publish(InteractionAccepted(at=now, interaction_id=interaction.id,
                                                    agent_id=agent_id, interaction=jsonable(interaction)))
        log.info("active interaction id=%s channel=%s direction=%s agent=%s customer=%s",
                 interaction.id, channel.value, direction.value, agent_id, customer.id)
        return interaction, customer

    async def update_refs(self, interaction_id: str, *, refs: Mapping[str, str] | None = None,
                          context: Mapping[str, str] | None = None) -> Interaction:
        """Add channel references or collected context (a call's new leg, a recording file)."""
        return await self._core.apply(interaction_id, lambda i: replace(
            i, channel_refs={**i.channel_refs, **(refs or {})}, context={**i.context, **(context or {})}))

    async def call_ended(self, interaction_id: str, *, why: str) -> Interaction:
        """The call is over but the agent has not completed it: into wrap-up (idempotent)."""
        now = self._clock.now()
        current, saved = await self._core.change(
            interaction_id, lambda i: lifecycle.apply(i, "end", now=now) if lifecycle.can(i, "end") else None)
        if saved is None:
            return current
        await self._hub.publish(InteractionWrapUp(at=now, interaction_id=interaction_id,
                                                  agent_id=saved.agent_id, why=why))
        return saved

    async def reassign(self, interaction_id: str, to_agent: str, *, why: str,
                       announced: bool = False) -> Interaction:
        """The same live interaction now with another agent (a transfer the new agent answered).

        ``announced``: ``interaction.transferred`` was published when the transfer was made (a
        blind transfer, before anyone answered); it is not published a second time."""
        if to_agent not in self._config.agents:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        now = self._clock.now()
        current, saved = await self._core.change(interaction_id, lambda i: None if i.agent_id == to_agent else
                                            lifecycle.apply(i, "reassign", now=now, agent_id=to_agent))
        if saved is None:
            return current
        interaction, previous = saved, current.agent_id
        if previous:
            await self._routing.release(interaction_id, previous, now=now, customer_id=None, wrap_up=0)
        await self._routing.hold(interaction_id, to_agent, interaction.channel)
        if not announced:
            await self._hub.publish(InteractionTransferred(
                at=now, interaction_id=interaction_id, agent_id=previous or to_agent, to_queue=None,
                to_agent=to_agent, note=why))
        await self._hub.publish(InteractionAccepted(at=now, interaction_id=interaction_id,
                                                    agent_id=to_agent, interaction=jsonable(interaction)))
        self._poke()
        return interaction

    async def customer_left(self, interaction_id: str) -> Interaction:
        now = self._clock.now()

        def leave(i: Interaction) -> Interaction | None:
            if lifecycle.can(i, "abandon"):
                return lifecycle.apply(i, "abandon", now=now)
            if lifecycle.can(i, "end"):
                return replace(lifecycle.apply(i, "end", now=now), customer_left=True)
            if i.state is InteractionState.WRAP_UP and not i.customer_left:
                return replace(i, customer_left=True)
            return None

        withdrawn = None
        known = await self._core.settled_or_read(interaction_id)
        if lifecycle.can(known, "abandon"):
            # Out of the queue before it is marked abandoned, so it is never offered abandoned.
            withdrawn = await self._routing.offer_for(interaction_id)
            await self._routing.remove(interaction_id)
        current, saved = await self._core.change(interaction_id, leave, read=known)
        if saved is None:
            return current
        if saved.state is InteractionState.ABANDONED:
            waited = now - (saved.queued_at or saved.arrived_at)
            await self._hub.publish(InteractionAbandoned(
                at=now, interaction_id=interaction_id,
                agent_id=withdrawn.agent_id if withdrawn else None, waited=waited))
            self._poke()
        elif current.state is not saved.state:
            await self._hub.publish(InteractionWrapUp(at=now, interaction_id=interaction_id,
                                                      agent_id=saved.agent_id, why="customer-left"))
        return saved

    async def _working_agent(self, customer_id: str, except_id: str) -> str | None:
        """Who is working another open interaction of this customer right now, if anyone."""
        return await self._context.working_agent(customer_id, besides=except_id)

