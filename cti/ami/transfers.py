"""Transfers and consults of live calls: each made once, shown to the agents it concerns, ended.

A live call changes agent in three ways, all seen in the same AMI events whoever started them:

* a *blind transfer to an agent*, asked for by the desk (``BlindTransfer`` to ``cti-agents``) or
  made on the phone (the ``#1`` feature code, or the phone's own transfer key, a SIP REFER; both
  use the leg's ``TRANSFER_CONTEXT``): Asterisk dials the target's phone with a leg carrying the
  caller's Linkedid (``live2/blind_transfer_target_rings``). The target gets the offer with its
  screen pop when that phone starts ringing, and the interaction is theirs when they answer;
* a *transfer to a queue* (the dial plan's ``CtiQueued … Requeued: yes``), whose desk and
  dial-plan sides are one transfer (``requeued_by_phone``);
* a *consult* (attended transfer), which ends visibly however it ends: completed, cancelled, or
  because the caller, the consulting agent or the consulted one left.

The bridge calls this under its event lock, so each step sees the ones before it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from cti.clock import Clock
from cti.domain import Interaction
from cti.events import CallUpdated, InteractionOffered, InteractionTransferred, OfferWithdrawn
from cti.hub import EventHub
from cti.service import InteractionService

log = logging.getLogger(__name__)

TRANSFER_RULE = "transfer"  # the offer's reason rule: rung by Asterisk, not by our Originate
# cti-agents: Dial(PJSIP/agentX,20); past that the dial plan re-queues the caller.
TRANSFER_RING_SECONDS = 20.0


@dataclass
class Handover:
    """A blind transfer of a live call to an agent, until somebody answers it."""

    from_agent: str
    to_agent: str | None  # None: whoever answers (the phone's target is not known yet)
    announced: bool  # interaction.transferred is out already
    offered_to: str | None = None


@dataclass(frozen=True)
class Consult:
    agent_id: str
    agent_channel: str
    to_agent: str
    to_device: str


class Transfers:
    def __init__(self, *, interactions: InteractionService, hub: EventHub, clock: Clock,
                 agents_by_exten: Mapping[str, str]) -> None:
        self._interactions = interactions
        self._hub = hub
        self._clock = clock
        self._by_exten = dict(agents_by_exten)
        self._handovers: dict[str, Handover] = {}
        self._consults: dict[str, Consult] = {}
        # interaction -> (agent, queue) of a transfer to a queue the dial plan reported
        # ("Requeued: yes") until the caller is connected again: a desk request for the same
        # transfer that arrives after it is answered as done, not refused.
        self.requeued_by_phone: dict[str, tuple[str, str]] = {}

    def use_extensions(self, agents_by_exten: Mapping[str, str]) -> None:
        """Agents' extensions after an admin's change (a transfer dialled to a new one)."""
        self._by_exten = dict(agents_by_exten)

    # ----- blind transfers to an agent ----------------------------------------------------

    def asked_by_desk(self, interaction_id: str, from_agent: str, to_agent: str) -> None:
        """The desk sent a BlindTransfer and published interaction.transferred itself."""
        self._handovers[interaction_id] = Handover(from_agent, to_agent, announced=True)

    def cancel(self, interaction_id: str) -> None:
        self._handovers.pop(interaction_id, None)

    async def made_on_phone(self, interaction: Interaction, exten: str) -> None:
        """Asterisk reports a blind transfer of this call to an agent extension; nothing to do
        if the desk asked for it."""
        if interaction.id in self._handovers or not interaction.agent_id:
            return
        to_agent = self._by_exten.get(exten)
        self._handovers[interaction.id] = Handover(interaction.agent_id, to_agent, announced=True)
        log.info("transfer made on the phone interaction=%s from=%s to=%s", interaction.id,
                 interaction.agent_id, to_agent or exten)
        await self._hub.publish(InteractionTransferred(
            at=self._clock.now(), interaction_id=interaction.id, agent_id=interaction.agent_id,
            to_queue=None, to_agent=to_agent, note=None))

    async def target_ringing(self, interaction: Interaction, agent_id: str) -> None:
        """A phone rings with a leg of this live call: the offer and screen pop, now."""
        if interaction.id in self._consults or not interaction.agent_id:
            return  # the consulted agent had "consult-incoming" with the pop already
        handover = self._handovers.get(interaction.id)
        if handover is None:  # rung before (or without) a BlindTransfer event: the phone's doing
            handover = Handover(interaction.agent_id, None, announced=False)
            self._handovers[interaction.id] = handover
        if handover.offered_to == agent_id:
            return
        handover.offered_to = agent_id
        now = self._clock.now()
        reason = {"rule": TRANSFER_RULE, "from_agent": handover.from_agent}
        pop = await self._interactions.screen_pop(interaction, reason=reason)
        await self._hub.publish(InteractionOffered(
            at=now, interaction_id=interaction.id, agent_id=agent_id,
            expires_at=now + TRANSFER_RING_SECONDS, reason=reason, screen_pop=pop))

    async def answered(self, interaction: Interaction, agent_id: str) -> Interaction:
        """The caller is bridged with another agent than the interaction's: theirs now."""
        handover = self._handovers.pop(interaction.id, None)
        consult = self._consults.get(interaction.id)
        why = "consult transfer completed" if consult is not None else "transfer answered"
        moved = await self._interactions.reassign(interaction.id, agent_id, why=why,
                                                  announced=handover is not None and handover.announced)
        if consult is not None and consult.to_agent == agent_id:
            await self.consult_ended(interaction.id, "completed")
        return moved

    async def not_answered(self, interaction_id: str, why: str) -> None:
        """The transfer is over without an answer (re-queued, or the caller left)."""
        handover = self._handovers.pop(interaction_id, None)
        if handover is not None and handover.offered_to:
            await self._hub.publish(OfferWithdrawn(at=self._clock.now(), interaction_id=interaction_id,
                                                   agent_id=handover.offered_to, why=why))

    # ----- consults -----------------------------------------------------------------------

    def consult_started(self, interaction_id: str, consult: Consult) -> None:
        self._consults[interaction_id] = consult

    def consulting(self, interaction_id: str) -> Consult | None:
        return self._consults.get(interaction_id)

    def drop_consult(self, interaction_id: str) -> None:
        """Asterisk refused to start it: nothing to end."""
        self._consults.pop(interaction_id, None)

    async def consult_ended(self, interaction_id: str, why: str) -> None:
        """Once per consult: both agents' desks learn how it ended."""
        consult = self._consults.pop(interaction_id, None)
        if consult is None:
            return
        now = self._clock.now()
        for agent_id, other in ((consult.agent_id, {"to_agent": consult.to_agent}),
                                (consult.to_agent, {"from_agent": consult.agent_id})):
            await self._hub.publish(CallUpdated(at=now, interaction_id=interaction_id, agent_id=agent_id,
                                                what="consult-ended", details={"why": why, **other}))

    async def leg_gone(self, channel: str, device: str) -> None:
        """An agent's leg hung up: a consult it was part of is over."""
        for interaction_id, consult in list(self._consults.items()):
            if channel == consult.agent_channel:
                await self.consult_ended(interaction_id, "agent-left")
            elif device == consult.to_device:
                await self.consult_ended(interaction_id, "target-left")

    async def caller_gone(self, interaction_id: str) -> None:
        self.requeued_by_phone.pop(interaction_id, None)
        await self.not_answered(interaction_id, "customer-left")
        await self.consult_ended(interaction_id, "caller-left")
