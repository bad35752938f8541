"""The status callbacks of the calls we place and of the call's conference: the agent's leg
(ringing, answered is an accept, unanswered is a reject, completed is the end of the call), the
conference (its SID, a consulted agent leaving), the participants we add (a consulted agent, a
supervisor, a click-to-dial customer) and the desk's finished recordings. Each is taken once per
(CallSid, status) and checks the leg it is about, so a redelivered or late callback is a no-op."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping

from aiohttp import web

from adapters.twilio_voice import twiml
from adapters.twilio_voice.click_to_dial import ClickToDial
from adapters.twilio_voice.conference import ConferenceControls
from adapters.twilio_voice.refs import (
    MONITOR_MODES,
    REF_AGENT_CALL_SID,
    REF_AGENT_LEG,
    REF_CALL_SID,
    REF_CALLER,
    REF_CONFERENCE_SID,
    REF_CONSULT_ANSWERED,
    REF_CONSULT_CALL_SID,
    REF_CONSULT_LEG,
    REF_HELD,
    REF_OUTBOUND,
    REF_RECORDING_SID,
)
from adapters.twilio_voice.rest import TwilioCallError
from adapters.twilio_voice.state import VoiceState, conference_name, forbidden, mine, xml
from cti.domain import Interaction, InteractionState
from cti.errors import Conflict, NotFound
from cti.events import SupervisionChanged

log = logging.getLogger(__name__)


class AgentLegWebhooks:
    def __init__(self, state: VoiceState, conference: ConferenceControls, dialer: ClickToDial) -> None:
        self._state = state
        self._deps = state.deps  # fixed for the adapter's life, unlike the config
        # A consulted agent leaving ends the consult; a click-to-dial agent answering dials the customer.
        self._conference = conference
        self._dialer = dialer

    async def agent_status(self, request: web.Request) -> web.StreamResponse:
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        status = twiml.call_status(form)
        interaction_id = request.query.get("interaction", "")
        agent_id, leg = request.query.get("agent", ""), request.query.get("leg", "")
        if status is None or not interaction_id:
            return xml(twiml.empty())
        key = ("agent", status.call_sid, status.status)
        async with self._state.locks.hold(interaction_id):
            if key in self._state.seen:
                log.info("twilio duplicate agent callback call=%s status=%s", status.call_sid, status.status)
                return xml(twiml.empty())
            try:
                interaction = await self._deps.context.interaction(interaction_id)
            except NotFound:
                return xml(twiml.empty())
            await self._agent_call_changed(interaction, agent_id, leg, status)
            self._state.remember(key)
        return xml(twiml.empty())

    async def _agent_call_changed(self, interaction: Interaction, agent_id: str, leg: str,
                                  status: twiml.CallStatus) -> None:
        current = (bool(leg) and interaction.channel_refs.get(REF_AGENT_LEG) == leg
                   and interaction.agent_id == agent_id)
        log.info("twilio agent call=%s status=%s interaction=%s agent=%s current=%s state=%s",
                 status.call_sid, status.status, interaction.id, agent_id, current, interaction.state.value)
        if not current:
            return  # a leg given up (withdrawn, transferred): what it does now changes nothing
        interactions = self._deps.interactions
        ringing_sid = interaction.channel_refs.get(REF_AGENT_CALL_SID)
        if status.status in twiml.ENDED and ringing_sid == status.call_sid:
            # Ended by itself: nothing left for ``_stop_ringing`` to cancel.
            await interactions.update_refs(interaction.id, refs={REF_AGENT_CALL_SID: ""})
        state = interaction.state
        if status.status == "ringing" and state is InteractionState.OFFERED:
            await self._state.call_updated(interaction.id, agent_id, "ringing-agent",
                                           {"call_sid": status.call_sid})
        elif status.status == "in-progress" and state is InteractionState.OFFERED:
            try:
                await interactions.accept(interaction.id, agent_id)
            except Conflict:  # the offer expired a moment before: the agent's leg is not wanted
                with contextlib.suppress(TwilioCallError):
                    await self._state.require_calls().update(status.call_sid, status="completed")
                return
            # The agent is in the conference: the caller leaves the Twilio queue to join them.
            try:
                await self._state.require_calls().update(
                    interaction.channel_refs[REF_CALL_SID],
                    twiml=twiml.connect_caller(self._state.config, conference_name(interaction)))
            except TwilioCallError as exc:  # the agent can still hang up or transfer it back
                log.warning("twilio: cannot move the caller into the conference interaction=%s why=%s",
                            interaction.id, exc.why)
        elif (status.status == "in-progress" and state is InteractionState.ACTIVE
              and interaction.channel_refs.get(REF_OUTBOUND)
              and not interaction.channel_refs.get(REF_CALL_SID)):
            await self._dialer.dial_customer(interaction, agent_id)
        elif status.status in twiml.UNANSWERED and state is InteractionState.OFFERED:
            with contextlib.suppress(Conflict, NotFound):
                await interactions.reject(interaction.id, agent_id, why="no-answer")
        elif status.status in twiml.UNANSWERED and state is InteractionState.ACTIVE \
                and interaction.channel_refs.get(REF_OUTBOUND):
            await interactions.call_ended(interaction.id, why="agent-not-reached")
        elif status.status == "completed" and state is InteractionState.ACTIVE:
            await interactions.call_ended(interaction.id, why="call-ended")

    async def recording(self, request: web.Request) -> web.StreamResponse:
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        sid, url = form.get("RecordingSid", ""), form.get("RecordingUrl", "")
        if form.get("RecordingStatus", "").lower() != "completed" or not sid or not url:
            return xml(twiml.empty())
        interaction = await self._state.interaction_of(request.query.get("interaction"),
                                                       form.get("CallSid", ""))
        key = ("recording", sid, "completed")
        if interaction is None or key in self._state.seen:
            return xml(twiml.empty())
        context = {"voice.recording": url, "voice.recording_sid": sid}
        if form.get("RecordingDuration", "").isdigit():
            context["voice.recording_seconds"] = form["RecordingDuration"]
        refs = {REF_RECORDING_SID: ""} if interaction.channel_refs.get(REF_RECORDING_SID) == sid else None
        await self._deps.interactions.update_refs(interaction.id, refs=refs, context=context)
        await self._state.call_updated(interaction.id, interaction.agent_id, "recording-ready",
                                       {"url": url, "recording_sid": sid})
        self._state.remember(key)
        return xml(twiml.empty())

    async def conference_status(self, request: web.Request) -> web.StreamResponse:
        """The call's conference: its SID (needed to hold, add or coach participants), and a
        consulted agent who leaves it."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        event = twiml.conference_event(form)
        interaction_id = request.query.get("interaction", "")
        if event is None or not interaction_id:
            return xml(twiml.empty())
        key = ("conference", event.conference_sid, f"{event.sequence}:{event.event}:{event.call_sid}")
        async with self._state.locks.hold(interaction_id):
            if key in self._state.seen:
                return xml(twiml.empty())
            try:
                interaction = await self._deps.context.interaction(interaction_id)
            except NotFound:
                return xml(twiml.empty())
            if not mine(interaction):
                return xml(twiml.empty())
            refs = interaction.channel_refs
            log.info("twilio conference=%s event=%s call=%s interaction=%s", event.conference_sid,
                     event.event, event.call_sid, interaction.id)
            caller_joined = event.event == "participant-join" and event.call_sid == refs.get(REF_CALL_SID)
            if event.event != "conference-end" and refs.get(REF_CONFERENCE_SID) != event.conference_sid and (
                    caller_joined or not refs.get(REF_CONFERENCE_SID)):
                await self._deps.interactions.update_refs(interaction.id,
                                                         refs={REF_CONFERENCE_SID: event.conference_sid})
            elif event.event == "conference-end" and refs.get(REF_CONFERENCE_SID) == event.conference_sid:
                # A later conference of the same name (after a transfer) is another one.
                await self._deps.interactions.update_refs(interaction.id, refs={REF_CONFERENCE_SID: "",
                                                                               REF_HELD: ""})
            if (event.event == "participant-leave" and event.call_sid
                    and event.call_sid == refs.get(REF_CONSULT_CALL_SID)):
                await self._conference.end_consult(interaction, "target-left")
            self._state.remember(key)
        return xml(twiml.empty())

    async def participant_status(self, request: web.Request) -> web.StreamResponse:
        """Call progress of a participant we added: a consulted agent, a supervisor, or the
        customer of a click-to-dial call."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        status = twiml.call_status(form)
        query = request.query
        interaction_id, role, leg = query.get("interaction", ""), query.get("role", ""), query.get("leg", "")
        if status is None or not interaction_id:
            return xml(twiml.empty())
        key = ("participant", status.call_sid, status.status)
        async with self._state.locks.hold(interaction_id):
            if key in self._state.seen:
                log.info("twilio duplicate participant callback call=%s status=%s", status.call_sid,
                         status.status)
                return xml(twiml.empty())
            try:
                interaction = await self._deps.context.interaction(interaction_id)
            except NotFound:
                return xml(twiml.empty())
            if mine(interaction):
                await self._participant_changed(interaction, role, leg, query, status)
            self._state.remember(key)
        return xml(twiml.empty())

    async def _participant_changed(self, interaction: Interaction, role: str, leg: str,
                                   query: Mapping[str, str], status: twiml.CallStatus) -> None:
        refs = interaction.channel_refs
        agent_id = query.get("agent", "")
        if leg and leg == refs.get(REF_AGENT_LEG):
            # A consulted agent the call was handed to: their leg is now the agent's leg.
            await self._agent_call_changed(interaction, agent_id, leg, status)
        elif role == "consult" and leg and leg == refs.get(REF_CONSULT_LEG):
            if status.status == "in-progress" and not refs.get(REF_CONSULT_ANSWERED):
                await self._deps.interactions.update_refs(interaction.id, refs={REF_CONSULT_ANSWERED: "1"})
                for who, other in ((interaction.agent_id, {"to_agent": agent_id}),
                                   (agent_id, {"from_agent": interaction.agent_id})):
                    await self._state.call_updated(interaction.id, who, "consult-answered", other)
            elif status.status in twiml.ENDED:
                await self._conference.end_consult(
                    interaction, "no-answer" if status.status in twiml.UNANSWERED else "target-left")
        elif role in MONITOR_MODES:
            supervisor = query.get("supervisor", "")
            active = {"in-progress": True, **dict.fromkeys(twiml.ENDED, False)}.get(status.status)
            if active is not None and supervisor and agent_id:
                await self._deps.hub.publish(SupervisionChanged(
                    at=self._deps.clock.now(), supervisor_id=supervisor, agent_id=agent_id, mode=role,
                    active=active, interaction_id=interaction.id))
        elif role == "customer" and status.call_sid == refs.get(REF_CALL_SID) \
                and interaction.state is InteractionState.ACTIVE:
            if status.status == "in-progress":
                await self._state.call_updated(interaction.id, interaction.agent_id, "customer-answered",
                                               {"number": refs.get(REF_CALLER, "")})
            elif status.status in twiml.ENDED:
                why = "customer-not-reached" if status.status in twiml.UNANSWERED else "call-ended"
                await self._deps.interactions.call_ended(interaction.id, why=why)
                if status.status in twiml.UNANSWERED:  # the agent waits alone in the conference
                    await self._state.hang_up_quietly(refs.get(REF_AGENT_CALL_SID))
