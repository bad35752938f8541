"""The Asterisk bridge: call facts in, interaction steps and AMI actions out.

Inbound: the link delivers AMI events; the tracker folds them into signals (``signals.py``);
this module turns each signal into a step of the interaction service (a caller waiting becomes a
queued voice interaction, a caller bridged with the offered agent is an accept, a caller hanging
up is an abandon or the end of the call). Outbound: offers of voice interactions become an
``Originate`` to the agent's phone, transfers and call control from the desktop become AMI
actions. After every (re)connect the bridge rebuilds the tracker from Asterisk's own picture
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cti.agents import AgentService
from cti.ami import signals as sig
from cti.ami.frames import AmiMessage
from cti.ami.relay import CommandRelay
from cti.ami.tracker import CallTracker, device_of
from cti.calls import owned_live_call
from cti.clock import Clock
from cti.config import AmiConfig, AppConfig
from cti.domain import (
    AgentState,
    Channel,
    Direction,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Role,
)
from cti.errors import Conflict, CtiError, Forbidden, InvalidInput, NotFound, Unavailable
from cti.events import (
    AgentStateChanged,
    CallUpdated,
    DomainEvent,
    InteractionAbandoned,
    InteractionOffered,
    InteractionTransferred,
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
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

REF_UNIQUEID = "asterisk_uniqueid"
REF_CHANNEL = "asterisk_channel"
REF_LINKEDID = "asterisk_linkedid"
REF_AGENT_CHANNEL = "asterisk_agent_channel"
ENDPOINT = "pjsip"  # the agent profile's endpoints key holding the phone's device, e.g. PJSIP/agent1
EXTENSION = "exten"  # the agent's extension in the agents context, for consult transfers
SPY_OPTIONS = {"listen": "q", "whisper": "qw", "barge": "qB"}
RELAYED = frozenset({"hold", "hangup", "transfer", "consult", "cancel_consult", "complete_consult",
                     "recording", "dial", "monitor"})
UNREACHABLE = frozenset({"UNAVAILABLE", "INVALID", "UNKNOWN"})
WAITING = frozenset({InteractionState.QUEUED, InteractionState.OFFERED})
CTI_VARIABLES = ("CTI_ACCOUNT", "CTI_REASON", "CTI_QUEUE")


class AmiActions(Protocol):
    """What the bridge needs of the link (``cti.ami.link.AmiLink``)."""

    @property
    def connected(self) -> bool: ...
    async def send(self, action: Mapping[str, str | Sequence[str]]) -> AmiMessage: ...
    async def send_list(self, action: Mapping[str, str | Sequence[str]]) -> list[AmiMessage]: ...


@dataclass
class _Ringing:
    """An Originate to an agent's phone for an offer, until it is answered or given up."""

    interaction_id: str
    agent_id: str
    channel: str | None = None  # the agent leg, once Asterisk created it


@dataclass
class _Spy:
    supervisor_id: str
    agent_id: str
    mode: str
    interaction_id: str | None


