"""Click-to-dial: the agent's phone rings first, into a new conference of the call's own; once
they answer (their leg's status callback), the customer is dialled into it."""

from __future__ import annotations

import logging
import secrets

from adapters.twilio_voice import twiml
from adapters.twilio_voice.refs import (
    REF_AGENT_CALL_SID,
    REF_AGENT_LEG,
    REF_CALL_SID,
    REF_CALLER,
    REF_CONFERENCE,
    REF_NUMBER,
    REF_OUTBOUND,
)
from adapters.twilio_voice.rest import TwilioCallError
from adapters.twilio_voice.state import VoiceState, conference_name
from cti.domain import Channel, Identity, IdentityKind, Interaction
from cti.errors import InvalidInput, NotFound
from cti.identities import normalise_phone

log = logging.getLogger(__name__)


class ClickToDial:
    def __init__(self, state: VoiceState) -> None:
        self._state = state
        self._deps = state.deps  # fixed for the adapter's life, unlike the config

    def dials_for(self, agent_id: str) -> bool:
        return bool(self._state.config.endpoints.get(agent_id))

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        """Click-to-dial: the agent's phone rings first (into the call's conference); when they
        answer, the customer is dialled into it."""
        config = self._deps.config
        target = self._state.config.endpoints.get(agent_id)
        if agent_id not in config.agents or not target:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=agent_id)
        if queue is not None and queue not in config.queues:
            raise NotFound("queue-not-found", f"no queue {queue!r}", queue=queue)
        phone = normalise_phone(number, region=config.phone_region)
        from_ = self._state.config.caller_id or next(iter(self._state.config.numbers), "")
        if not from_:
            raise InvalidInput("no-caller-id", "the Twilio channel has no number to call from")
        interaction, _ = await self._deps.interactions.start_active(
            channel=Channel.VOICE, agent_id=agent_id, identities=[Identity(IdentityKind.PHONE, phone)],
            display_name=None, queue=queue, context={"voice.dialled": phone})
        leg = secrets.token_hex(8)
        await self._deps.interactions.update_refs(interaction.id, refs={
            REF_CONFERENCE: interaction.id, REF_OUTBOUND: "1", REF_AGENT_LEG: leg, REF_NUMBER: from_,
            REF_CALLER: phone})
        try:
            sid = await self._state.require_calls().create(
                to=target, from_=from_ if not target.startswith("client:") else phone,
                timeout=self._state.config.ring_seconds,
                twiml=twiml.connect_agent(self._state.config, interaction.id),
                status_callback=twiml.url(self._state.config, twiml.AGENT_PATH,
                                          {"interaction": interaction.id, "agent": agent_id, "leg": leg}))
        except TwilioCallError:
            await self._deps.interactions.call_ended(interaction.id, why="dial-failed")
            raise
        await self._deps.interactions.update_refs(interaction.id, refs={REF_AGENT_CALL_SID: sid})
        log.info("twilio click-to-dial agent=%s call=%s interaction=%s", agent_id, sid, interaction.id)
        return await self._deps.context.interaction(interaction.id)

    async def dial_customer(self, interaction: Interaction, agent_id: str) -> None:
        refs = interaction.channel_refs
        phone = refs.get(REF_CALLER, "")
        try:
            sid = await self._state.require_calls().add_participant(
                conference_name(interaction), to=phone, from_=refs.get(REF_NUMBER, ""),
                timeout=self._state.config.ring_seconds, end_conference_on_exit=True,
                status_callback=twiml.url(self._state.config, twiml.PARTICIPANT_PATH,
                                          {"interaction": interaction.id, "role": "customer",
                                           "agent": agent_id}))
        except TwilioCallError as exc:
            log.warning("twilio: cannot dial the customer interaction=%s why=%s", interaction.id, exc.why)
            await self._deps.interactions.call_ended(interaction.id, why="dial-failed")
            await self._state.hang_up_quietly(refs.get(REF_AGENT_CALL_SID))
            return
        await self._deps.interactions.update_refs(interaction.id, refs={REF_CALL_SID: sid})
