"""The Asterisk bridge: call facts in, interaction steps and AMI actions out.

Inbound: the link delivers AMI events; the tracker folds them into signals (``signals.py``);
the bridge turns each signal into a step of the interaction service (a caller waiting becomes a
queued voice interaction, a caller bridged with the offered agent is an accept, a caller hanging
up is an abandon or the end of the call). Outbound: offers of voice interactions become an
``Originate`` to the agent's phone; call control from the desktop (``control.py``) becomes AMI
actions. Fallback-queue calls (``fallback.py``), transfers and consults (``transfers.py``), phone
states (``devices.py``) and the clean stop (``shutdown.py``) have modules of their own; what each
signal does is ``signal_reactions.py``'s, what each hub event does ``hub_reactions.py``'s. This
module owns the wiring, the link callbacks, the resync and the dial plan's globals. After
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
from cti.ami.control import (
    ENDPOINT,
    EXTENSION,
    REF_AGENT_CHANNEL,
    REF_CHANNEL,
    REF_LINKEDID,
    REF_UNIQUEID,
    RELAYED,
    AmiActions,
    Ringing,
    Spy,
)
from cti.ami.devices import PhoneStates
from cti.ami.fallback import FallbackCalls
from cti.ami.frames import AmiMessage
from cti.ami.relay import CommandRelay
from cti.ami.shutdown import fallback_redirect, held_callers
from cti.ami.signal_reactions import WAITING, SignalReactions
from cti.ami.tracker import CallTracker
from cti.ami.transfers import Transfers
from cti.clock import Clock
from cti.config import AmiConfig, AppConfig
from cti.domain import (
    Channel,
    Interaction,
    InteractionState,
    Role,
)
from cti.errors import CtiError, InvalidInput
from cti.events import (
    AgentStateChanged,
    InteractionAbandoned,
    OfferWithdrawn,
    VoiceLinkChanged,
    offered_on,
)
from cti.hours import closed_variable, queue_open
from cti.hub import EventHub
from cti.live_config import LiveConfig, as_live
from cti.ports import ContextStore
from cti.routing import RoutingStore
from cti.service import InteractionService
from cti.surveys import SurveyAnswers
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

CTI_VARIABLES = ("CTI_ACCOUNT", "CTI_REASON", "CTI_QUEUE")


class AmiBridge(SignalReactions):
    """The Asterisk side of the contact center: wiring, link callbacks, resync and the dial plan's
    globals; the reactions and call control are its bases'."""

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

    # ----- call control (desktop API) ------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"connected": self.connected, "callers": len(self.tracker.callers()),
                "ringing": {d: r.agent_id for d, r in self._ringing.items()},
                "unreachable_agents": self._phones.agents("unreachable"),
                "busy_agents": self._phones.agents("busy")}

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
