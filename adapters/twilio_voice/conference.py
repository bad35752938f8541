"""The desk's controls on the call's conference (Participants API): hold and resume (``hold``,
``holdUrl``), consult (a second agent dialled in while the caller holds, then handed the call or
cancelled) and a supervisor's listen (``muted``), whisper (``coaching``) and barge."""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Any

from adapters.twilio_voice import twiml
from adapters.twilio_voice.config import ENDPOINT, endpoint
from adapters.twilio_voice.refs import (
    CONSULT_CLEARED,
    MONITOR_MODES,
    REF_AGENT_CALL_SID,
    REF_AGENT_LEG,
    REF_CALL_SID,
    REF_CONFERENCE_SID,
    REF_CONSULT_AGENT,
    REF_CONSULT_ANSWERED,
    REF_CONSULT_CALL_SID,
    REF_CONSULT_LEG,
    REF_HELD,
    REF_NUMBER,
)
from adapters.twilio_voice.rest import TwilioCallError
from adapters.twilio_voice.state import VoiceState, conference_sid, mine
from cti.calls import audit_monitor, may_monitor
from cti.domain import Interaction, InteractionState
from cti.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)


class ConferenceControls:
    def __init__(self, state: VoiceState) -> None:
        self._state = state
        self._deps = state.deps  # fixed for the adapter's life, unlike the config

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        """The caller on hold in the conference, hearing our hold audio (``holdUrl``: the same
        TwiML as the queue's music); resume takes them off hold."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            await self._hold_caller(interaction, on=on)
            await self._deps.interactions.update_refs(interaction_id, refs={REF_HELD: "1" if on else ""})
        await self._state.call_updated(interaction_id, agent_id, "held" if on else "resumed",
                                       {"by": "desktop"})
        log.info("twilio %s interaction=%s agent=%s", "hold" if on else "resume", interaction_id, agent_id)

    async def _hold_caller(self, interaction: Interaction, *, on: bool) -> None:
        await self._state.require_calls().update_participant(
            conference_sid(interaction), interaction.channel_refs[REF_CALL_SID], hold=on,
            **({"hold_url": twiml.url(self._state.config, twiml.WAIT_PATH), "hold_method": "POST"}
               if on else {}))

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        """The agent talks to ``to_agent`` (dialled into the conference) while the caller holds;
        ``complete_consult`` hands the caller over, ``cancel_consult`` goes back to them."""
        if to_agent == agent_id:
            raise InvalidInput("bad-consult-target", "cannot consult yourself")
        if to_agent not in self._deps.config.agents:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        target = self._state.config.endpoints.get(to_agent)
        if not target:
            raise InvalidInput("no-phone", f"agent {to_agent!r} has no Twilio phone", agent_id=to_agent)
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            if interaction.channel_refs.get(REF_CONSULT_AGENT):
                raise Conflict("consult-in-progress", "a consult is already in progress",
                               interaction_id=interaction_id)
            conference = conference_sid(interaction)
            leg = secrets.token_hex(8)
            await self._hold_caller(interaction, on=True)
            try:
                sid = await self._state.require_calls().add_participant(
                    conference, to=target, from_=self._state.caller_id_for(interaction, target),
                    timeout=self._state.config.ring_seconds, end_conference_on_exit=False,
                    status_callback=twiml.url(self._state.config, twiml.PARTICIPANT_PATH, {
                        "interaction": interaction_id, "role": "consult", "agent": to_agent, "leg": leg}))
            except TwilioCallError:
                with contextlib.suppress(TwilioCallError):
                    await self._hold_caller(interaction, on=False)
                raise
            await self._deps.interactions.update_refs(interaction_id, refs={
                REF_CONSULT_AGENT: to_agent, REF_CONSULT_CALL_SID: sid, REF_CONSULT_LEG: leg,
                REF_CONSULT_ANSWERED: "", REF_HELD: "1"})
        await self._state.call_updated(interaction_id, agent_id, "consult-started", {"to_agent": to_agent})
        # The consulted agent sees who is waiting before they pick up.
        pop = await self._deps.interactions.screen_pop(await self._deps.context.interaction(interaction_id))
        await self._state.call_updated(interaction_id, to_agent, "consult-incoming",
                                       {"from_agent": agent_id, "screen_pop": pop})
        log.info("twilio consult interaction=%s from=%s to=%s call=%s", interaction_id, agent_id,
                 to_agent, sid)

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        """Back to the caller: the consulted agent's leg ends, the caller comes off hold."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._consulting(interaction_id, agent_id)
            await self._state.hang_up_quietly(interaction.channel_refs.get(REF_CONSULT_CALL_SID))
            await self._state.call_updated(interaction_id, agent_id, "consult-cancelled", {})
            await self.end_consult(interaction, "cancelled")

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        """The consulting agent leaves; the caller, off hold, stays with the consulted agent, whose
        interaction it is now (a warm transfer)."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._consulting(interaction_id, agent_id)
            refs = interaction.channel_refs
            if not refs.get(REF_CONSULT_ANSWERED):
                raise Conflict("consult-not-answered", "the consulted agent has not answered yet",
                               interaction_id=interaction_id)
            to_agent, sid, leg = refs[REF_CONSULT_AGENT], refs[REF_CONSULT_CALL_SID], refs[REF_CONSULT_LEG]
            conference, calls = conference_sid(interaction), self._state.require_calls()
            # The new agent's leaving ends the call from now on; the old agent's no longer does.
            await calls.update_participant(conference, sid, end_conference_on_exit=True)
            old_sid = refs.get(REF_AGENT_CALL_SID, "")
            if old_sid:
                with contextlib.suppress(TwilioCallError):  # gone already: nothing to keep alive
                    await calls.update_participant(conference, old_sid, end_conference_on_exit=False)
            await self._hold_caller(interaction, on=False)
            await self._deps.interactions.update_refs(interaction_id, refs={
                **CONSULT_CLEARED, REF_AGENT_LEG: leg, REF_AGENT_CALL_SID: sid, REF_HELD: ""})
            await self._deps.interactions.reassign(interaction_id, to_agent, why="consult transfer completed")
            for who, other in ((agent_id, {"to_agent": to_agent}), (to_agent, {"from_agent": agent_id})):
                await self._state.call_updated(interaction_id, who, "consult-ended",
                                               {"why": "completed", **other})
            await self._state.hang_up_quietly(old_sid)
        log.info("twilio consult completed interaction=%s from=%s to=%s", interaction_id, agent_id, to_agent)

    async def _consulting(self, interaction_id: str, agent_id: str) -> Interaction:
        interaction = await self._state.live(interaction_id, agent_id)
        if not interaction.channel_refs.get(REF_CONSULT_AGENT):
            raise Conflict("no-consult", "no consult in progress", interaction_id=interaction_id)
        return interaction

    async def end_consult(self, interaction: Interaction, why: str) -> None:
        """Once per consult (under the call's lock): the caller off hold, both desks told."""
        refs = interaction.channel_refs
        to_agent = refs.get(REF_CONSULT_AGENT)
        if not to_agent:
            return
        await self._deps.interactions.update_refs(interaction.id, refs={**CONSULT_CLEARED, REF_HELD: ""})
        if interaction.state is InteractionState.ACTIVE and refs.get(REF_CONFERENCE_SID):
            with contextlib.suppress(TwilioCallError):  # the caller may have gone meanwhile
                await self._hold_caller(interaction, on=False)
        for who, other in ((interaction.agent_id, {"to_agent": to_agent}),
                           (to_agent, {"from_agent": interaction.agent_id})):
            await self._state.call_updated(interaction.id, who, "consult-ended", {"why": why, **other})

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        """Listen to (``muted``), whisper to (``coaching``, heard by the agent only) or barge into
        an agent's call: the supervisor's own Twilio phone is dialled into its conference."""
        config = self._deps.config
        supervisor = may_monitor(config, supervisor_id, agent_id, mode)
        raw = supervisor.endpoints.get(ENDPOINT)
        phone = endpoint(raw, supervisor_id, config.phone_region) if raw else ""
        if not phone:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=supervisor_id)
        live = [i for i in await self._deps.context.list_interactions(agent_id=agent_id, open_only=True)
                if mine(i) and i.state is InteractionState.ACTIVE and not i.customer_left
                and i.channel_refs.get(REF_CONFERENCE_SID)]
        if not live:
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        target = live[0]
        options: dict[str, Any] = {"end_conference_on_exit": False, **MONITOR_MODES[mode]}
        if mode == "whisper":
            options["call_sid_to_coach"] = target.channel_refs.get(REF_AGENT_CALL_SID, "")
        await audit_monitor(self._deps.context, supervisor_id, agent_id, mode, target.id)
        sid = await self._state.require_calls().add_participant(
            conference_sid(target), to=phone, from_=self._state.config.caller_id
            or target.channel_refs.get(REF_NUMBER, "") or phone, timeout=self._state.config.ring_seconds,
            status_callback=twiml.url(self._state.config, twiml.PARTICIPANT_PATH, {
                "interaction": target.id, "role": mode, "agent": agent_id, "supervisor": supervisor_id}),
            **options)
        log.info("twilio %s supervisor=%s agent=%s interaction=%s call=%s", mode, supervisor_id, agent_id,
                 target.id, sid)
