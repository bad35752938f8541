"""The bridge's reactions to the event hub: offers ring phones, withdrawn offers stop ringing,
agent states pause or unpause the agents in the fallback queue.

An ``InteractionOffered`` for a voice call becomes an ``Originate`` to the agent's phone (unless
the offer is a transfer's, which Asterisk rings already: ``transfers.py``); an offer withdrawn or
abandoned hangs up the ring in progress; a change of an agent's state sets their ``QueuePause``
in app_queue's fallback queue, so that queue rings only those who could take a call from us.
The attributes are ``AmiBridge``'s (``bridge.py``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from cti.ami.control import ENDPOINT, REF_CHANNEL, CallControl, Ringing
from cti.ami.transfers import TRANSFER_RULE
from cti.domain import AgentState, Channel, IdentityKind, Role
from cti.errors import Conflict, CtiError, NotFound
from cti.events import (
    AgentStateChanged,
    DomainEvent,
    InteractionAbandoned,
    InteractionOffered,
    OfferWithdrawn,
)
from cti.routing import RoutingStore

__all__ = ["HubReactions"]

# Under the bridge's name: operators follow the bridge in one logger, whichever part acts.
log = logging.getLogger("cti.ami.bridge")


class HubReactions(CallControl):
    """Ringing for offers and fallback-queue pauses for agent states."""

    _routing: RoutingStore
    _devices: dict[str, str]  # agent device -> agent id

    async def _watch_hub(self, sub: Any) -> None:
        while True:
            event: DomainEvent = await sub.get()
            try:
                await self._on_domain_event(event)
            except CtiError as exc:
                log.warning("ami: %s for %s: %s", exc.error_id, event.type, exc)
            except Exception:
                log.exception("ami: failed to act on %s", event.type)

    async def _on_domain_event(self, event: DomainEvent) -> None:
        if isinstance(event, InteractionOffered):
            await self._ring_agent(event)
        elif isinstance(event, OfferWithdrawn | InteractionAbandoned):
            await self._stop_ringing(event.interaction_id)
        elif isinstance(event, AgentStateChanged):
            await self._pause_in_fallback(event.agent_id, event.state)

    async def _ring_agent(self, offer: InteractionOffered) -> None:
        if not self.connected:
            return
        if offer.reason.get("rule") == TRANSFER_RULE:
            return  # Asterisk rings that phone already (transfers.py)
        interaction = await self._context.interaction(offer.interaction_id)
        caller = interaction.channel_refs.get(REF_CHANNEL)
        if interaction.channel is not Channel.VOICE or not caller:
            return
        device = self._config.agents[offer.agent_id].endpoints.get(ENDPOINT)
        if not device:
            await self._interactions.reject(interaction.id, offer.agent_id, why="no-phone")
            return
        self._ringing[device] = Ringing(interaction_id=interaction.id, agent_id=offer.agent_id)
        ring_ms = max(1000, int((offer.expires_at - offer.at) * 1000) - 500)
        customer = await self._context.customer(interaction.customer_id)
        number = next((i.value for i in customer.identities if i.kind is IdentityKind.PHONE), "")
        caller_id = f'"{(customer.display_name or number)[:40]}" <{number}>'
        try:
            await self._require_link().send({
                "Action": "Originate", "Channel": device, "Context": self._ami.connect_context,
                "Exten": "s", "Priority": "1", "Timeout": str(ring_ms), "CallerID": caller_id,
                "Variable": [f"CTI_CALLER={caller}", f"CTI_INTERACTION={interaction.id}"],
                "Async": "true"})
        except CtiError as exc:
            self._ringing.pop(device, None)
            log.warning("originate failed agent=%s interaction=%s: %s", offer.agent_id, interaction.id, exc)
            with contextlib.suppress(NotFound, Conflict):
                await self._interactions.reject(interaction.id, offer.agent_id, why="originate-failed")

    async def _stop_ringing(self, interaction_id: str) -> None:
        for device, ringing in list(self._ringing.items()):
            if ringing.interaction_id == interaction_id:
                del self._ringing[device]
                await self._hangup_quietly(ringing.channel)

    async def _pause_in_fallback(self, agent_id: str, state: str) -> None:
        device = self._config.agents.get(agent_id)
        if device is None or device.role is not Role.AGENT or not device.endpoints.get(ENDPOINT) \
                or not self.connected:
            return
        paused = state not in (AgentState.AVAILABLE.value, AgentState.WRAP_UP.value,
                               AgentState.BUSY.value)
        with contextlib.suppress(CtiError):
            await self._require_link().send({
                "Action": "QueuePause", "Interface": device.endpoints[ENDPOINT],
                "Queue": self._ami.fallback_queue, "Paused": "true" if paused else "false",
                "Reason": state})

    async def _pause_all_by_state(self) -> None:
        # Only agents are members of the fallback queue; supervisors' phones are for monitoring.
        for agent_id in self._devices.values():
            if self._config.agents[agent_id].role is not Role.AGENT:
                continue
            snap = await self._routing.agent(agent_id)
            await self._pause_in_fallback(agent_id, snap.state.value if snap else "offline")
