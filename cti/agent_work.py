"""An agent working an interaction they hold: ``InteractionService``'s agent actions after the offer.

Replies and notes (``reply``, ``add_note``), a transfer to a queue or an agent
(``transfer``, with ``transfer_mode`` and ``check_transfer_target``) and the close
(``complete``).
"""

from __future__ import annotations

from dataclasses import replace

from cti import lifecycle
from cti.availability import transfer_refusal
from cti.domain import AgentState, Interaction, InteractionState, Message, MessageSender, Note, jsonable
from cti.errors import Conflict, InvalidInput, NotFound
from cti.events import (
    AgentStateChanged,
    InteractionClosed,
    InteractionQueued,
    InteractionTransferred,
    MessageAdded,
)
from cti.interaction_core import LIVE, CoreSteps, InteractionCore, owned
from cti.text import has_bad_line_chars


class AgentWork(CoreSteps):
    def __init__(self, core: InteractionCore) -> None:
        super().__init__(core)

    async def reply(self, interaction_id: str, agent_id: str, body: str) -> Message:
        self._core.check_body(body)
        interaction = await self._core.owned(interaction_id, agent_id, LIVE)
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
        self._core.check_body(body)
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
        interaction = await self._core.owned(interaction_id, agent_id, LIVE)
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
        interaction = await self._core.apply(interaction_id, lambda i: replace(lifecycle.apply(
            owned(i, agent_id, LIVE), "transfer", now=now, queue=queue, details={"to_agent": to_agent}),
            skills=skills))
        # The context and notes stay on the interaction; only the waiting entry is new. An agent
        # who sends work to a queue has passed it on: it is not offered straight back to them.
        passed_on = frozenset({agent_id}) if to_queue else frozenset()
        await self._routing.enqueue(replace(self._core.waiting_item(interaction, enqueued_at=now),
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
            interaction = await self._core.owned(interaction_id, agent_id, LIVE)
            await self.add_note(interaction_id, agent_id, note)
        else:
            interaction = await self._core.owned_snapshot(interaction_id, agent_id, LIVE)
        now = self._clock.now()
        interaction = await self._core.apply(interaction_id, lambda i: replace(lifecycle.apply(
            owned(i, agent_id, LIVE), "close", now=now), disposition=disposition), read=interaction)
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
