"""The Asterisk bridge: call facts in, interaction steps and AMI actions out.

Inbound: the link delivers AMI events; the tracker folds them into signals (``signals.py``);
this module turns each signal into a step of the interaction service (a caller waiting becomes a
queued voice interaction, a caller bridged with the offered agent is an accept, a caller hanging
up is an abandon or the end of the call). Outbound: offers of voice interactions become an
``Originate`` to the agent's phone; call control from the desktop (``control.py``) becomes AMI
actions. Fallback-queue calls (``fallback.py``), transfers and consults (``transfers.py``), phone
states (``devices.py``) and the clean stop (``shutdown.py``) have modules of their own. After
every (re)connect the bridge rebuilds the tracker from Asterisk's own picture
(``CoreShowChannels``, ``BridgeList``/``BridgeInfo``, the callers' ``CTI_*`` variables) before it
trusts events, and reconciles the open voice interactions with what is live, so a call waiting or
talking across a reconnect stays the same interaction.

A voice interaction's channel references: ``asterisk_uniqueid`` (the caller's channel, which
keeps its Uniqueid for the whole call, transfers included), ``asterisk_channel`` (its name, for
actions), ``asterisk_linkedid``, and ``asterisk_agent_channel`` (the agent leg it is bridged with).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from cti.agents import AgentService
from cti.ami import signals as sig
from cti.ami.channels import device_of
from cti.ami.control import (
    ENDPOINT,
    EXTENSION,
    REF_AGENT_CHANNEL,
    REF_CHANNEL,
    REF_LINKEDID,
    REF_UNIQUEID,
    RELAYED,
    AmiActions,
    CallControl,
    Ringing,
    Spy,
)
from cti.ami.devices import PhoneStates
from cti.ami.fallback import FallbackCalls, caller_context, caller_identities, waits_in_fallback
from cti.ami.frames import AmiMessage
from cti.ami.relay import CommandRelay
from cti.ami.shutdown import fallback_redirect, held_callers
from cti.ami.tracker import CallTracker
from cti.ami.transfers import TRANSFER_RULE, Transfers
from cti.clock import Clock
from cti.config import AmiConfig, AppConfig
from cti.domain import (
    AgentState,
    Channel,
    Direction,
    Identity,
    IdentityKind,
    Interaction,
    InteractionState,
    Role,
)
from cti.errors import Conflict, CtiError, InvalidInput, NotFound
from cti.events import (
    AgentStateChanged,
    DomainEvent,
    InteractionAbandoned,
    InteractionOffered,
    OfferWithdrawn,
    SupervisionChanged,
    VoiceLinkChanged,
    offered_on,
)
from cti.hours import closed_variable, queue_open
from cti.hub import EventHub
from cti.identities import normalise_phone
from cti.lifecycle import OPEN_STATES
from cti.live_config import LiveConfig, as_live
from cti.ports import ContextStore
from cti.routing import RoutingStore
from cti.service import InteractionService
from cti.surveys import SurveyAnswers
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

WAITING = frozenset({InteractionState.QUEUED, InteractionState.OFFERED})
CTI_VARIABLES = ("CTI_ACCOUNT", "CTI_REASON", "CTI_QUEUE")


class AmiBridge(CallControl):
    def __init__(self, *, ami: AmiConfig, config: AppConfig | LiveConfig, interactions: InteractionService,
                 agents: AgentService, context: ContextStore, routing: RoutingStore, hub: EventHub,
                 clock: Clock, surveys: SurveyAnswers | None = None) -> None:
        self._ami = ami
        self._surveys = surveys  # where a caller's post-call rating goes (dial plan cti-survey)
        self._live = as_live(config)
        self._interactions = interactions
        self._agents = agents
        self._context = context
        self._routing = routing
        self._hub = hub
        self._clock = clock
        self.tracker = CallTracker(hold_context=ami.hold_context)
        self._devices: dict[str, str] = {}
        self._index_devices(self._live.current)
        self._live.watch(self._follow)
        self._link: AmiActions | None = None
        self._relay: CommandRelay | None = None
        self._ringing: dict[str, Ringing] = {}  # agent device -> originate in progress
        self._spies: dict[str, Spy] = {}  # supervisor device -> supervision in progress
        self._dialing: dict[str, str] = {}  # agent device -> click-to-dial interaction, until it rings
        self._phones = PhoneStates()  # agents whose phone cannot take a call now
        current = self._live.current
        self._transfers = Transfers(interactions=interactions, hub=hub, clock=clock, agents_by_exten={
            p.endpoints[EXTENSION]: p.id for p in current.agents.values() if p.endpoints.get(EXTENSION)})
        self._lock = asyncio.Lock()  # one signal at a time: the tracker's order is the truth
        self._default_queue = ami.default_queue or current.chat.queue
        self._fallback = FallbackCalls(interactions=interactions, region=current.phone_region,
                                       queue=self._default_queue, refs={
                                           "uniqueid": REF_UNIQUEID, "channel": REF_CHANNEL,
                                           "linkedid": REF_LINKEDID, "agent_channel": REF_AGENT_CHANNEL})
        self._tasks: list[asyncio.Task[None]] = []

    # ----- wiring --------------------------------------------------------------------------

    def attach(self, link: AmiActions) -> None:
        self._link = link

    def attach_relay(self, relay: CommandRelay) -> None:
        """Several nodes: call control on a node without the link is run by the node with it."""
        self._relay = relay

    async def serve_command(self, method: str, args: Mapping[str, Any]) -> Any:
        """Run a call-control command another node relayed here (``relay.py``)."""
        if method not in RELAYED:
            raise InvalidInput("unknown-command", f"no call-control command {method!r}")
        result = await getattr(self, method)(**args)
        return {"id": result.id} if isinstance(result, Interaction) else None

    async def start(self) -> None:
        sub = self._hub.subscribe(maxsize=10_000, wants=lambda e: offered_on(e, "voice") or isinstance(
            e, OfferWithdrawn | InteractionAbandoned | AgentStateChanged))
        self._tasks.append(asyncio.create_task(self._watch_hub(sub), name="ami-hub"))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="ami-heartbeat"))

    async def going_offline(self) -> None:
        """A clean stop: tell the dial plan first, so new callers go straight to the fallback
        queue, then send the callers still waiting for us there too (``shutdown.py``)."""
        await self._set_online(False)
        if not self.connected:
            return
        async with self._lock:
            waiting = held_callers(self.tracker.callers(), hold_context=self._ami.hold_context)
        for caller in waiting:
            redirect = fallback_redirect(caller, hold_context=self._ami.hold_context)
            try:
                await self._require_link().send(redirect)
            except CtiError as exc:  # gone meanwhile, or the link dropped: the others still go
                log.warning("stop: caller not sent to the fallback queue channel=%s: %s", caller.name, exc)
        log.info("stop: callers sent to the fallback queue=%d", len(waiting))

    async def aclose(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks.clear()

    # ----- link callbacks ------------------------------------------------------------------

    async def on_connected(self) -> None:
        """Rebuild the picture from Asterisk, reconcile the open calls, then announce we are up."""
        link = self._require_link()
        channels = await link.send_list({"Action": "CoreShowChannels"})
        bridges: dict[str, list[AmiMessage]] = {}
        for item in await link.send_list({"Action": "BridgeList"}):
            bridge_id = item.get("BridgeUniqueid")
            if bridge_id:
                bridges[bridge_id] = await link.send_list({"Action": "BridgeInfo",
                                                           "BridgeUniqueid": bridge_id})
        # Status adds what CoreShowChannels lacks (the DNID a caller dialled).
        with contextlib.suppress(CtiError):
            channels = [*channels, *await link.send_list({"Action": "Status"})]
        devices = []
        with contextlib.suppress(CtiError):
            devices = await link.send_list({"Action": "DeviceStateList"})
        variables: dict[str, dict[str, str]] = {}
        for ch in channels:
            name = ch.get("Channel") or ""
            if ch.get("Context") != self._ami.hold_context or not name or name in variables:
                continue
            values: dict[str, str] = {}
            for var in CTI_VARIABLES:
                with contextlib.suppress(CtiError):
                    reply = await link.send({"Action": "Getvar", "Channel": name, "Variable": var})
                    if reply.get("Value"):
                        values[var] = reply.get("Value") or ""
            variables[name] = values
        async with self._lock:
            self._ringing.clear()
            snapshot = self.tracker.load_snapshot(channels, bridges, variables)
            for signal in snapshot:
                await self._handle(signal)
            for item in devices:
                for signal in self.tracker.feed(item):
                    await self._handle(signal)
            await self._reconcile()
        await self._set_online(True)
        await self._hub.publish(VoiceLinkChanged(at=self._clock.now(), connected=True, why="connected"))
        await self._pause_all_by_state()
        log.info("ami resynced channels=%d bridges=%d callers=%d", len(channels), len(bridges),
                 sum(1 for s in snapshot if isinstance(s, sig.CallerWaiting | sig.Connected)))

    async def on_disconnected(self, why: str) -> None:
        async with self._lock:
            for signal in self.tracker.reset(why, None):
                await self._handle(signal)
            self._ringing.clear()
        await self._hub.publish(VoiceLinkChanged(at=self._clock.now(), connected=False, why=why))

    async def on_event(self, msg: AmiMessage) -> None:
        async with self._lock:
            if msg.event == "OriginateResponse":
                await self._originate_response(msg)
            try:
                signals = self.tracker.feed(msg)
            except Exception:  # the tracker is pure and should not raise; one bad event must not stop calls
                log.exception("tracker failed on event=%s", msg.event)
                return
            for signal in signals:
                try:
                    await self._handle(signal)
                except CtiError as exc:
                    log.warning("ami signal %s refused: %s %s", type(signal).__name__, exc.error_id, exc)

    # ----- signals -------------------------------------------------------------------------

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

    async def _reconcile(self) -> None:
        """Open voice interactions whose caller is not live any more ended while we were away."""
        live = {c.uniqueid for c in self.tracker.callers()}
        for interaction in await self._context.list_interactions(open_only=True, limit=10_000):
            uniqueid = interaction.channel_refs.get(REF_UNIQUEID)
            if interaction.channel is not Channel.VOICE or not uniqueid or uniqueid in live:
                continue
            if interaction.direction.value == "outbound" and self.tracker.channel(uniqueid) is not None:
                continue
            if interaction.state in WAITING:
                await self._interactions.customer_left(interaction.id)
            elif interaction.state is InteractionState.ACTIVE:
                await self._interactions.call_ended(interaction.id, why="ended-while-disconnected")

    # ----- hub: offers, transfers, agent states --------------------------------------------

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

    # ----- call control (desktop API) ------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"connected": self.connected, "callers": len(self.tracker.callers()),
                "ringing": {d: r.agent_id for d, r in self._ringing.items()},
                "unreachable_agents": self._phones.agents("unreachable"),
                "busy_agents": self._phones.agents("busy")}

    # ----- helpers -------------------------------------------------------------------------

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

    @property
    def _config(self) -> AppConfig:
        return self._live.current  # read at each use: an admin's change counts at once

    def _index_devices(self, config: AppConfig) -> None:
        """Which phone is whose: an admin may add agents or change their phones while calls run."""
        self._devices = {p.endpoints[ENDPOINT]: p.id for p in config.agents.values()
                         if p.endpoints.get(ENDPOINT) and p.role is not Role.ADMIN}
        agents = [d for d, a in self._devices.items() if config.agents[a].role is Role.AGENT]
        self.tracker.agent_devices = frozenset(agents or self._devices)
        self.tracker.spy_devices = frozenset(p.endpoints[ENDPOINT] for p in config.agents.values()
                                             if p.endpoints.get(ENDPOINT) and p.role is not Role.AGENT)

    async def _follow(self, old: AppConfig, new: AppConfig) -> None:
        self._index_devices(new)
        self._transfers.use_extensions({p.endpoints[EXTENSION]: p.id for p in new.agents.values()
                                        if p.endpoints.get(EXTENSION)})
        await self.publish_hours()

    async def publish_hours(self) -> None:
        """The dial plan plays the closed message to callers of a queue whose global
        CTI_CLOSED_<queue> is 1 (asterisk-config/extensions.conf); set at each heartbeat and change."""
        if not self.connected:
            return
        link = self._require_link()
        config, now = self._config, self._clock.now()
        with contextlib.suppress(CtiError):
            for name in config.queues:
                await link.send({"Action": "Setvar", "Variable": closed_variable(name),
                                 "Value": "0" if queue_open(config, name, now) else "1"})

    async def _set_online(self, online: bool) -> None:
        """The dial plan checks these globals before holding a caller for us (asterisk-config/).

        The heartbeat is Asterisk's own time (a Ping's Timestamp), so the dial plan's age check
        does not depend on the two machines' clocks agreeing.
        """
        if not self.connected:
            return
        link = self._require_link()
        with contextlib.suppress(CtiError):
            pong = await link.send({"Action": "Ping"})
            stamp = (pong.get("Timestamp") or "").split(".")[0]
            await link.send({"Action": "Setvar", "Variable": "CTI_ONLINE", "Value": "1" if online else "0"})
            await link.send({"Action": "Setvar", "Variable": "CTI_HEARTBEAT",
                             "Value": stamp if stamp.isdigit() else str(int(self._clock.now()))})
        if online:
            await self.publish_hours()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._ami.heartbeat_seconds)
            await self._set_online(True)

