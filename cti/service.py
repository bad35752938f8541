"""The interaction service: the one place where an interaction's life cycle is driven.

Channels call ``start_inbound``, ``customer_message`` and ``customer_left``; the routing engine
calls ``on_offer`` and ``on_requeue``; the desktop API calls the agent actions. Each step loads
the interaction, applies the pure life cycle, saves it, updates the routing store and publishes
the domain event, in that order, so every consumer sees the same history.

This module owns the service's face and its wiring only; each step lives with the ones it
belongs with, all changing the interaction through one ``InteractionCore``:
``cti.channel_steps`` (what the channels report), ``cti.offer_steps`` (the routing engine's
callbacks and the agent's answer to an offer), ``cti.agent_work`` (the agent's actions on work
they hold) and ``cti.waiting_work`` (waiting work changes where or how it waits).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from cti.agent_work import AgentWork
from cti.campaigns import PopCampaigns
from cti.channel_steps import ChannelSteps
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.domain import (
    Channel,
    ChatSession,
    Customer,
    Direction,
    Identity,
    InboundIdentity,
    Interaction,
    Message,
    Note,
)
from cti.hub import EventHub
from cti.inbound_batch import InboundItem, InboundStored
from cti.interaction_core import InteractionCore
from cti.live_config import LiveConfig
from cti.offer_steps import OfferSteps
from cti.ports import ContextStore
from cti.routing import Offer, RoutingStore, WaitingItem
from cti.waiting_work import WaitingWork


class InteractionService:
    """Each method is the step of the same name in the module that owns it (see above)."""

    def __init__(self, *, config: AppConfig | LiveConfig, context: ContextStore, routing: RoutingStore,
                 hub: EventHub, clock: Clock, ids: IdSource, poke: Callable[[], None],
                 on_missed_offer: Callable[[str], Awaitable[None]] | None = None,
                 campaigns: PopCampaigns | None = None) -> None:
        core = InteractionCore(config=config, context=context, routing=routing, hub=hub, clock=clock,
                               ids=ids, poke=poke)
        self._core = core
        self._channels = ChannelSteps(core, campaigns=campaigns)
        self._offers = OfferSteps(core, campaigns=campaigns, on_missed_offer=on_missed_offer)
        self._work = AgentWork(core)
        self._waiting = WaitingWork(core)

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
        return await self._channels.start_inbound(
            channel=channel, identities=identities, display_name=display_name, queue=queue,
            channel_refs=channel_refs, context=context, priority=priority, skills=skills, subject=subject,
            direction=direction, first_message=first_message, first_message_ref=first_message_ref,
            interaction_id=interaction_id, chat_session=chat_session, routed_elsewhere=routed_elsewhere)

    async def start_inbound_batch(self, items: Sequence[InboundItem]) -> list[InboundStored]:
        return await self._channels.start_inbound_batch(items)

    async def customer_message(self, interaction_id: str, body: str, *,
                               channel_ref: str | None = None) -> Message | None:
        return await self._channels.customer_message(interaction_id, body, channel_ref=channel_ref)

    async def start_active(
        self, *, channel: Channel, agent_id: str, identities: Sequence[Identity],
        display_name: str | None, queue: str | None = None,
        channel_refs: Mapping[str, str] | None = None, context: Mapping[str, str] | None = None,
        direction: Direction = Direction.OUTBOUND,
    ) -> tuple[Interaction, Customer]:
        return await self._channels.start_active(
            channel=channel, agent_id=agent_id, identities=identities, display_name=display_name,
            queue=queue, channel_refs=channel_refs, context=context, direction=direction)

    async def update_refs(self, interaction_id: str, *, refs: Mapping[str, str] | None = None,
                          context: Mapping[str, str] | None = None) -> Interaction:
        return await self._channels.update_refs(interaction_id, refs=refs, context=context)

    async def call_ended(self, interaction_id: str, *, why: str) -> Interaction:
        return await self._channels.call_ended(interaction_id, why=why)

    async def reassign(self, interaction_id: str, to_agent: str, *, why: str,
                       announced: bool = False) -> Interaction:
        return await self._channels.reassign(interaction_id, to_agent, why=why, announced=announced)

    async def customer_left(self, interaction_id: str) -> Interaction:
        return await self._channels.customer_left(interaction_id)

    def check_body(self, body: str) -> None:
        self._core.check_body(body)

    # ----- waiting work changes where or how it waits -----------------------------------------

    async def hand_off(self, interaction_id: str, *, to: str, why: str) -> Interaction:
        return await self._waiting.hand_off(interaction_id, to=to, why=why)

    async def redirect(self, interaction_id: str, *, to_agent: str | None, to_queue: str | None,
                       why: str) -> Interaction:
        return await self._waiting.redirect(interaction_id, to_agent=to_agent, to_queue=to_queue, why=why)

    async def answered_elsewhere(self, interaction_id: str, agent_id: str) -> Interaction:
        return await self._waiting.answered_elsewhere(interaction_id, agent_id)

    async def rewait(self, interaction_id: str, *, why: str, queue: str | None = None,
                     skills: Mapping[str, int] | None = None, priority: float | None = None,
                     details: Mapping[str, Any] | None = None, keep_target: bool = False,
                     expected: WaitingItem | None = None,
                     also: Mapping[str, Mapping[str, int]] | None = None) -> Interaction | None:
        return await self._waiting.rewait(
            interaction_id, why=why, queue=queue, skills=skills, priority=priority, details=details,
            keep_target=keep_target, expected=expected, also=also)

    async def set_priority(self, interaction_id: str, priority: float, *, by: str) -> Interaction:
        return await self._waiting.set_priority(interaction_id, priority, by=by)

    async def to_callback(self, interaction_id: str, *, contacts: Sequence[Identity]) -> Interaction:
        return await self._waiting.to_callback(interaction_id, contacts=contacts)

    async def recover(self, interactions: Sequence[Interaction], *,
                      also_for: Callable[[Interaction], Awaitable[Mapping[str, Mapping[str, int]]]]
                      | None = None) -> int:
        return await self._waiting.recover(interactions, also_for=also_for)

    # ----- routing engine callbacks and the answer to an offer -------------------------------

    async def on_offer(self, offer: Offer) -> None:
        await self._offers.on_offer(offer)

    async def on_requeue(self, item: WaitingItem, why: str) -> None:
        await self._offers.on_requeue(item, why)

    async def accept(self, interaction_id: str, agent_id: str) -> Interaction:
        return await self._offers.accept(interaction_id, agent_id)

    async def reject(self, interaction_id: str, agent_id: str, *, why: str = "rejected") -> None:
        await self._offers.reject(interaction_id, agent_id, why=why)

    async def screen_pop(self, interaction: Interaction, *,
                         reason: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._offers.screen_pop(interaction, reason=reason)

    # ----- agent actions on work they hold ---------------------------------------------------

    async def reply(self, interaction_id: str, agent_id: str, body: str) -> Message:
        return await self._work.reply(interaction_id, agent_id, body)

    async def add_note(self, interaction_id: str, author_id: str, body: str) -> Note:
        return await self._work.add_note(interaction_id, author_id, body)

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None, note: str | None,
                       if_unavailable: str | None = None) -> Interaction:
        return await self._work.transfer(interaction_id, agent_id, to_queue=to_queue, to_agent=to_agent,
                                         note=note, if_unavailable=if_unavailable)

    def transfer_mode(self, if_unavailable: str | None) -> str:
        return self._work.transfer_mode(if_unavailable)

    async def check_transfer_target(self, to_agent: str, interaction: Interaction) -> None:
        await self._work.check_transfer_target(to_agent, interaction)

    async def complete(self, interaction_id: str, agent_id: str, *, disposition: str,
                       note: str | None) -> Interaction:
        return await self._work.complete(interaction_id, agent_id, disposition=disposition, note=note)