class AmiBridge:
    def __init__(self, *, ami: AmiConfig, config: AppConfig | LiveConfig, interactions: InteractionService,
                 agents: AgentService, context: ContextStore, routing: RoutingStore, hub: EventHub,
                 clock: Clock) -> None:
        self._ami = ami
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
        self._ringing: dict[str, _Ringing] = {}  # agent device -> originate in progress
        self._spies: dict[str, _Spy] = {}  # supervisor device -> supervision in progress
        self._dialing: dict[str, str] = {}  # agent device -> click-to-dial interaction, until it rings
        self._unreachable: set[str] = set()  # agent ids whose phone is not registered
        self._lock = asyncio.Lock()  # one signal at a time: the tracker's order is the truth
        self._tasks: list[asyncio.Task[None]] = []

    # ----- wiring --------------------------------------------------------------------------

    def attach(self, link: AmiActions) -> None:
        self._link = link

    def attach_relay(self, relay: CommandRelay) -> None:
        """Several nodes: call control on a node without the link is run by the node with it."""
        self._relay = relay

    def handles(self, interaction: Interaction) -> bool:
        refs = interaction.channel_refs
        return bool(refs.get(REF_AGENT_CHANNEL) and refs.get(REF_CHANNEL))

    async def serve_command(self, method: str, args: Mapping[str, Any]) -> Any:
        """Run a call-control command another node relayed here (``relay.py``)."""
        if method not in RELAYED:
            raise InvalidInput("unknown-command", f"no call-control command {method!r}")
        result = await getattr(self, method)(**args)
        return {"id": result.id} if isinstance(result, Interaction) else None

    async def _relayed(self, method: str, **args: Any) -> Any:
        assert self._relay is not None
        result = await self._relay.call(method, args)
        if isinstance(result, Mapping) and "id" in result:
            return await self._context.interaction(str(result["id"]))
        return None

    def _elsewhere(self) -> bool:
        return not self.connected and self._relay is not None

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    async def start(self) -> None:
        sub = self._hub.subscribe(maxsize=10_000, wants=lambda e: offered_on(e, "voice") or isinstance(
            e, OfferWithdrawn | InteractionAbandoned | AgentStateChanged))
        self._tasks.append(asyncio.create_task(self._watch_hub(sub), name="ami-hub"))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="ami-heartbeat"))

    async def going_offline(self) -> None:
        """A clean stop: tell the dial plan first, so new callers go straight to the fallback queue."""
        await self._set_online(False)

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
            if interaction is not None and interaction.state in WAITING:
                # app_queue answers this caller now (we were away or too slow): out of our queue,
                # marked so, and what follows on this channel is app_queue's business.
                await self._stop_ringing(interaction.id)
                await self._interactions.update_refs(interaction.id, context={"voice.fallback": signal.queue})
                await self._call_updated(interaction.id, interaction.agent_id, "fallback",
                                         {"queue": signal.queue})
                await self._interactions.customer_left(interaction.id)
        elif isinstance(signal, sig.DeviceState):
            await self._device_state(signal)
        elif isinstance(signal, sig.Transferred):
            log.info("transfer kind=%s caller=%s target=%s success=%s", signal.kind,
                     signal.caller_uniqueid, signal.target, signal.success)

    async def _caller_waiting(self, s: sig.CallerWaiting) -> None:
        existing = await self._by_caller(s.uniqueid)
        if existing is not None and existing.state in OPEN_STATES:
            if s.requeued and existing.state is InteractionState.ACTIVE and existing.agent_id:
                # Transferred to a queue from the phone rather than from the desktop.
                queue = s.queue if s.queue in self._config.queues else existing.queue
                await self._interactions.transfer(existing.id, existing.agent_id, to_queue=queue,
                                                  to_agent=None, note=None)
            return
        queue = s.queue if s.queue in self._config.queues else (
            self._ami.default_queue or self._config.chat.queue)
        identities: list[InboundIdentity] = []
        try:
            phone = normalise_phone(s.caller_num, region=self._config.phone_region)
            # Caller ID as the network gives it: asserted (it finds the customer, never merges).
            identities.append(InboundIdentity(Identity(IdentityKind.PHONE, phone), IdentityLevel.ASSERTED,
                                              "caller-id"))
        except InvalidInput:
            log.info("caller without a usable number uniqueid=%s", s.uniqueid)
        if not identities:
            # An anonymous caller is still a customer: one per call.
            identities.append(InboundIdentity(Identity(IdentityKind.CALL, s.uniqueid), IdentityLevel.ASSERTED,
                                              "call"))
        name = s.caller_name if s.caller_name and s.caller_name != s.caller_num else None
        context = {f"ivr.{k}": v for k, v in s.context.items() if v}
        if s.did:
            context["voice.did"] = s.did
        interaction, _ = await self._interactions.start_inbound(
            channel=Channel.VOICE, identities=identities, display_name=name, queue=queue,
            context=context, channel_refs={REF_UNIQUEID: s.uniqueid, REF_CHANNEL: s.channel,
                                           REF_LINKEDID: s.linkedid})
        log.info("caller queued uniqueid=%s interaction=%s resynced=%s", s.uniqueid, interaction.id,
                 s.resynced)

    async def _connected(self, s: sig.Connected) -> None:
        self._ringing.pop(s.device, None)
        interaction = await self._by_caller(s.caller_uniqueid)
        agent_id = self._devices.get(s.device)
        if interaction is None and agent_id is not None and s.resynced:
            await self._adopt(s, agent_id)
            return
        if interaction is None or agent_id is None or interaction.state not in OPEN_STATES:
            log.info("bridge without an open interaction or a known agent caller=%s device=%s",
                     s.caller_uniqueid, s.device)
            return
        interaction = await self._interactions.update_refs(interaction.id,
                                                           refs={REF_AGENT_CHANNEL: s.agent_channel})
        if interaction.state is InteractionState.OFFERED and interaction.agent_id == agent_id:
            await self._interactions.accept(interaction.id, agent_id)
        elif interaction.state is InteractionState.ACTIVE and interaction.agent_id != agent_id:
            await self._interactions.reassign(interaction.id, agent_id, why="consult transfer completed")
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
        with contextlib.suppress(NotFound, Conflict):  # the offer may have timed out already
            await self._interactions.reject(ringing.interaction_id, ringing.agent_id, why="no-answer")
        # As app_queue's autopause: a phone that rings out is not ready for the next caller.
        with contextlib.suppress(CtiError):
            await self._agents.set_state(ringing.agent_id, AgentState.AWAY.value, reason="no-answer",
                                         actor_id=ringing.agent_id)

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
        spy = self._spies.get(device_of(s.spyer_channel))
        if spy is None:
            return
        await self._hub.publish(SupervisionChanged(
            at=self._clock.now(), supervisor_id=spy.supervisor_id, agent_id=spy.agent_id,
            mode=spy.mode, active=s.active, interaction_id=spy.interaction_id))

    async def _device_state(self, s: sig.DeviceState) -> None:
        agent_id = self._devices.get(s.device)
        if agent_id is None:
            return
        profile = self._config.agents[agent_id]
        reachable = s.state not in UNREACHABLE
        if reachable == (agent_id not in self._unreachable):
            return
        capacity = dict(profile.capacity)
        if reachable:
            self._unreachable.discard(agent_id)
        else:
            self._unreachable.add(agent_id)
            # Chat and e-mail go on; calls wait until the phone is back.
            capacity.pop(Channel.VOICE, None)
        await self._routing.register_agent(agent_id, skills=profile.skills, capacity=capacity,
                                           now=self._clock.now())
        log.info("agent phone %s agent=%s device=%s", "back" if reachable else "unreachable",
                 agent_id, s.device)

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
        interaction = await self._context.interaction(offer.interaction_id)
        caller = interaction.channel_refs.get(REF_CHANNEL)
        if interaction.channel is not Channel.VOICE or not caller:
            return
        device = self._config.agents[offer.agent_id].endpoints.get(ENDPOINT)
        if not device:
            await self._interactions.reject(interaction.id, offer.agent_id, why="no-phone")
            return
        self._ringing[device] = _Ringing(interaction_id=interaction.id, agent_id=offer.agent_id)
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

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        """Hold: the caller to the holding bridge (music), the agent's phone waits; resume bridges them."""
        if self._elsewhere():
            await self._relayed("hold", interaction_id=interaction_id, agent_id=agent_id, on=on)
            return
        interaction, agent_channel = await self._live_call(interaction_id, agent_id)
        caller = interaction.channel_refs[REF_CHANNEL]
        link = self._require_link()
        if on:
            await link.send({"Action": "Setvar", "Channel": caller, "Variable": "CTI_AGENT",
                             "Value": agent_channel})
            await link.send({"Action": "Redirect", "Channel": caller, "Context": self._ami.hold_context,
                             "Exten": "held", "Priority": "1", "ExtraChannel": agent_channel,
                             "ExtraContext": "cti-agent-ready", "ExtraExten": "held",
                             "ExtraPriority": "1"})
        else:
            await link.send({"Action": "Bridge", "Channel1": caller, "Channel2": agent_channel,
                             "Tone": "no"})
        await self._call_updated(interaction_id, agent_id, "held" if on else "resumed", {"by": "desktop"})

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None, note: str | None) -> Interaction:
        """A blind transfer of a live call, keeping the interaction, its context and notes.

        To an agent: Asterisk rings their extension (the caller hears ringing); when they answer
        the interaction is theirs, and if they do not the dial plan puts the caller back in the
        queue. To a queue: the caller goes back on hold and the router offers them again.
        """
        if (to_queue is None) == (to_agent is None):
            raise InvalidInput("bad-transfer-target", "give exactly one of queue or agent_id")
        if self._elsewhere():
            moved: Interaction = await self._relayed("transfer", interaction_id=interaction_id,
                                                     agent_id=agent_id, to_queue=to_queue,
                                                     to_agent=to_agent, note=note)
            return moved
        interaction, agent_channel = await self._live_call(interaction_id, agent_id)
        if to_agent is not None:
            target = self._config.agents.get(to_agent)
            if target is None:
                raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
            if to_agent == agent_id:
                raise InvalidInput("bad-transfer-target", "cannot transfer to yourself")
            exten = target.endpoints.get(EXTENSION)
            if not exten:
                raise InvalidInput("no-extension", f"agent {to_agent!r} has no extension", agent_id=to_agent)
            await self._require_link().send({"Action": "BlindTransfer", "Channel": agent_channel,
                                             "Exten": exten, "Context": self._ami.agents_context})
            if note:
                await self._interactions.add_note(interaction_id, agent_id, note)
            await self._hub.publish(InteractionTransferred(
                at=self._clock.now(), interaction_id=interaction_id, agent_id=agent_id, to_queue=None,
                to_agent=to_agent, note=note))
            return interaction
        assert to_queue is not None
        if to_queue not in self._config.queues:
            raise NotFound("queue-not-found", f"no queue {to_queue!r}", queue=to_queue)
        await self._require_link().send({"Action": "BlindTransfer", "Channel": agent_channel,
                                         "Exten": to_queue, "Context": self._ami.hold_context})
        return await self._interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                 to_agent=None, note=note)

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        if self._elsewhere():
            await self._relayed("hangup", interaction_id=interaction_id, agent_id=agent_id)
            return
        interaction = await self._owned_voice(interaction_id, agent_id)
        channel = interaction.channel_refs.get(REF_CHANNEL) or interaction.channel_refs.get(REF_AGENT_CHANNEL)
        if not channel:
            raise Conflict("no-call", "this interaction has no live call", interaction_id=interaction_id)
        await self._require_link().send({"Action": "Hangup", "Channel": channel, "Cause": "16"})

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        """Attended transfer: the agent talks to ``to_agent`` while the caller holds; completing it
        (``complete_consult`` or the agent hanging up) leaves the caller with ``to_agent``."""
        if self._elsewhere():
            await self._relayed("consult", interaction_id=interaction_id, agent_id=agent_id,
                                to_agent=to_agent)
            return
        _, agent_channel = await self._live_call(interaction_id, agent_id)
        target = self._config.agents.get(to_agent)
        if target is None:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        exten = target.endpoints.get(EXTENSION)
        if not exten:
            raise InvalidInput("no-extension", f"agent {to_agent!r} has no extension to consult",
                               agent_id=to_agent)
        await self._require_link().send({"Action": "Atxfer", "Channel": agent_channel,
                                         "Exten": exten, "Context": self._ami.agents_context})
        await self._call_updated(interaction_id, agent_id, "consult-started", {"to_agent": to_agent})
        # The consulted agent sees who is waiting before they pick up.
        pop = await self._interactions.screen_pop(await self._context.interaction(interaction_id))
        await self._hub.publish(CallUpdated(at=self._clock.now(), interaction_id=interaction_id,
                                            agent_id=to_agent, what="consult-incoming",
                                            details={"from_agent": agent_id, "screen_pop": pop}))

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        if self._elsewhere():
            await self._relayed("cancel_consult", interaction_id=interaction_id, agent_id=agent_id)
            return
        _, agent_channel = await self._live_call(interaction_id, agent_id)
        await self._require_link().send({"Action": "CancelAtxfer", "Channel": agent_channel})
        await self._call_updated(interaction_id, agent_id, "consult-cancelled", {})

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        """The transferring agent leaves; Asterisk joins the caller and the consulted agent."""
        if self._elsewhere():
            await self._relayed("complete_consult", interaction_id=interaction_id, agent_id=agent_id)
            return
        _, agent_channel = await self._live_call(interaction_id, agent_id)
        await self._require_link().send({"Action": "Hangup", "Channel": agent_channel, "Cause": "16"})

    async def recording(self, interaction_id: str, agent_id: str, action: str) -> None:
        if self._elsewhere():
            await self._relayed("recording", interaction_id=interaction_id, agent_id=agent_id,
                                action=action)
            return
        interaction, agent_channel = await self._live_call(interaction_id, agent_id)
        link = self._require_link()
        if action == "start":
            path = f"{self._ami.recording_dir.rstrip('/')}/{interaction_id}.wav"
            await link.send({"Action": "MixMonitor", "Channel": agent_channel, "File": path,
                             "Options": "i(CTI_MIXMON_ID)"})
            await self._interactions.update_refs(interaction_id, context={"voice.recording": path})
        elif action in ("pause", "resume"):
            # Paused while a card number is read out: the file keeps silence, not the digits.
            await link.send({"Action": "MixMonitorMute", "Channel": agent_channel, "Direction": "both",
                             "State": "1" if action == "pause" else "0"})
        elif action == "stop":
            stop: dict[str, str] = {"Action": "StopMixMonitor", "Channel": agent_channel}
            if interaction.channel_refs.get("asterisk_mixmonitor"):
                stop["MixMonitorID"] = interaction.channel_refs["asterisk_mixmonitor"]
            await link.send(stop)
        else:
            raise InvalidInput("bad-recording-action", "action is start, pause, resume or stop")

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        """Click-to-dial: the agent's phone rings first, then Asterisk dials the customer."""
        if self._elsewhere():
            placed: Interaction = await self._relayed("dial", agent_id=agent_id, number=number, queue=queue)
            return placed
        profile = self._config.agents.get(agent_id)
        if profile is None or not profile.endpoints.get(ENDPOINT):
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=agent_id)
        phone = normalise_phone(number, region=self._config.phone_region)
        dialled = number if number.isdigit() else phone.lstrip("+")
        device = profile.endpoints[ENDPOINT]
        link = self._require_link()
        if device in self._dialing or device in self._ringing:
            raise Conflict("phone-busy", "your phone is already ringing", agent_id=agent_id)
        interaction, _ = await self._interactions.start_active(
            channel=Channel.VOICE, agent_id=agent_id, identities=[Identity(IdentityKind.PHONE, phone)],
            display_name=None, queue=queue, context={"voice.dialled": dialled})
        # Registered before the Originate: the agent leg's Newchannel (AgentLegCreated) ties its
        # Uniqueid to this interaction, and it may arrive before the Originate's response.
        self._dialing[device] = interaction.id
        try:
            await link.send({
                "Action": "Originate", "Channel": device, "Context": self._ami.dialout_context,
                "Exten": dialled, "Priority": "1", "Timeout": "30000",
                "CallerID": f'"{profile.name[:40]}" <{profile.endpoints.get(EXTENSION, "")}>',
                "Variable": [f"CTI_AGENT_ID={agent_id}"], "Async": "true"})
        except CtiError:
            self._dialing.pop(device, None)
            await self._interactions.call_ended(interaction.id, why="dial-failed")
            raise
        return interaction

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        """Listen to, whisper to or barge into an agent's live call, on the supervisor's own phone."""
        if self._elsewhere():
            await self._relayed("monitor", supervisor_id=supervisor_id, agent_id=agent_id, mode=mode)
            return
        if mode not in SPY_OPTIONS:
            raise InvalidInput("bad-mode", "mode is listen, whisper or barge", mode=mode)
        supervisor = self._agents.profile(supervisor_id)
        self._agents.profile(agent_id)
        if supervisor.role is Role.AGENT or not self._agents.may_supervise(supervisor_id, agent_id):
            raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=agent_id)
        phone = supervisor.endpoints.get(ENDPOINT)
        if not phone:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=supervisor_id)
        live = [i for i in await self._context.list_interactions(agent_id=agent_id, open_only=True)
                if i.channel is Channel.VOICE and i.state is InteractionState.ACTIVE
                and i.channel_refs.get(REF_AGENT_CHANNEL)]
        if not live:
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        target = live[0]
        await self._context.audit(actor=supervisor_id, action=f"call.{mode}", target=agent_id,
                                  details={"interaction_id": target.id})
        self._spies[phone] = _Spy(supervisor_id=supervisor_id, agent_id=agent_id, mode=mode,
                                  interaction_id=target.id)
        try:
            await self._require_link().send({
                "Action": "Originate", "Channel": phone, "Application": "ChanSpy",
                "Data": f"{target.channel_refs[REF_AGENT_CHANNEL]},{SPY_OPTIONS[mode]}",
                "Timeout": "15000", "CallerID": f'"Supervisor" <{supervisor_id}>', "Async": "true"})
        except CtiError:
            self._spies.pop(phone, None)
            raise

    def status(self) -> dict[str, Any]:
        return {"connected": self.connected, "callers": len(self.tracker.callers()),
                "ringing": {d: r.agent_id for d, r in self._ringing.items()},
                "unreachable_agents": sorted(self._unreachable)}

    # ----- helpers -------------------------------------------------------------------------

    def _require_link(self) -> AmiActions:
        if self._link is None or not self._link.connected:
            raise Unavailable("voice-unavailable", "the telephony link is down; try again shortly")
        return self._link

    async def _by_caller(self, uniqueid: str) -> Interaction | None:
        return await self._context.find_interaction_by_ref(REF_UNIQUEID, uniqueid)

    async def _by_any_channel(self, uniqueid: str, channel: str) -> Interaction | None:
        found = await self._by_caller(uniqueid)
        if found is None:
            found = await self._context.find_interaction_by_ref(REF_AGENT_CHANNEL, channel)
        return found

    async def _owned_voice(self, interaction_id: str, agent_id: str) -> Interaction:
        interaction = await self._context.interaction(interaction_id)
        if interaction.channel is not Channel.VOICE:
            raise InvalidInput("not-a-call", "this interaction is not a call", interaction_id=interaction_id)
        if interaction.agent_id != agent_id:
            raise Forbidden("not-your-interaction", "this interaction is not yours",
                            interaction_id=interaction_id)
        return interaction

    async def _live_call(self, interaction_id: str, agent_id: str) -> tuple[Interaction, str]:
        interaction = await owned_live_call(self._context, interaction_id, agent_id,
                                            carried=lambda i: i.channel is Channel.VOICE,
                                            not_carried="not-a-call")
        if not self.handles(interaction):  # a voice call, but not (or no longer) bridged by Asterisk
            raise Conflict("no-call", "this interaction has no live call", interaction_id=interaction_id)
        return interaction, interaction.channel_refs[REF_AGENT_CHANNEL]

    async def _hangup_quietly(self, channel: str | None) -> None:
        if channel and self.connected:
            with contextlib.suppress(CtiError):
                await self._require_link().send({"Action": "Hangup", "Channel": channel, "Cause": "16"})

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

    async def _call_updated(self, interaction_id: str, agent_id: str | None, what: str,
                            details: Mapping[str, Any]) -> None:
        await self._hub.publish(CallUpdated(at=self._clock.now(), interaction_id=interaction_id,
                                            agent_id=agent_id, what=what, details=dict(details)))

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

