"""The bridge's reactions to call signals: each fact the tracker reports becomes a step of an
interaction.

A caller waiting becomes a queued voice interaction, a caller bridged with the offered agent is
an accept, a caller hanging up is an abandon or the end of the call; agent legs, holds,
recordings, supervision, phone states, transfers, fallback-queue calls and survey answers are
followed too. ``_handle`` takes one ``cti.ami.signals`` signal, under the bridge's lock; an
``OriginateResponse`` (the one event handled without the tracker) is ``_originate_response``'s.
The attributes are ``AmiBridge``'s (``bridge.py``).
"""

from __future__ import annotations

import contextlib
import logging

from cti.ami import signals as sig
from cti.ami.channels import device_of
from cti.ami.control import REF_AGENT_CHANNEL, REF_CHANNEL, REF_LINKEDID, REF_UNIQUEID
from cti.ami.devices import PhoneStates
from cti.ami.fallback import FallbackCalls, caller_context, caller_identities, waits_in_fallback
from cti.ami.frames import AmiMessage
from cti.ami.hub_reactions import HubReactions
from cti.ami.tracker import CallTracker
from cti.domain import Channel, Direction, Identity, IdentityKind, Interaction, InteractionState
from cti.errors import Conflict, InvalidInput, NotFound
from cti.events import SupervisionChanged
from cti.identities import normalise_phone
from cti.lifecycle import OPEN_STATES
from cti.surveys import SurveyAnswers

__all__ = ["WAITING", "SignalReactions"]

# Under the bridge's name: operators follow the bridge in one logger, whichever part acts.
log = logging.getLogger("cti.ami.bridge")

WAITING = frozenset({InteractionState.QUEUED, InteractionState.OFFERED})


