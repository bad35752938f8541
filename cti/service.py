"""The interaction service: the one place where an interaction's life cycle is driven.

Channels call ``start_inbound``, ``customer_message`` and ``customer_left``; the routing engine
calls ``on_offer`` and ``on_requeue``; the desktop API calls the agent actions. Each step loads
the interaction, applies the pure life cycle, saves it, updates the routing store and publishes
the domain event, in that order, so every consumer sees the same history.

A step that changes the interaction starts from the snapshot this process last read or saved
(``ContextStore.interaction_snapshot``) and reads it only when that snapshot turns out stale
(the save names its version) or when a refusal or a no-op on it could be wrong: on one node,
an offer, its accept and its completion do not read the interaction at all. What is shown, and
what is decided before any save, is read from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cti import lifecycle
from cti.availability import transfer_refusal
from cti.campaigns import PopCampaigns
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.domain import (
    AgentState,
    Channel,
    ChatSession,
    Customer,
    Direction,
    Identity,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
    MessageSender,
    Note,
    QueueConfig,
    jsonable,
)
from cti.errors import Conflict, CtiError, Forbidden, InvalidInput, NotFound, StaleSnapshot
from cti.eventlog import QueuedWhy
from cti.events import (
    AgentStateChanged,
    InteractionAbandoned,
    InteractionAccepted,
    InteractionClosed,
    InteractionOffered,
    InteractionQueued,
    InteractionTransferred,
    InteractionWrapUp,
    MessageAdded,
    OfferWithdrawn,
)
from cti.hub import EventHub
from cti.inbound_batch import InboundBatches, InboundItem, InboundStored
from cti.live_config import LiveConfig, as_live
from cti.ports import ContextStore
from cti.priority import MAX_PRIORITY, MIN_PRIORITY, priority_for
from cti.routing import Offer, RoutingStore, WaitingItem
from cti.screenpop import build_screen_pop
from cti.text import clean_line, clean_text, has_bad_line_chars

log = logging.getLogger(__name__)

SCREEN_POP_TIMELINE = 50
# Reads and saves of one interaction before a change gives up (each retry follows a change that
# got in first, so more than a few means something is rewriting it in a loop).
SAVE_ATTEMPTS = 8
# Offers that ended with nobody answering, on any channel: the engine's time-out, and a phone
# that rang out ("no-answer" from the voice paths). A reject is a person's answer, not a miss.
MISSED = frozenset({"timeout", "no-answer"})

Change = Callable[[Interaction], Interaction | None]
# Context key of waiting work the router must not offer: where it waits instead (``hand_off``).
ROUTED_ELSEWHERE = "routing.elsewhere"


class InteractionService:
    def __init__(self, *, config: AppConfig | LiveConfig, context: ContextStore, routing: RoutingStore,
                 hub: EventHub, clock: Clock, ids: IdSource, poke: Callable[[], None],
                 on_missed_offer: Callable[[str], Awaitable[None]] | None = None,
                 campaigns: PopCampaigns | None = None) -> None:
        self._live = as_live(config)
        self._campaigns = campaigns  # the campaign notices an interaction's words match (issue 13)
        self._on_missed_offer = on_missed_offer
        self._context = context
        self._routing = routing
        self._hub = hub
        self._clock = clock
        self._ids = ids
        self._poke = poke
        self._batches = InboundBatches(
            config=self._live, context=context, routing=routing, hub=hub, clock=clock, ids=ids, poke=poke,
            check_body=self.check_body,
            waiting_item=lambda i, at, working: replace(self._waiting_item(i, enqueued_at=at),
                                                        working_agent=working))

    @property
    def _config(self) -> AppConfig:
        return self._live.current  # read at each use: an admin's change counts at once

    # ----- channels ------------------------------------------------------------------------

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
            self.check_body(first_message)
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
            await self._routing.enqueue(replace(self._waiting_item(interaction, enqueued_at=now),
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
        self.check_body(body)
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
        return await self._apply(interaction_id, lambda i: replace(
            i, channel_refs={**i.channel_refs, **(refs or {})}, context={**i.context, **(context or {})}))

    async def call_ended(self, interaction_id: str, *, why: str) -> Interaction:
        """The call is over but the agent has not completed it: into wrap-up (idempotent)."""
        now = self._clock.now()
        current, saved = await self._change(
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
        current, saved = await self._change(interaction_id, lambda i: None if i.agent_id == to_agent else
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
        known = await self._settled_or_read(interaction_id)
        if lifecycle.can(known, "abandon"):
            # Out of the queue before it is marked abandoned, so it is never offered abandoned.
            withdrawn = await self._routing.offer_for(interaction_id)
            await self._routing.remove(interaction_id)
        current, saved = await self._change(interaction_id, leave, read=known)
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

    async def hand_off(self, interaction_id: str, *, to: str, why: str) -> Interaction:
        """Waiting work that something outside the router takes on from now (``to``: Asterisk's
        fallback queue): out of the router, an offer withdrawn, still queued, marked so that a
        restart does not queue it again. Idempotent."""
        now = self._clock.now()
        offer = await self._routing.offer_for(interaction_id)
        await self._routing.remove(interaction_id)

        def mark(i: Interaction) -> Interaction | None:
            if i.state not in (InteractionState.QUEUED, InteractionState.OFFERED):
                return None
            back = lifecycle.apply(i, "requeue", now=now) if i.state is InteractionState.OFFERED else i
            if back is i and i.context.get(ROUTED_ELSEWHERE) == to:
                return None
            return replace(back, context={**back.context, ROUTED_ELSEWHERE: to})

        current, saved = await self._change(interaction_id, mark)
        if offer is not None:
            await self._hub.publish(OfferWithdrawn(at=now, interaction_id=interaction_id,
                                                   agent_id=offer.agent_id, why=why))
            self._poke()  # the agent's slot is free again
        return saved if saved is not None else current

    async def redirect(self, interaction_id: str, *, to_agent: str | None, to_queue: str | None,
                       why: str) -> Interaction:
        """Waiting work (queued, or offered and not yet accepted) sent elsewhere by a supervisor:
        to one agent (only they are offered it) or to another queue (with its skills). The wait
        is kept; an offer out is withdrawn first. Refused, and left as it was, if it is no
        longer waiting."""
        now = self._clock.now()
        offer = await self._routing.offer_for(interaction_id)
        item = await self._routing.remove(interaction_id)
        if item is None:
            raise Conflict("not-waiting", "the customer is no longer waiting", interaction_id=interaction_id)
        queue = to_queue or item.queue

        def move(i: Interaction) -> Interaction:
            if i.state is InteractionState.OFFERED:
                i = lifecycle.apply(i, "requeue", now=now, details={"why": why})
            if i.state is not InteractionState.QUEUED:
                raise Conflict("not-waiting", "the customer is no longer waiting", interaction_id=i.id)
            return replace(i, queue=queue, skills=dict(self._config.queues[queue].skills)) if to_queue else i

        try:
            interaction = await self._apply(interaction_id, move)
        except CtiError:
            await self._routing.enqueue(item)  # as it was (without the withdrawn offer)
            self._poke()
            raise
        await self._routing.enqueue(replace(self._waiting_item(interaction, enqueued_at=item.enqueued_at),
                                            target_agent=to_agent, working_agent=item.working_agent,
                                            # Picked in its queue: still offered where it overflowed.
                                            also=item.also if interaction.queue == item.queue else {}))
        if offer is not None:
            await self._hub.publish(OfferWithdrawn(at=now, interaction_id=interaction_id,
                                                   agent_id=offer.agent_id, why=why))
        await self._hub.publish(InteractionQueued(at=now, interaction=jsonable(interaction),
                                                  requeued_because=why))
        self._poke()
        return interaction

    async def answered_elsewhere(self, interaction_id: str, agent_id: str) -> Interaction:
        """Waiting work an agent took outside the router (answered in Asterisk's fallback queue):
        active with them, answered now, on their load. Idempotent."""
        if agent_id not in self._config.agents:
            raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
        now = self._clock.now()
        await self._routing.remove(interaction_id)

        def take(i: Interaction) -> Interaction | None:
            if i.state is InteractionState.QUEUED:
                i = lifecycle.apply(i, "offer", now=now, agent_id=agent_id)
            if i.state is not InteractionState.OFFERED:
                return None
            return lifecycle.apply(i, "accept", now=now, agent_id=agent_id)

        current, saved = await self._change(interaction_id, take)
        if saved is None:
            return current
        await self._routing.hold(interaction_id, agent_id, saved.channel)
        await self._hub.publish(InteractionAccepted(at=now, interaction_id=interaction_id,
                                                    agent_id=agent_id, interaction=jsonable(saved)))
        log.info("answered outside the router id=%s agent=%s", interaction_id, agent_id)
        return saved

    async def rewait(self, interaction_id: str, *, why: str, queue: str | None = None,
                     skills: Mapping[str, int] | None = None, priority: float | None = None,
                     details: Mapping[str, Any] | None = None, keep_target: bool = False,
                     expected: WaitingItem | None = None,
                     also: Mapping[str, Mapping[str, int]] | None = None) -> Interaction | None:
        """Waiting work changes where or how it waits (an overflow, a transfer fallback, a new
        priority); the wait goes on from where it started and the log says ``why``. None when it
        is not waiting in the router (offered, taken, gone): nothing to change.

        ``keep_target``: still aimed at the agent it was transferred to (else the whole queue).
        ``also``: the other queues it is offered to from now (an overflow); else those it had, if
        it stays in its queue.
        ``expected``: the waiting entry the change was decided on; if it changed meanwhile (its
        agent declined it, another node moved it) it is put back as it is and nothing changes."""
        if await self._routing.offer_for(interaction_id) is not None:
            return None  # an agent is being offered it right now: their answer decides
        item = await self._routing.remove(interaction_id)
        if item is None:
            return None
        if expected is not None and item != expected:
            await self._routing.enqueue(item)  # decided on an older picture: the next sweep decides again
            return None
        now = self._clock.now()
        entry = {"why": why, **(details or {})}

        def change(i: Interaction) -> Interaction | None:
            if i.state is InteractionState.OFFERED:  # offered between the check and the removal
                i = lifecycle.apply(i, "requeue", now=now, details={"why": why})
            if i.state is not InteractionState.QUEUED:
                return None
            after = lifecycle.apply(i, "rewait", now=now, queue=queue, details=entry)
            return replace(after, skills=dict(skills) if skills is not None else after.skills,
                           priority=priority if priority is not None else after.priority)

        try:
            current, saved = await self._change(interaction_id, change)
        except CtiError:
            await self._routing.enqueue(item)  # refused: it waits as it did
            raise
        if saved is None:
            return None  # no longer waiting (the customer left meanwhile)
        await self._routing.enqueue(replace(
            self._waiting_item(saved, enqueued_at=item.enqueued_at), working_agent=item.working_agent,
            excluded_agents=item.excluded_agents, target_agent=item.target_agent if keep_target else None,
            also=dict(also) if also is not None else item.also if saved.queue == item.queue else {}))
        if current.state is InteractionState.OFFERED and current.agent_id:
            await self._hub.publish(OfferWithdrawn(at=now, interaction_id=interaction_id,
                                                   agent_id=current.agent_id, why=why))
        await self._hub.publish(InteractionQueued(at=now, interaction=jsonable(saved), requeued_because=why))
        log.info("waiting work moved id=%s why=%s queue=%s", interaction_id, why, saved.queue)
        self._poke()
        return saved

    async def set_priority(self, interaction_id: str, priority: float, *, by: str) -> Interaction:
        """A supervisor's new priority (1..10): waiting work is ranked by it from the next pass."""
        if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise InvalidInput("bad-priority",
                               f"the priority is a number from {MIN_PRIORITY} to {MAX_PRIORITY}",
                               priority=priority)
        moved = await self.rewait(interaction_id, why="priority", priority=priority, keep_target=True,
                                  details={"priority": priority, "by": by})
        if moved is not None:
            return moved
        interaction = await self._context.interaction(interaction_id)
        if interaction.state not in lifecycle.OPEN_STATES:
            raise Conflict("interaction-closed", "the interaction is closed", interaction_id=interaction_id)
        # Not waiting in the router (offered or being worked): kept for a later requeue or transfer.
        return await self._apply(interaction_id, lambda i: replace(i, priority=priority))

    async def to_callback(self, interaction_id: str, *, contacts: Sequence[Identity]) -> Interaction:
        """A waiting customer asks to be called or written back instead of waiting on (offered
        once their queue's ``max_wait`` has passed). A new interaction on the ``callback``
        channel takes over the wait: same customer, queue, skills and priority, its arrival and
        its first queued entry at the time this wait began, so its wait and the reports count
        from then. This one is closed by the system ("callback-requested"), never abandoned.

        ``contacts``: what the customer typed (already normalised), recorded as claims: shown to
        the agent, never attached to a customer. Returns the callback interaction."""
        if not contacts:
            raise InvalidInput("callback-contact-required", "give an e-mail address or a phone number")
        known = await self._context.interaction(interaction_id)
        queue = self._config.queues.get(known.queue)
        if known.state not in (InteractionState.QUEUED, InteractionState.OFFERED) or known.customer_left:
            raise Conflict("not-waiting", "only a waiting customer can ask for a callback",
                           interaction_id=interaction_id, state=known.state.value)
        now = self._clock.now()
        # Refused before the routing store is touched: taking the item out withdraws an offer that
        # is ringing an agent. Arrival is the earliest the wait can have begun.
        if queue is None or queue.max_wait is None or now - known.arrived_at < queue.max_wait:
            raise _callback_not_offered(interaction_id, queue)
        offer = await self._routing.offer_for(interaction_id)
        item = await self._routing.remove(interaction_id)
        began = item.enqueued_at if item is not None else (known.queued_at or known.arrived_at)
        if queue is None or queue.max_wait is None or now - began < queue.max_wait:
            if item is not None:
                await self._routing.enqueue(item)  # it waits as it did
            raise _callback_not_offered(interaction_id, queue)
        callback_id = self._ids.new_id("int")
        _, closed = await self._change(interaction_id, lambda i: lifecycle.apply(
            i, "to_callback", now=now, details={"callback": callback_id})
            if lifecycle.can(i, "to_callback") and not i.customer_left else None)
        if closed is None:
            raise Conflict("not-waiting", "only a waiting customer can ask for a callback",
                           interaction_id=interaction_id)
        context = {**known.context, "callback.from": known.id,
                   **{f"callback.{c.kind.value}": c.value for c in contacts}}
        callback = Interaction(
            id=callback_id, channel=Channel.CALLBACK, direction=Direction.INBOUND,
            customer_id=known.customer_id,
            queue=known.queue, state=InteractionState.NEW, priority=known.priority, skills=dict(known.skills),
            arrived_at=known.arrived_at, context=context, subject=known.subject)
        # Queued "when the wait began": the log's first entry carries the original wait.
        callback = await self._context.save_interaction(lifecycle.apply(
            callback, "enqueue", now=began,
            details={"why": QueuedWhy.CALLBACK.value, "from_interaction": known.id}))
        await self._context.record_presented(
            callback.id, [InboundIdentity(c, IdentityLevel.CLAIMED, "callback-form") for c in contacts],
            display_name=None)
        await self._routing.enqueue(replace(self._waiting_item(callback, enqueued_at=began),
                                            working_agent=item.working_agent if item else None))
        if offer is not None:
            await self._hub.publish(OfferWithdrawn(at=now, interaction_id=interaction_id,
                                                   agent_id=offer.agent_id,
                                                   why="callback"))
        await self._hub.publish(InteractionClosed(at=now, interaction_id=interaction_id, agent_id=None,
                                                  disposition=closed.disposition))
        await self._hub.publish(InteractionQueued(at=now, interaction=jsonable(callback)))
        log.info("callback requested id=%s from=%s queue=%s waited=%.0f", callback.id, interaction_id,
                 callback.queue, now - began)
        self._poke()
        return callback

    # ----- routing engine callbacks --------------------------------------------------------

    async def on_offer(self, offer: Offer) -> None:
        interaction = await self._apply(offer.interaction_id, lambda i: lifecycle.apply(
            i, "offer", now=offer.offered_at, agent_id=offer.agent_id, details={"rule": offer.reason.rule}))
        reason = jsonable(offer.reason)
        pop = await self.screen_pop(interaction, reason=reason)
        await self._hub.publish(InteractionOffered(
            at=offer.offered_at, interaction_id=interaction.id, agent_id=offer.agent_id,
            expires_at=offer.expires_at, reason=reason, screen_pop=pop))
        log.info("offered id=%s agent=%s rule=%s", interaction.id, offer.agent_id, offer.reason.rule)

    async def on_requeue(self, item: WaitingItem, why: str) -> None:
        now = self._clock.now()
        current, interaction = await self._change(item.interaction_id, requeued(now, why))
        if interaction is None:
            return
        previous_agent = current.agent_id
        if previous_agent:
            await self._hub.publish(OfferWithdrawn(at=now, interaction_id=interaction.id,
                                                   agent_id=previous_agent, why=why))
            if why in MISSED and self._on_missed_offer is not None:
                queue = self._config.queues.get(interaction.queue)
                if queue is None or queue.missed_offer_away:
                    # Before the poke: the next pass must not offer the desk nobody is at.
                    try:
                        await self._on_missed_offer(previous_agent)
                    except Exception:  # the requeue is done: it must still be announced and routed
                        log.exception("missed offer: agent %s not set away", previous_agent)
        await self._hub.publish(InteractionQueued(at=now, interaction=jsonable(interaction),
                                                  requeued_because=why))
        self._poke()

    # ----- agent actions -------------------------------------------------------------------

    async def accept(self, interaction_id: str, agent_id: str) -> Interaction:
        # NotFound before anything else; the save checks that the snapshot is still current.
        read = await self._context.interaction_snapshot(interaction_id)
        await self._routing.accept(interaction_id, agent_id, now=self._clock.now())
        now = self._clock.now()
        interaction = await self._apply(
            interaction_id, lambda i: lifecycle.apply(i, "accept", now=now, agent_id=agent_id), read=read)
        await self._hub.publish(InteractionAccepted(at=now, interaction_id=interaction_id,
                                                    agent_id=agent_id, interaction=jsonable(interaction)))
        return interaction

    async def reject(self, interaction_id: str, agent_id: str, *, why: str = "rejected") -> None:
        """The agent declined the offer (``why`` "no-answer" when their phone did not answer)."""
        await self._context.interaction(interaction_id)
        item = await self._routing.reject(interaction_id, agent_id, now=self._clock.now())
        await self.on_requeue(item, why)

    async def reply(self, interaction_id: str, agent_id: str, body: str) -> Message:
        self.check_body(body)
        interaction = await self._owned(interaction_id, agent_id, _LIVE)
        # Customer-left first: it tells the agent why, where "wrap_up" would not.
        if interaction.customer_left:
            raise Conflict("customer-left", "the customer has left", interaction_id=interaction_id)
        if interaction.state is not InteractionState.ACTIVE:
            raise Conflict("invalid-state", f"the interaction is {interaction.state.value}",
                           interaction_id=interaction_id, state=interaction.state.value)
        message = Message(id=self._ids.new_id("msg"), interaction_id=interaction_id,
                          sender=MessageSender.AGENT, body=body, at=self._clock.now(), agent_id=agent_id)
        await self._context.add_message(message)
        await self._hub.publish(MessageAdded(at=message.at, interaction_id=interaction_id,
                                             agent_id=agent_id, message=jsonable(message)))
        return message

    async def add_note(self, interaction_id: str, author_id: str, body: str) -> Note:
        self.check_body(body)
        await self._context.interaction(interaction_id)
        note = Note(id=self._ids.new_id("note"), interaction_id=interaction_id, author_id=author_id,
                    body=body, at=self._clock.now())
        await self._context.add_note(note)
        return note

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None, note: str | None,
                       if_unavailable: str | None = None) -> Interaction:
        """``if_unavailable``: what a transfer to an agent who cannot take it now does: "refuse"
        (409 agent-unavailable) or "queue" (it waits for them, and goes to the whole queue after
        the queue's transfer fallback); none: the configuration's ``routing.transfer_unavailable``.
        Work transferred to an agent falls back to the queue after that time in either case."""
        mode = self.transfer_mode(if_unavailable)
        if (to_queue is None) == (to_agent is None):
            raise InvalidInput("bad-transfer-target", "give exactly one of queue or agent_id")
        if to_agent is not None and to_agent not in self._config.agents:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        if to_agent == agent_id:
            raise InvalidInput("bad-transfer-target", "cannot transfer to yourself")
        if to_queue is not None and to_queue not in self._config.queues:
            raise NotFound("queue-not-found", f"no queue {to_queue!r}", queue=to_queue)
        interaction = await self._owned(interaction_id, agent_id, _LIVE)
        if interaction.customer_left:
            raise Conflict("customer-left", "the customer has left", interaction_id=interaction_id)
        if to_agent is not None and mode == "refuse":
            await self.check_transfer_target(to_agent, interaction)
        if note:
            await self.add_note(interaction_id, agent_id, note)
        now = self._clock.now()
        await self._routing.release(interaction_id, agent_id, now=now, customer_id=None, wrap_up=0)
        queue = to_queue or interaction.queue
        skills = self._config.queues[queue].skills if to_queue else interaction.skills
        interaction = await self._apply(interaction_id, lambda i: replace(lifecycle.apply(
            owned(i, agent_id, _LIVE), "transfer", now=now, queue=queue, details={"to_agent": to_agent}),
            skills=skills))
        # The context and notes stay on the interaction; only the waiting entry is new. An agent
        # who sends work to a queue has passed it on: it is not offered straight back to them.
        passed_on = frozenset({agent_id}) if to_queue else frozenset()
        await self._routing.enqueue(replace(self._waiting_item(interaction, enqueued_at=now),
                                            target_agent=to_agent, excluded_agents=passed_on))
        await self._hub.publish(InteractionTransferred(at=now, interaction_id=interaction_id,
                                                       agent_id=agent_id, to_queue=to_queue,
                                                       to_agent=to_agent, note=note))
        await self._hub.publish(InteractionQueued(at=now, interaction=jsonable(interaction),
                                                  requeued_because="transfer"))
        self._poke()
        return interaction

    def transfer_mode(self, if_unavailable: str | None) -> str:
        mode = if_unavailable or self._config.transfer_unavailable
        if mode not in ("refuse", "queue"):
            raise InvalidInput("bad-if-unavailable", "if_unavailable is refuse or queue", if_unavailable=mode)
        return mode

    async def check_transfer_target(self, to_agent: str, interaction: Interaction) -> None:
        """Refuse to hand ``interaction`` to ``to_agent`` when the router would never offer it to
        them now (offline, away, busy, no free slot, a skill missing): the customer would wait
        for them alone, with no fallback. Checked on the agent as the routing store has them;
        a change right after the check is the router's to handle, as for any offer."""
        agent = await self._routing.agent(to_agent)
        why = transfer_refusal(agent, channel=interaction.channel, skills=interaction.skills)
        if why is None:
            return
        state = (agent.state if agent is not None else AgentState.OFFLINE).value
        message = (f"agent {to_agent!r} is {state}" if why.startswith("not-available")
                   else f"agent {to_agent!r} is {state} but cannot take this {interaction.channel.value} "
                        f"now ({why})")
        raise Conflict("agent-unavailable", message, agent_id=to_agent, state=state,
                       reason=agent.reason if agent is not None else None, why=why,
                       interaction_id=interaction.id)

    async def complete(self, interaction_id: str, agent_id: str, *, disposition: str,
                       note: str | None) -> Interaction:
        if not disposition or len(disposition) > 100:
            raise InvalidInput("bad-disposition", "a disposition of 1-100 characters is required")
        if has_bad_line_chars(disposition):  # it is logged and reported: one line only
            raise InvalidInput("bad-characters", "a disposition is one line without control characters")
        allowed = self._config.dispositions
        if allowed and disposition not in allowed:  # the admin's list, when there is one, is the list
            raise InvalidInput("unknown-disposition", f"{disposition!r} is not one of the dispositions",
                               allowed=list(allowed))
        if note:
            # The note is stored before the close: checked on what is stored, not on a snapshot.
            interaction = await self._owned(interaction_id, agent_id, _LIVE)
            await self.add_note(interaction_id, agent_id, note)
        else:
            interaction = await self._owned_snapshot(interaction_id, agent_id, _LIVE)
        now = self._clock.now()
        interaction = await self._apply(interaction_id, lambda i: replace(lifecycle.apply(
            owned(i, agent_id, _LIVE), "close", now=now), disposition=disposition), read=interaction)
        wrap = self._config.queues[interaction.queue].wrap_up_seconds \
            if interaction.queue in self._config.queues else 0.0
        await self._routing.release(interaction_id, agent_id, now=now,
                                    customer_id=interaction.customer_id, wrap_up=wrap)
        await self._hub.publish(InteractionClosed(at=now, interaction_id=interaction_id,
                                                  agent_id=agent_id, disposition=disposition))
        agent = await self._routing.agent(agent_id)
        if agent is not None and agent.state is AgentState.WRAP_UP:
            await self._hub.publish(AgentStateChanged(at=now, agent_id=agent_id, state=agent.state.value,
                                                      reason="wrap-up"))
        self._poke()
        return interaction

    # ----- reads ---------------------------------------------------------------------------

    async def screen_pop(self, interaction: Interaction, *,
                         reason: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The screen pop of ``interaction`` as given (an offer's is the snapshot it just saved)."""
        view = await self._context.interaction_view(interaction, timeline_limit=SCREEN_POP_TIMELINE)
        campaigns = [] if self._campaigns is None else await self._campaigns.pop(interaction, view.messages)
        return build_screen_pop(interaction=interaction, customer=view.customer,
                                timeline=view.timeline.entries, messages=view.messages, notes=view.notes,
                                reason=reason, presented=view.presented, campaigns=campaigns)

    async def _owned(self, interaction_id: str, agent_id: str,
                     states: frozenset[InteractionState]) -> Interaction:
        return owned(await self._context.interaction(interaction_id), agent_id, states)

    async def _owned_snapshot(self, interaction_id: str, agent_id: str,
                              states: frozenset[InteractionState]) -> Interaction:
        """``_owned`` on this process's snapshot, for a step whose save checks it is current; a
        refusal is checked again on what is stored unless the snapshot is settled."""
        snapshot = await self._context.interaction_snapshot(interaction_id)
        try:
            return owned(snapshot, agent_id, states)
        except CtiError:
            if settled(snapshot):
                raise
        return await self._owned(interaction_id, agent_id, states)

    async def _settled_or_read(self, interaction_id: str) -> Interaction:
        """This process's snapshot when it is settled (closed or abandoned: no step changes its
        state again), else the stored one: for a decision taken before any save."""
        snapshot = await self._context.interaction_snapshot(interaction_id)
        return snapshot if settled(snapshot) else await self._context.interaction(interaction_id)

    async def _change(self, interaction_id: str, change: Change, *,
                      read: Interaction | None = None) -> tuple[Interaction, Interaction | None]:
        """Read, change and save the interaction; read and change again when another change was
        saved in between (``StaleSnapshot``), so neither undoes the other.

        ``change`` is pure: it returns the new snapshot, None for "nothing to do", or raises to
        refuse. Returns the snapshot it was applied to and the saved one (None if unchanged).
        The first attempt changes ``read`` (a snapshot this step already holds) or else the
        snapshot this process last read or saved: no read at all when it is current, and a stale
        one costs a retry, never a lost change, since the save checks its version. A refusal or
        "nothing to do" on that first snapshot is taken only when the snapshot is settled (closed
        or abandoned); otherwise it is decided again on what is stored.
        """
        for attempt in range(SAVE_ATTEMPTS):
            if attempt > 0:
                current = await self._context.interaction(interaction_id)
            elif read is not None:
                current = read
            else:
                current = await self._context.interaction_snapshot(interaction_id)
            try:
                changed = change(current)
            except CtiError:
                if attempt > 0 or settled(current):
                    raise
                continue
            if changed is None:
                if attempt > 0 or settled(current):
                    return current, None
                continue
            try:
                # ``before``: the store writes only what the change changed.
                return current, await self._context.save_interaction(changed, before=current)
            except StaleSnapshot:
                log.info("interaction changed meanwhile, redoing id=%s", interaction_id)
        raise Conflict("interaction-busy", "the interaction keeps changing; try again",
                       interaction_id=interaction_id, attempts=SAVE_ATTEMPTS)

    async def _apply(self, interaction_id: str, change: Callable[[Interaction], Interaction], *,
                     read: Interaction | None = None) -> Interaction:
        """``_change`` for a change that always changes something: the saved snapshot."""
        current, saved = await self._change(interaction_id, change, read=read)
        return saved if saved is not None else current

    def check_body(self, body: str) -> None:
        if not isinstance(body, str) or not body.strip():
            raise InvalidInput("empty-message", "the message is empty")
        if len(body) > self._config.max_message_chars:
            raise InvalidInput("message-too-long",
                               f"the message exceeds {self._config.max_message_chars} characters",
                               limit=self._config.max_message_chars, length=len(body))

    async def _working_agent(self, customer_id: str, except_id: str) -> str | None:
        """Who is working another open interaction of this customer right now, if anyone."""
        return await self._context.working_agent(customer_id, besides=except_id)

    def _waiting_item(self, interaction: Interaction, *, enqueued_at: float) -> WaitingItem:
        queue = self._config.queues[interaction.queue]
        return WaitingItem(
            interaction_id=interaction.id, channel=interaction.channel, queue=interaction.queue,
            customer_id=interaction.customer_id, enqueued_at=enqueued_at,
            # The queue's configured priority (1..10) scales the interaction's own.
            service_target=queue.target_for(interaction.channel),
            priority=interaction.priority * queue.priority,
            skills=dict(interaction.skills),
        )

    async def recover(self, interactions: Sequence[Interaction], *,
                      also_for: Callable[[Interaction], Awaitable[Mapping[str, Mapping[str, int]]]]
                      | None = None) -> int:
        """After a start: waiting work back in the queue, agents' open work back on their load.
        ``also_for``: the other queues a waiting interaction had overflowed to (from its log),
        so it is still offered there and its overflow is neither repeated nor logged twice.

        Returns how many interactions were queued again.
        """
        count = 0
        # With a shared store another node may already hold these; queue nothing twice.
        waiting = {w.interaction_id for w in (await self._routing.snapshot()).waiting}
        for interaction in interactions:
            held = interaction.state in (InteractionState.ACTIVE, InteractionState.WRAP_UP)
            if held and interaction.agent_id in self._config.agents:
                # The agent's slot, so a restarted node does not offer them more than they can take.
                await self._routing.hold(interaction.id, interaction.agent_id or "", interaction.channel)
            elif interaction.state in (InteractionState.QUEUED, InteractionState.OFFERED):
                if interaction.context.get(ROUTED_ELSEWHERE):
                    continue  # waiting outside the router (hand_off)
                if interaction.id in waiting or await self._routing.offer_for(interaction.id) is not None:
                    continue
                if interaction.state is InteractionState.OFFERED:
                    _, saved = await self._change(interaction.id, requeued(self._clock.now()))
                    if saved is None:
                        continue  # taken or ended meanwhile
                    interaction = saved
                item = self._waiting_item(interaction,
                                          enqueued_at=interaction.queued_at or interaction.arrived_at)
                also = await also_for(interaction) if also_for is not None else {}
                await self._routing.enqueue(replace(item, also=dict(also)) if also else item)
                count += 1
        if count:
            self._poke()
        return count


_LIVE = frozenset({InteractionState.ACTIVE, InteractionState.WRAP_UP})
_SETTLED = frozenset({InteractionState.CLOSED, InteractionState.ABANDONED})


def settled(interaction: Interaction) -> bool:
    """Closed or abandoned: no step leaves these states (``cti.lifecycle``)."""
    return interaction.state in _SETTLED


def owned(interaction: Interaction, agent_id: str, states: frozenset[InteractionState]) -> Interaction:
    """The interaction, if it is ``agent_id``'s and in one of ``states``; refused otherwise."""
    if interaction.agent_id != agent_id:
        raise Forbidden("not-your-interaction", "this interaction is not yours",
                        interaction_id=interaction.id)
    if interaction.state not in states:
        raise Conflict("invalid-state", f"the interaction is {interaction.state.value}",
                       interaction_id=interaction.id, state=interaction.state.value)
    return interaction


def requeued(now: float, why: str | None = None) -> Change:
    """Back to the queue, when the interaction still can go back (nothing to do otherwise);
    ``why`` goes to the log ("timeout": a missed offer)."""
    return lambda i: lifecycle.apply(i, "requeue", now=now, details={"why": why}) \
        if lifecycle.can(i, "requeue") else None


def _callback_not_offered(interaction_id: str, queue: QueueConfig | None) -> Conflict:
    return Conflict("callback-not-offered", "a callback is offered once the queue's maximum wait has passed",
                    interaction_id=interaction_id, max_wait=queue.max_wait if queue else None)
