"""An offer's outcome: ``InteractionService``'s routing engine callbacks and the agent's answer.

The engine offers waiting work (``on_offer``, with its ``screen_pop``) and takes back offers
nobody took (``on_requeue``, which also sets away an agent who missed one); the agent accepts or
rejects the offer (``accept``, ``reject``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cti import lifecycle
from cti.campaigns import PopCampaigns
from cti.domain import Interaction, jsonable
from cti.events import InteractionAccepted, InteractionOffered, InteractionQueued, OfferWithdrawn
from cti.interaction_core import CoreSteps, InteractionCore, requeued
from cti.routing import Offer, WaitingItem
from cti.screenpop import build_screen_pop

# Under the service's name: what operators filter the log on did not move with the code.
log = logging.getLogger("cti.service")

SCREEN_POP_TIMELINE = 50
# Offers that ended with nobody answering, on any channel: the engine's time-out, and a phone
# that rang out ("no-answer" from the voice paths). A reject is a person's answer, not a miss.
MISSED = frozenset({"timeout", "no-answer"})


class OfferSteps(CoreSteps):
    def __init__(self, core: InteractionCore, *, campaigns: PopCampaigns | None = None,
                 on_missed_offer: Callable[[str], Awaitable[None]] | None = None) -> None:
        super().__init__(core)
        self._campaigns = campaigns  # the campaign notices an interaction's words match (issue 13)
        self._on_missed_offer = on_missed_offer

    async def on_offer(self, offer: Offer) -> None:
        interaction = await self._core.apply(offer.interaction_id, lambda i: lifecycle.apply(
            i, "offer", now=offer.offered_at, agent_id=offer.agent_id, details={"rule": offer.reason.rule}))
        reason = jsonable(offer.reason)
        pop = await self.screen_pop(interaction, reason=reason)
        await self._hub.publish(InteractionOffered(
            at=offer.offered_at, interaction_id=interaction.id, agent_id=offer.agent_id,
            expires_at=offer.expires_at, reason=reason, screen_pop=pop))
        log.info("offered id=%s agent=%s rule=%s", interaction.id, offer.agent_id, offer.reason.rule)

    async def on_requeue(self, item: WaitingItem, why: str) -> None:
        now = self._clock.now()
        current, interaction = await self._core.change(item.interaction_id, requeued(now, why))
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
        interaction = await self._core.apply(
            interaction_id, lambda i: lifecycle.apply(i, "accept", now=now, agent_id=agent_id), read=read)
        await self._hub.publish(InteractionAccepted(at=now, interaction_id=interaction_id,
                                                    agent_id=agent_id, interaction=jsonable(interaction)))
        return interaction

    async def reject(self, interaction_id: str, agent_id: str, *, why: str = "rejected") -> None:
        """The agent declined the offer (``why`` "no-answer" when their phone did not answer)."""
        await self._context.interaction(interaction_id)
        item = await self._routing.reject(interaction_id, agent_id, now=self._clock.now())
        await self.on_requeue(item, why)

    async def screen_pop(self, interaction: Interaction, *,
                         reason: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The screen pop of ``interaction`` as given (an offer's is the snapshot it just saved)."""
        view = await self._context.interaction_view(interaction, timeline_limit=SCREEN_POP_TIMELINE)
        campaigns = [] if self._campaigns is None else await self._campaigns.pop(interaction, view.messages)
        return build_screen_pop(interaction=interaction, customer=view.customer,
                                timeline=view.timeline.entries, messages=view.messages, notes=view.notes,
                                reason=reason, presented=view.presented, campaigns=campaigns)
