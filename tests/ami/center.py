"""A contact center wired to the fake AMI server: real services, real link, real tracker.

The recordings are played in *phases*: the events Asterisk sent between two actions of the
recorded CTI. A test plays a phase, waits until our bridge sends the action the recorded CTI
sent there (asserting on it), then plays the next phase, so the bridge is driven exactly as
Asterisk drove the recorded CTI.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.agents import AgentService
from cti.ami.bridge import AmiBridge
from cti.ami.frames import AmiMessage
from cti.ami.link import AmiLink
from cti.app import build_core
from cti.clock import SystemClock, UuidIds
from cti.config import AppConfig, parse_config
from cti.domain import Interaction
from cti.events import DomainEvent
from cti.hub import EventHub, Subscription
from cti.live_config import LiveConfig
from cti.routing import Offer
from cti.service import InteractionService
from cti.settings.surveys import SurveySettings
from cti.survey_service import SurveyService
from cti.surveys import survey_key
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore
from tests.ami.fake_ami import FakeAmi, Headers, header, parse_headers
from tests.ami.recordings import load
from tests.waiting import until

AGENTS = [
    {"id": "alice", "team": "support", "skills": {"english": 8}, "capacity": {"voice": 1, "chat": 2},
     "endpoints": {"pjsip": "PJSIP/agent1", "exten": "201"}},
    {"id": "bob", "team": "support", "skills": {"english": 6}, "capacity": {"voice": 1, "chat": 2},
     "endpoints": {"pjsip": "PJSIP/agent2", "exten": "202"}},
    {"id": "carol", "team": "support", "skills": {"english": 7}, "capacity": {"voice": 1, "chat": 2},
     "endpoints": {"pjsip": "PJSIP/agent3", "exten": "203"}},
    {"id": "sam", "role": "supervisor", "team": "support", "skills": {}, "capacity": {},
     "endpoints": {"pjsip": "PJSIP/super1"}},
    {"id": "sue", "role": "supervisor", "team": "sales", "skills": {}, "capacity": {},
     "endpoints": {"pjsip": "PJSIP/super2"}},
]


def center_config(port: int) -> AppConfig:
    return parse_config({
        "default_country_code": "33",
        "routing": {"offer_timeout": 20},
        "teams": [{"name": "support", "supervisors": ["sam"]}, {"name": "sales", "supervisors": ["sue"]}],
        "queues": [{"name": "support", "skills": {"english": 1},
                    "service_targets": {"voice": 20, "chat": 60}}],
        "chat": {"queue": "support"},
        "agents": AGENTS,
        "ami": {"host": "127.0.0.1", "port": port, "username": "cti", "secret": "cti-secret",
                "heartbeat_seconds": 30},
    })


def empty_list(action: str, complete: str) -> list[Headers]:
    """An EventList answer with no items, in the shape Asterisk 22 sends (resync_snapshot)."""
    return [[("Response", "Success"), ("EventList", "start"), ("Message", f"{action} will follow")],
            [("Event", complete), ("EventList", "Complete"), ("ListItems", "0")]]


def idle_asterisk(ami: FakeAmi) -> None:
    """Resync answers of an Asterisk with no live channel (each test's calls start after login)."""
    ami.answer("CoreShowChannels", empty_list("Channels", "CoreShowChannelsComplete"))
    ami.answer("BridgeList", empty_list("Bridge listing", "BridgeListComplete"))
    ami.answer("Status", empty_list("Channel status", "StatusComplete"))
    ami.answer("DeviceStateList", empty_list("Device State Changes", "DeviceStateListComplete"))


@dataclass(frozen=True)
class Phase:
    frames: tuple[str, ...]  # the events Asterisk sent before the next recorded action
    action: Headers | None  # the action the recorded CTI sent next (None: the end)


# The recorded CTI's heartbeat (live2): it does not steer calls, and ours beats on its own clock.
HEARTBEAT = frozenset({"Ping", "Setvar"})


def phases(name: str, *, ignore: Collection[str] = ()) -> list[Phase]:
    """The first session of a recording cut at each action of the recorded CTI (login excluded).

    Actions named in ``ignore`` do not cut: the events around them stay in one phase.
    """
    out: list[Phase] = []
    pending: list[str] = []
    logged_in = False
    for frame in load(name).frames:
        if frame.session != 0:
            break
        if frame.dir == "out":
            headers = parse_headers(frame.frame)
            kind = header(headers, "Action")
            if kind == "Login" or kind in ignore:
                continue
            out.append(Phase(tuple(pending), headers if kind != "Logoff" else None))
            pending = []
            if kind == "Logoff":
                break
            continue
        if not logged_in:
            logged_in = frame.frame.startswith("Response:")  # the login burst is the fake's own
            continue
        if frame.frame.startswith("Event:"):
            pending.append(frame.frame)
    if pending:
        out.append(Phase(tuple(pending), None))
    return out


def live2(name: str) -> list[Phase]:
    """A session of ``live2/`` (recorded with ``asterisk-config/``), cut at the call actions only."""
    return phases(f"live2/{name}", ignore=HEARTBEAT)


@dataclass
class Center:
    config: AppConfig
    ami: FakeAmi
    context: SqlContextStore
    routing: MemoryRoutingStore
    hub: EventHub
    interactions: InteractionService
    agents: AgentService
    engine: RoutingEngine
    bridge: AmiBridge
    link: AmiLink
    events: Subscription
    seen: list[DomainEvent] = field(default_factory=list)
    played: int = 0  # event frames written by ``play``
    handled: list[int] = field(default_factory=lambda: [0])  # events the bridge has finished with
    live: LiveConfig | None = None  # the configuration the core and the bridge share

    async def play(self, frames: tuple[str, ...]) -> None:
        session = self.ami.current
        for frame in frames:
            session.write(frame.encode("utf-8"))
            self.played += frame.startswith("Event:")
        await session.writer.drain()

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until the bridge has handled every event played so far (delivery is async; a
        fixed pause was too short on a loaded machine). The events the fake sent on its own
        (``FullyBooted`` at each login, ``OriginateResponse``) are handled too and counted here,
        or settle would return that many events early."""
        await until(lambda: self.handled[0] >= self.played + self.ami.own_events, timeout=timeout,
                    every=0.01, what=f"the bridge to handle {self.played} played events")
        await asyncio.sleep(0.01)  # what the handling published reaches the subscription

    async def route(self) -> list[Offer]:
        return await self.engine.run_once()

    async def available(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            await self.agents.set_state(agent_id, "available", reason=None, actor_id=agent_id)

    async def ring(self, frames: tuple[str, ...],
                   *agent_ids: str) -> tuple[Interaction, list[Offer], Headers]:
        """``agent_ids`` (default alice) made available, a caller queued by ``frames`` and routed:
        the call, the offers made and the ``Originate`` sent to ring the agent."""
        await self.available(*(agent_ids or ("alice",)))
        await self.play(frames)
        await self.settle()
        call = await self.only_call()
        offers = await self.route()
        return call, offers, await self.ami.wait_action("Originate")

    async def voice_calls(self) -> list[Interaction]:
        return [i for i in await self.context.list_interactions(limit=100) if i.channel.value == "voice"]

    async def only_call(self) -> Interaction:
        calls = await self.voice_calls()
        assert len(calls) == 1, calls
        return calls[0]

    def drain(self) -> list[DomainEvent]:
        while not self.events.queue.empty():
            self.seen.append(self.events.queue.get_nowait())
        return self.seen

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.drain() if e.type == kind]

    async def wait_event(self, kind: str, timeout: float = 3.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events_of(kind):
                if all(event.get(k) == v for k, v in match.items()):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} {match} in {[e.type for e in self.seen]}")
            await asyncio.sleep(0.02)

    async def wait_state(self, interaction_id: str, state: str, timeout: float = 3.0) -> Interaction:
        deadline = time.monotonic() + timeout
        while True:
            interaction = await self.context.interaction(interaction_id)
            if interaction.state.value == state:
                return interaction
            if time.monotonic() > deadline:
                raise AssertionError(f"{interaction_id} is {interaction.state.value}, not {state}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_center(tmp_path: Path, *, idle: bool = True) -> AsyncIterator[Center]:
    async with FakeAmi() as ami:
        if idle:
            idle_asterisk(ami)
        config = center_config(ami.port)
        assert config.ami is not None
        url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
        await upgrade_async(url)
        clock, ids = SystemClock(), UuidIds()
        context = SqlContextStore(url=url, clock=clock, ids=ids)
        await context.start()
        routing = MemoryRoutingStore()
        hub = EventHub(node_id="test")
        events = hub.subscribe(maxsize=10_000)
        live = LiveConfig(config)
        core = build_core(config=live, context=context, routing=routing, hub=hub, clock=clock, ids=ids)
        interactions, agents, engine = core.interactions, core.agents, core.engine  # routed pass by pass
        await agents.register_all()
        surveys = SurveyService(context=context, log_records=context.event_log, hub=hub, clock=clock, ids=ids,
                                key=survey_key("ami-center-survey-secret"), settings=SurveySettings())
        bridge = AmiBridge(ami=config.ami, config=live, interactions=interactions, agents=agents,
                           context=context, routing=routing, hub=hub, clock=clock, surveys=surveys)
        handled = [0]

        async def on_event(msg: AmiMessage) -> None:
            try:
                await bridge.on_event(msg)
            finally:
                handled[0] += 1

        link = AmiLink("127.0.0.1", ami.port, "cti", "cti-secret", on_event=on_event,
                       on_connected=bridge.on_connected, on_disconnected=bridge.on_disconnected,
                       reconnect_initial=0.05, reconnect_max=0.2)
        bridge.attach(link)
        await bridge.start()
        await link.start()
        center = Center(config=config, ami=ami, context=context, routing=routing, hub=hub,
                        interactions=interactions, agents=agents, engine=engine, bridge=bridge,
                        link=link, events=events, handled=handled, live=live)
        try:
            await center.wait_event("voice.link", connected=True)
            yield center
        finally:
            await link.aclose()
            await bridge.aclose()
            await context.aclose()
