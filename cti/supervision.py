"""Supervision of every channel: the customers waiting, and what a supervisor does to their
teams' work.

- ``waiting``: every customer waiting for an agent (queued, or offered and not yet accepted) in
  the queues the supervisor may see (``cti.access.visible_queues``; an admin sees all), the
  longest wait first: the queued ones as the router holds them, the offers from the store.
- ``pick``: a waiting customer offered to the agent the supervisor chose; only that agent is
  offered it, and an offer already out to someone else is withdrawn.
- ``reassign``: offered work to another agent or queue; live work (active, wrap-up) through the
  transfer path, so a live call moves on its telephony path as well.
- ``whisper``: a word to the agent working the interaction, stored as an internal note and
  published as ``supervision.whisper`` to the agent and their supervisors. It is never a message,
  so no channel (the chat widget included) can carry it to the customer.
- ``barge``: the supervisor joins a live chat as a second agent. A system message
  "<name> joined the chat" tells the customer; ``say`` then writes to the customer under the
  supervisor's name while the agent keeps the chat; ``leave`` ends that, and the customer reads
  "<name> left the chat".

Who may: the interaction is one the supervisor may see (their teams' queues or agents), a chosen
agent is one of their teams', a chosen queue one of theirs. Every action is checked, then
audited (``ContextStore.audit``, as the call monitor and forced states are), then done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Iterable
from dataclasses import dataclass
from typing import Protocol

from cti.access import may_see_interaction, may_supervise, supervisor_reach, visible_queues
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.domain import Channel, Interaction, InteractionState, Message, MessageSender, Note, Role, jsonable
from cti.errors import Conflict, Forbidden, InvalidInput, NotFound
from cti.events import MessageAdded, SupervisionChanged, SupervisorWhispered
from cti.hub import EventHub
from cti.ports import ContextStore
from cti.routing import RoutingStore, WaitingItem
from cti.service import InteractionService

WAITING = (InteractionState.QUEUED, InteractionState.OFFERED)
LIVE = frozenset({InteractionState.ACTIVE, InteractionState.WRAP_UP})
MAX_WAITING = 500  # rows of the waiting list: a board shows the oldest first
BARGED = "supervision.barged."  # + supervisor id: a context key of a chat they joined
WHY = "supervisor"  # the requeue reason of work a supervisor moved


class Transfer(Protocol):
    def __call__(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                 to_agent: str | None, note: str | None) -> Awaitable[Interaction]: ...


@dataclass(frozen=True, slots=True)
class Supervisor:
    """Who acts: their id and role, as the token checked them."""

    agent_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class WaitingCustomer:
    interaction_id: str
    customer_id: str
    channel: str
    queue: str
    state: str  # queued | offered
    waited: float  # seconds since it first joined a queue (kept across re-queues)
    priority: float
    offered_to: str | None
    # Other queues whose agents are also offered it (an overflow by wait): their supervisors see it too.
    also_queues: tuple[str, ...] = ()


def waiting_rows(queued: Iterable[WaitingItem], offered: Iterable[Interaction], *,
                 queues: Container[str] | None, now: float,
                 limit: int = MAX_WAITING) -> list[WaitingCustomer]:
    """The waiting list, longest wait first, at most ``limit`` (pure): ``queued`` as the router
    holds them (their priority is the one routing uses; shown in their queue and in the queues they
    overflowed into), ``offered`` as stored."""
    rows = [WaitingCustomer(interaction_id=w.interaction_id, customer_id=w.customer_id,
                            channel=w.channel.value, queue=w.queue, state=InteractionState.QUEUED.value,
                            waited=max(0.0, now - w.enqueued_at), priority=w.priority, offered_to=None,
                            also_queues=tuple(sorted(w.also)))
            for w in queued
            if queues is None or w.queue in queues or any(q in queues for q in w.also)]
    rows += [WaitingCustomer(interaction_id=i.id, customer_id=i.customer_id, channel=i.channel.value,
                             queue=i.queue, state=i.state.value,
                             waited=max(0.0, now - (i.queued_at or i.arrived_at)), priority=i.priority,
                             offered_to=i.agent_id)
             for i in offered
             if i.state is InteractionState.OFFERED and (queues is None or i.queue in queues)]
    return sorted(rows, key=lambda r: (-r.waited, r.interaction_id))[:limit]


class SupervisionService:
    def __init__(self, *, config: Callable[[], AppConfig], context: ContextStore, routing: RoutingStore,
                 hub: EventHub,
                 clock: Clock, ids: IdSource, interactions: InteractionService, transfer: Transfer) -> None:
        self._config = config  # read at each use: a change of teams counts at once
        self._context = context
        self._routing = routing
        self._hub = hub
        self._clock = clock
        self._ids = ids
        self._interactions = interactions
        self._transfer = transfer

    async def waiting(self, who: Supervisor) -> list[WaitingCustomer]:
        config = self._config()
        scope = supervisor_reach(config, who.agent_id) if who.role is Role.SUPERVISOR else None
        # Offers are few (at most every agent's free slots); the queued are the router's.
        offered = await self._context.list_interactions(states=[InteractionState.OFFERED], limit=MAX_WAITING,
                                                        scope=scope)
        queued = (await self._routing.snapshot()).waiting
        # The reach also opens work held by a team's agent: an offer to them in another team's
        # queue is that team's customer, and stays off this list.
        mine = visible_queues(config, who.agent_id) if who.role is Role.SUPERVISOR else None
        return waiting_rows(queued, offered, queues=mine, now=self._clock.now())

    async def pick(self, who: Supervisor, interaction_id: str, to_agent: str) -> Interaction:
        interaction = await self._work(who, interaction_id)
        if interaction.state not in WAITING:
            raise _state(interaction, "only a waiting customer is picked")
        self._agent(who, to_agent)
        await self._interactions.check_transfer_target(to_agent, interaction)
        await self._audit(who, "interaction.pick", interaction, agent_id=to_agent)
        return await self._interactions.redirect(interaction_id, to_agent=to_agent, to_queue=None, why=WHY)

    async def reassign(self, who: Supervisor, interaction_id: str, *, to_agent: str | None,
                       to_queue: str | None, note: str | None) -> Interaction:
        if (to_agent is None) == (to_queue is None):
            raise InvalidInput("bad-transfer-target", "give exactly one of queue or agent_id")
        interaction = await self._work(who, interaction_id)
        if interaction.state is not InteractionState.OFFERED and interaction.state not in LIVE:
            raise _state(interaction, "offered or live work is reassigned; a waiting customer is picked")
        if to_agent is not None:
            self._agent(who, to_agent)
            if to_agent == interaction.agent_id:
                raise InvalidInput("bad-transfer-target", "it is theirs already", agent_id=to_agent)
            await self._interactions.check_transfer_target(to_agent, interaction)
        if to_queue is not None:
            self._queue(who, to_queue)
        await self._audit(who, "interaction.reassign", interaction, agent_id=to_agent, queue=to_queue,
                          from_agent=interaction.agent_id)
        if interaction.state is InteractionState.OFFERED:
            return await self._interactions.redirect(interaction_id, to_agent=to_agent, to_queue=to_queue,
                                                     why=WHY)
        # Live work moves as the agent's own transfer would, note and call included.
        return await self._transfer(interaction_id, interaction.agent_id or "", to_queue=to_queue,
                                    to_agent=to_agent, note=note)

    async def whisper(self, who: Supervisor, interaction_id: str, body: str) -> Note:
        self._interactions.check_body(body)
        interaction = await self._live(who, interaction_id)
        await self._audit(who, f"{interaction.channel.value}.whisper", interaction,
                          agent_id=interaction.agent_id)
        note = Note(id=self._ids.new_id("note"), interaction_id=interaction_id, author_id=who.agent_id,
                    body=body, at=self._clock.now())
        await self._context.add_note(note)
        await self._hub.publish(SupervisorWhispered(at=note.at, interaction_id=interaction_id,
                                                    agent_id=interaction.agent_id or "",
                                                    supervisor_id=who.agent_id, note=jsonable(note)))
        return note

    async def barge(self, who: Supervisor, interaction_id: str) -> Message | None:
        """Join the chat; the announcement, or None if they had already joined it."""
        interaction = await self._chat(who, interaction_id)
        if interaction.context.get(BARGED + who.agent_id):
            return None
        await self._audit(who, "chat.barge", interaction, agent_id=interaction.agent_id)
        now = self._clock.now()
        await self._interactions.update_refs(interaction_id, context={BARGED + who.agent_id: f"{now:.3f}"})
        name = self._config().agents[who.agent_id].name
        announced = await self._post(interaction, MessageSender.SYSTEM, f"{name} joined the chat",
                                     author=None)
        await self._hub.publish(SupervisionChanged(at=now, supervisor_id=who.agent_id,
                                                   agent_id=interaction.agent_id or "", mode="barge",
                                                   active=True, interaction_id=interaction_id))
        return announced

    async def leave(self, who: Supervisor, interaction_id: str) -> Message:
        """Leave a chat joined with ``barge``; the customer is told. Joining again is announced again."""
        interaction = await self._chat(who, interaction_id)
        if not interaction.context.get(BARGED + who.agent_id):
            raise Conflict("not-barged", "you have not joined this chat", interaction_id=interaction_id)
        await self._audit(who, "chat.barge_leave", interaction, agent_id=interaction.agent_id)
        # An empty value, not a removed key: context entries are only ever merged in.
        await self._interactions.update_refs(interaction_id, context={BARGED + who.agent_id: ""})
        name = self._config().agents[who.agent_id].name
        announced = await self._post(interaction, MessageSender.SYSTEM, f"{name} left the chat", author=None)
        await self._hub.publish(SupervisionChanged(at=announced.at, supervisor_id=who.agent_id,
                                                   agent_id=interaction.agent_id or "", mode="barge",
                                                   active=False, interaction_id=interaction_id))
        return announced

    async def say(self, who: Supervisor, interaction_id: str, body: str) -> Message:
        """The supervisor who joined the chat writes to the customer."""
        self._interactions.check_body(body)
        interaction = await self._chat(who, interaction_id)
        if not interaction.context.get(BARGED + who.agent_id):
            raise Conflict("not-barged", "join the chat (barge) before writing to the customer",
                           interaction_id=interaction_id)
        await self._audit(who, "chat.barge_message", interaction, agent_id=interaction.agent_id)
        return await self._post(interaction, MessageSender.AGENT, body, author=who.agent_id)

    # ----- checks --------------------------------------------------------------------------

    async def _work(self, who: Supervisor, interaction_id: str) -> Interaction:
        if who.role is Role.AGENT:
            raise Forbidden("wrong-role", "this needs the role supervisor or admin", role=who.role.value)
        interaction = await self._context.interaction(interaction_id)
        if not may_see_interaction(self._config(), who.agent_id, who.role, interaction):
            raise Forbidden("not-your-team", "this is not your teams' work", interaction_id=interaction_id)
        return interaction

    async def _live(self, who: Supervisor, interaction_id: str) -> Interaction:
        interaction = await self._work(who, interaction_id)
        if interaction.state not in LIVE or interaction.agent_id is None:
            raise _state(interaction, "nobody is working this interaction")
        return interaction

    async def _chat(self, who: Supervisor, interaction_id: str) -> Interaction:
        interaction = await self._live(who, interaction_id)
        if interaction.channel is not Channel.CHAT:
            raise InvalidInput("not-a-chat", "barge joins a chat; for a call use the call monitor",
                               channel=interaction.channel.value)
        if interaction.customer_left or interaction.state is not InteractionState.ACTIVE:
            raise Conflict("customer-left", "the customer has left", interaction_id=interaction_id)
        return interaction

    def _agent(self, who: Supervisor, agent_id: str) -> None:
        config = self._config()
        if agent_id not in config.agents:
            raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
        if not may_supervise(config, who.agent_id, who.role, agent_id):
            raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=agent_id)

    def _queue(self, who: Supervisor, queue: str) -> None:
        config = self._config()
        if queue not in config.queues:
            raise NotFound("queue-not-found", f"no queue {queue!r}", queue=queue)
        if who.role is not Role.ADMIN and queue not in visible_queues(config, who.agent_id):
            raise Forbidden("not-your-queue", "you do not supervise this queue", queue=queue)

    async def _audit(self, who: Supervisor, action: str, interaction: Interaction,
                     **details: str | None) -> None:
        await self._context.audit(actor=who.agent_id, action=action, target=interaction.id,
                                  details={"channel": interaction.channel.value, "queue": interaction.queue,
                                           **{k: v for k, v in details.items() if v is not None}})

    async def _post(self, interaction: Interaction, sender: MessageSender, body: str, *,
                    author: str | None) -> Message:
        message = Message(id=self._ids.new_id("msg"), interaction_id=interaction.id, sender=sender, body=body,
                          at=self._clock.now(), agent_id=author)
        await self._context.add_message(message)
        # To the agent working it (and so their supervisors) and, through the chat, the customer.
        await self._hub.publish(MessageAdded(at=message.at, interaction_id=interaction.id,
                                             agent_id=interaction.agent_id, message=jsonable(message)))
        return message


def _state(interaction: Interaction, why: str) -> Conflict:
    return Conflict("invalid-state", f"the interaction is {interaction.state.value}: {why}",
                    interaction_id=interaction.id, state=interaction.state.value)
