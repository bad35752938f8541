"""Waiting work changes where or how it waits: ``InteractionService``'s steps on a queued customer.

An overflow, a transfer fallback or a new priority (``rewait``, ``set_priority``); a
supervisor's redirect (``redirect``); a callback instead of the wait (``to_callback``); work
that something outside the router takes on or answers (``hand_off``, ``answered_elsewhere``);
and waiting work put back in the router after a start (``recover``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cti import lifecycle
from cti.domain import (
    Channel,
    Direction,
    Identity,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    QueueConfig,
    jsonable,
)
from cti.errors import Conflict, CtiError, InvalidInput, NotFound
from cti.eventlog import QueuedWhy
from cti.events import InteractionAccepted, InteractionClosed, InteractionQueued, OfferWithdrawn
from cti.interaction_core import ROUTED_ELSEWHERE, CoreSteps, InteractionCore, requeued
from cti.priority import MAX_PRIORITY, MIN_PRIORITY
from cti.routing import WaitingItem

# Under the service's name: what operators filter the log on did not move with the code.
log = logging.getLogger("cti.service")


class WaitingWork(CoreSteps):
    def __init__(self, core: InteractionCore) -> None:
        super().__init__(core)

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

        current, saved = await self._core.change(interaction_id, mark)
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
            interaction = await self._core.apply(interaction_id, move)
        except CtiError:
            await self._routing.enqueue(item)  # as it was (without the withdrawn offer)
            self._poke()
            raise
        await self._routing.enqueue(replace(
            self._core.waiting_item(interaction, enqueued_at=item.enqueued_at),
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

        current, saved = await self._core.change(interaction_id, take)
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
            current, saved = await self._core.change(interaction_id, change)
        except CtiError:
            await self._routing.enqueue(item)  # refused: it waits as it did
            raise
        if saved is None:
            return None  # no longer waiting (the customer left meanwhile)
        await self._routing.enqueue(replace(
            self._core.waiting_item(saved, enqueued_at=item.enqueued_at), working_agent=item.working_agent,
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
        return await self._core.apply(interaction_id, lambda i: replace(i, priority=priority))

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
        _, closed = await self._core.change(interaction_id, lambda i: lifecycle.apply(
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
        await self._routing.enqueue(replace(self._core.waiting_item(callback, enqueued_at=began),
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
                    _, saved = await self._core.change(interaction.id, requeued(self._clock.now()))
                    if saved is None:
                        continue  # taken or ended meanwhile
                    interaction = saved
                item = self._core.waiting_item(interaction,
                                          enqueued_at=interaction.queued_at or interaction.arrived_at)
                also = await also_for(interaction) if also_for is not None else {}
                await self._routing.enqueue(replace(item, also=dict(also)) if also else item)
                count += 1
        if count:
            self._poke()
        return count


def _callback_not_offered(interaction_id: str, queue: QueueConfig | None) -> Conflict:
    return Conflict("callback-not-offered", "a callback is offered once the queue's maximum wait has passed",
                    interaction_id=interaction_id, max_wait=queue.max_wait if queue else None)