class SignalReactions(HubReactions):
    """What each call signal means for the interactions, the rings and the supervisions."""

    tracker: CallTracker
    _phones: PhoneStates  # agents whose phone cannot take a call now
    _fallback: FallbackCalls
    _surveys: SurveyAnswers | None  # where a caller's post-call rating goes (dial plan cti-survey)
    _default_queue: str

    async def _handle(self, signal: sig.Signal) -> None:
        if isinstance(signal, sig.CallerWaiting):
            await self._caller_waiting(signal)
        elif isinstance(signal, sig.Connected):
            await self._connected(signal)
        elif isinstance(signal, sig.OutboundConnected):
            outbound = await self._context.find_interaction_by_ref(REF_UNIQUEID, signal.agent_uniqueid)
            if outbound is not None and outbound.state is InteractionState.ACTIVE:
                await self._call_updated(outbound.id, outbound.agent_id, "customer-answered",
                                         {"number": signal.party_num})
        elif isinstance(signal, sig.HungUp):
            await self._hung_up(signal)
        elif isinstance(signal, sig.AgentLegCreated):
            if await self._transfer_leg(signal):
                return
            dialing = self._dialing.pop(signal.device, None)
            if dialing is not None:
                await self._interactions.update_refs(dialing, refs={
                    REF_UNIQUEID: signal.uniqueid, REF_AGENT_CHANNEL: signal.channel})
                return
            ringing = self._ringing.get(signal.device)
            if ringing is not None and ringing.channel is None:
                ringing.channel = signal.channel
                await self._call_updated(ringing.interaction_id, ringing.agent_id, "ringing-agent",
                                         {"channel": signal.channel})
        elif isinstance(signal, sig.HoldChanged):
            interaction = await self._by_any_channel(signal.uniqueid, signal.channel)
            if interaction is not None:
                await self._call_updated(interaction.id, interaction.agent_id,
                                         "held" if signal.on_hold else "resumed", {"by": signal.channel})
        elif isinstance(signal, sig.RecordingChanged):
            await self._recording_changed(signal)
        elif isinstance(signal, sig.SpyChanged):
            await self._spy_changed(signal)
        elif isinstance(signal, sig.CallerFallback):
            interaction = await self._by_caller(signal.uniqueid)
            if interaction is not None and interaction.state not in WAITING:
                return  # not waiting for us any more: nothing of ours to hand over
            if interaction is not None:
                # app_queue rings the agents now (we were away or too slow): not ours to ring.
                await self._stop_ringing(interaction.id)
            moved = await self._fallback.arrived(signal, interaction, self.tracker.channel(signal.uniqueid))
            await self._call_updated(moved.id, None, "fallback", {"queue": signal.queue, "why": signal.why})
        elif isinstance(signal, sig.DeviceState):
            await self._device_state(signal)
        elif isinstance(signal, sig.SurveyStarted):
            await self._survey_started(signal)
        elif isinstance(signal, sig.SurveyAnswered):
            await self._survey_answered(signal)
        elif isinstance(signal, sig.Transferred):
            log.info("transfer kind=%s caller=%s target=%s success=%s", signal.kind,
                     signal.caller_uniqueid, signal.target, signal.success)
            await self._transferred(signal)

    async def _transfer_leg(self, s: sig.AgentLegCreated) -> bool:
        """A leg dialled for a call already there (it carries that call's Linkedid, where our own
        Originate's carries its own Uniqueid): a transfer's target ringing, or a member rung by
        the fallback queue. True when it was such a leg: it is never our Originate's."""
        if not s.linkedid or s.linkedid == s.uniqueid:
            return False
        call = await self._context.find_interaction_by_ref(REF_LINKEDID, s.linkedid)
        agent_id = self._devices.get(s.device)
        if call is not None and agent_id is not None and call.state is InteractionState.ACTIVE \
                and call.agent_id != agent_id:
            await self._transfers.target_ringing(call, agent_id)
        return True

    async def _transferred(self, s: sig.Transferred) -> None:
        interaction = await self._by_caller(s.caller_uniqueid)
        if interaction is None or interaction.state is not InteractionState.ACTIVE:
            return
        if s.kind == "attended":
            await self._transfers.consult_ended(interaction.id, "completed" if s.success else "failed")
            return
        exten, _, context = s.target.partition("@")
        if s.success and context == self._ami.agents_context:
            await self._transfers.made_on_phone(interaction, exten)

    async def _caller_waiting(self, s: sig.CallerWaiting) -> None:
        existing = await self._by_caller(s.uniqueid)
        if existing is not None and existing.state in OPEN_STATES:
            if s.requeued and existing.state is InteractionState.ACTIVE and existing.agent_id:
                # Transferred to a queue from the phone rather than from the desktop.
                queue = s.queue if s.queue in self._config.queues else existing.queue
                await self._transfers.not_answered(existing.id, "no-answer")
                await self._interactions.transfer(existing.id, existing.agent_id, to_queue=queue,
                                                  to_agent=None, note=None)
                self._transfers.requeued_by_phone[existing.id] = (existing.agent_id, queue)
            return
        queue = s.queue if s.queue in self._config.queues else self._default_queue
        identities = caller_identities(s.caller_num, s.uniqueid, region=self._config.phone_region)
        name = s.caller_name if s.caller_name and s.caller_name != s.caller_num else None
        context = caller_context(s.context, s.did)
        interaction = await self._interactions.start_inbound(
            channel=Channel.VOICE, identities=identities, display_name=name, queue=queue,
            context=context, channel_refs={REF_UNIQUEID: s.uniqueid, REF_CHANNEL: s.channel,
                                           REF_LINKEDID: s.linkedid})
        log.info("caller queued uniqueid=%s interaction=%s resynced=%s", s.uniqueid, interaction.id,
                 s.resynced)

    async def _connected(self, s: sig.Connected) -> None:
        self._ringing.pop(s.device, None)
        interaction = await self._by_caller(s.caller_uniqueid)
        if interaction is not None:
            self._transfers.requeued_by_phone.pop(interaction.id, None)
        agent_id = self._devices.get(s.device)
        if interaction is None and agent_id is not None and s.resynced:
            await self._adopt(s, agent_id)
            return
        if interaction is None or agent_id is None or interaction.state not in OPEN_STATES:
            log.info("bridge without an open interaction or a known agent caller=%s device=%s",
                     s.caller_uniqueid, s.device)
            return
        if interaction.state is InteractionState.QUEUED and waits_in_fallback(interaction):
            await self._fallback.answered(interaction, agent_id, s.agent_channel)
            return
        interaction = await self._interactions.update_refs(interaction.id,
                                                           refs={REF_AGENT_CHANNEL: s.agent_channel})
        if interaction.state is InteractionState.OFFERED and interaction.agent_id == agent_id:
            await self._interactions.accept(interaction.id, agent_id)
        elif interaction.state is InteractionState.ACTIVE and interaction.agent_id != agent_id:
            await self._transfers.answered(interaction, agent_id)
        elif interaction.state is not InteractionState.ACTIVE:
            log.warning("agent %s talks to caller %s but the interaction is %s", agent_id,
                        s.caller_uniqueid, interaction.state.value)

    async def _adopt(self, s: sig.Connected, agent_id: str) -> None:
        """A call found talking at a resync that no interaction records (we were down when it
        started): it becomes the agent's active interaction, so its end and wrap-up are seen."""
        caller = self.tracker.channel(s.caller_uniqueid)
        number = caller.caller_num if caller is not None else ""
        identities = [Identity(IdentityKind.CALL, s.caller_uniqueid)]
        with contextlib.suppress(InvalidInput):
            identities = [Identity(IdentityKind.PHONE, normalise_phone(
                number, region=self._config.phone_region))]
        context = {f"ivr.{k}": v for k, v in (caller.ivr.items() if caller is not None else ()) if v}
        interaction, _ = await self._interactions.start_active(
            channel=Channel.VOICE, agent_id=agent_id, identities=identities, display_name=None,
            direction=Direction.INBOUND, context=context, channel_refs={
                REF_UNIQUEID: s.caller_uniqueid, REF_CHANNEL: s.caller_channel,
                REF_LINKEDID: caller.linkedid if caller is not None else s.caller_uniqueid,
                REF_AGENT_CHANNEL: s.agent_channel})
        log.info("adopted a call found talking uniqueid=%s agent=%s interaction=%s",
                 s.caller_uniqueid, agent_id, interaction.id)

    async def _hung_up(self, s: sig.HungUp) -> None:
        if s.role == "caller":
            interaction = await self._by_caller(s.uniqueid)
            if interaction is not None:
                await self._transfers.caller_gone(interaction.id)
            if interaction is None or interaction.state not in OPEN_STATES:
                return
            for device, ringing in list(self._ringing.items()):
                if ringing.interaction_id == interaction.id:
                    await self._hangup_quietly(ringing.channel)
                    del self._ringing[device]
            if interaction.state in WAITING or (interaction.state is InteractionState.ACTIVE and s.by_party):
                await self._interactions.customer_left(interaction.id)
            elif interaction.state is InteractionState.ACTIVE:
                await self._interactions.call_ended(interaction.id, why="agent-hung-up")
        elif s.role == "agent":
            await self._transfers.leg_gone(s.channel, device_of(s.channel))
            # A click-to-dial call is the agent leg's own interaction.
            outbound = await self._context.find_interaction_by_ref(REF_UNIQUEID, s.uniqueid)
            if outbound is not None and outbound.state is InteractionState.ACTIVE:
                await self._interactions.call_ended(outbound.id, why="call-ended")
        elif s.role == "spy":
            spy = self._spies.pop(device_of(s.channel), None)
            if spy is not None:
                await self._hub.publish(SupervisionChanged(
                    at=self._clock.now(), supervisor_id=spy.supervisor_id, agent_id=spy.agent_id,
                    mode=spy.mode, active=False, interaction_id=spy.interaction_id))

    async def _originate_response(self, msg: AmiMessage) -> None:
        device = device_of(msg.get("Channel") or "")
        if msg.get("Response") == "Success":
            return
        dialing = self._dialing.pop(device, None)
        if dialing is not None:  # the agent's own phone never answered their click-to-dial
            await self._interactions.call_ended(dialing, why="agent-not-reached")
        ringing = self._ringing.get(device)
        if ringing is None:
            return
        del self._ringing[device]
        log.info("agent did not answer agent=%s interaction=%s reason=%s", ringing.agent_id,
                 ringing.interaction_id, msg.get("Reason"))
        # "no-answer" is a missed offer: the core sets the agent away (as app_queue's autopause),
        # as for a chat that times out. If the offer timed out already, that did it.
        with contextlib.suppress(NotFound, Conflict):
            await self._interactions.reject(ringing.interaction_id, ringing.agent_id, why="no-answer")

    async def _recording_changed(self, s: sig.RecordingChanged) -> None:
        interaction = await self._by_any_channel(s.uniqueid, s.channel)
        if interaction is None:
            return
        what = {"started": "recording-started", "muted": "recording-paused",
                "unmuted": "recording-resumed", "stopped": "recording-stopped"}.get(s.state)
        if what is None:
            return
        if s.state == "started" and s.mixmonitor_id:
            await self._interactions.update_refs(interaction.id,
                                                 refs={"asterisk_mixmonitor": s.mixmonitor_id})
        await self._call_updated(interaction.id, interaction.agent_id, what, {})

    async def _spy_changed(self, s: sig.SpyChanged) -> None:
        device = device_of(s.spyer_channel)
        spy = self._spies.get(device)
        if spy is None:
            return
        if not s.active:
            # The session is over: the spy's Hangup that follows ChanSpyStop must not end it again.
            del self._spies[device]
        await self._hub.publish(SupervisionChanged(
            at=self._clock.now(), supervisor_id=spy.supervisor_id, agent_id=spy.agent_id,
            mode=spy.mode, active=s.active, interaction_id=spy.interaction_id))

    async def _device_state(self, s: sig.DeviceState) -> None:
        agent_id = self._devices.get(s.device)
        if agent_id is None or not self._phones.update(agent_id, s.state):
            return
        profile = self._config.agents[agent_id]
        capacity = dict(profile.capacity)
        why = self._phones.blocked(agent_id)
        if why is not None:
            # Chat and e-mail go on; calls wait until the phone is free (devices.py).
            capacity.pop(Channel.VOICE, None)
        await self._routing.register_agent(agent_id, skills=profile.skills, capacity=capacity,
                                           now=self._clock.now())
        log.info("agent phone %s agent=%s device=%s state=%s", why or "free", agent_id, s.device, s.state)

    async def _survey_started(self, s: sig.SurveyStarted) -> None:
        """The caller went on to the survey: the agent hung up, so the call's talk is over now,
        not when the caller hangs up after rating (the agent is free meanwhile)."""
        interaction = await self._by_caller(s.uniqueid)
        if interaction is not None and interaction.state is InteractionState.ACTIVE:
            await self._interactions.call_ended(interaction.id, why="agent-hung-up")

    async def _survey_answered(self, s: sig.SurveyAnswered) -> None:
        """The rating the caller keyed after the call, on the call's interaction (a refused one,
        a second answer or a bad key, is logged by the caller of ``_handle``)."""
        interaction = await self._by_caller(s.uniqueid)
        if interaction is None or self._surveys is None:
            log.warning("survey answer of an unknown call uniqueid=%s", s.uniqueid)
            return
        if interaction.state is InteractionState.ACTIVE:
            # The dial plan asks only once the agent hung up; the caller's own hang-up, which ends
            # the call otherwise, comes after the survey.
            await self._interactions.call_ended(interaction.id, why="agent-hung-up")
        await self._surveys.answer(interaction.id, s.rating, None, via="dtmf")

    async def _by_caller(self, uniqueid: str) -> Interaction | None:
        return await self._context.find_interaction_by_ref(REF_UNIQUEID, uniqueid)

    async def _by_any_channel(self, uniqueid: str, channel: str) -> Interaction | None:
        found = await self._by_caller(uniqueid)
        if found is None:
            found = await self._context.find_interaction_by_ref(REF_AGENT_CHANNEL, channel)
        return found
