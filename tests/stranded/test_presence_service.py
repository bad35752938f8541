"""The presence sweep and the restore, on a manual clock with the in-memory stores: no sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.agent_records import StoredAgentState
from cti.agents import AgentService
from cti.clock import ManualClock, SequentialIds
from cti.config import parse_config
from cti.domain import AgentState
from cti.events import AgentStateChanged
from cti.hub import EventHub, Subscription
from cti.presence import DesktopPresence
from cti.presence_store import MemoryPresence
from cti.settings.presence import PresenceSettings
from router.memory_store import MemoryRoutingStore
from tests.adapters.center import center_config

GRACE = 20.0


class ListRecords:
    """The stored states as a list (the SQL store is tested on both databases in tests/context)."""

    def __init__(self, records: Sequence[StoredAgentState] = ()) -> None:
        self.records = {r.agent_id: r for r in records}

    async def save(self, record: StoredAgentState) -> None:
        self.records[record.agent_id] = record

    async def load_all(self) -> Sequence[StoredAgentState]:
        return list(self.records.values())


@dataclass
class World:
    clock: ManualClock
    routing: MemoryRoutingStore
    agents: AgentService
    records: ListRecords
    store: MemoryPresence
    events: Subscription

    def node(self, name: str) -> DesktopPresence:
        """One node's presence; every node of a world shares the store, as nodes share Redis."""
        return DesktopPresence(store=self.store, agents=self.agents, routing=self.routing, clock=self.clock,
                               node_id=name, settings=PresenceSettings(disconnect_grace=GRACE))

    def states(self) -> list[tuple[str, str, str | None]]:
        out = []
        while not self.events.queue.empty():
            e = self.events.queue.get_nowait()
            if isinstance(e, AgentStateChanged):
                out.append((e.agent_id, e.state, e.reason))
        return out


@pytest.fixture
async def context(tmp_path: Path) -> AsyncIterator[SqlContextStore]:
    """The real store, for the audit of a supervisor's change."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    store = SqlContextStore(url=url, clock=ManualClock(), ids=SequentialIds())
    await store.start()
    try:
        yield store
    finally:
        await store.aclose()


async def world(context: SqlContextStore, stored: ListRecords | None = None) -> World:
    clock, routing, hub, store = ManualClock(), MemoryRoutingStore(), EventHub(node_id="t"), MemoryPresence()
    stored = stored if stored is not None else ListRecords()
    agents = AgentService(config=parse_config(center_config({})), routing=routing, context=context,
                          hub=hub, clock=clock, poke=lambda: None, records=stored, presence=store)
    await agents.register_all()
    return World(clock=clock, routing=routing, agents=agents, records=stored, store=store,
                 events=hub.subscribe(maxsize=1000))


async def state(w: World, agent_id: str) -> tuple[AgentState, str | None]:
    snap = await w.routing.agent(agent_id)
    assert snap is not None
    return snap.state, snap.reason


async def test_a_desk_closed_for_the_grace_is_set_away_once(context: SqlContextStore) -> None:
    w = await world(context)
    a = w.node("a")
    async with a.desktop("alice"):
        await w.agents.set_state("alice", "available", reason=None, actor_id="alice")
        w.clock.advance(14)  # open, within what one heartbeat vouches for
        assert await a.sweep_once() == []
    w.clock.advance(GRACE - 0.5)
    assert await a.sweep_once() == []
    w.clock.advance(0.5)
    w.states()
    assert await a.sweep_once() == ["alice"]
    assert await state(w, "alice") == (AgentState.AWAY, "disconnected")
    assert w.states() == [("alice", "away", "disconnected")]
    assert w.records.records["alice"].reason == "disconnected"  # and stored
    w.clock.advance(GRACE)
    assert await a.sweep_once() == []  # forgotten: not set away twice


async def test_a_node_that_stops_renewing_loses_its_word(context: SqlContextStore) -> None:
    """A node that died: three heartbeats (15 s) after its last renewal, then the grace."""
    w = await world(context)
    dead = w.node("dead")
    async with dead.desktop("alice"):
        await w.agents.set_state("alice", "available", reason=None, actor_id="alice")
        w.clock.advance(15 + GRACE - 0.5)
        assert await w.node("alive").sweep_once() == []
        w.clock.advance(0.5)
        assert await w.node("alive").sweep_once() == ["alice"]


async def test_a_desk_reopened_on_another_node_keeps_the_agent(context: SqlContextStore) -> None:
    w = await world(context)
    a, b = w.node("a"), w.node("b")
    async with a.desktop("alice"):
        await w.agents.set_state("alice", "available", reason=None, actor_id="alice")
    async with b.desktop("alice"):
        for _ in range(40):  # 200 s on node B, its heartbeat renewing every 5 s
            w.clock.advance(5)
            await b.renew()
            assert await a.sweep_once() == [] and await b.sweep_once() == []
    w.clock.advance(GRACE)
    assert await a.sweep_once() == ["alice"]
    assert await b.sweep_once() == []


async def test_an_agent_who_went_offline_or_away_is_only_forgotten(context: SqlContextStore) -> None:
    w = await world(context)
    a = w.node("a")
    async with a.desktop("alice"):
        await w.agents.set_state("alice", "away", reason="lunch", actor_id="alice")
    async with a.desktop("bob"):
        await w.agents.set_state("bob", "offline", reason=None, actor_id="bob")
    w.clock.advance(GRACE)
    w.states()
    assert await a.sweep_once() == []
    assert w.states() == []
    assert await state(w, "alice") == (AgentState.AWAY, "lunch")
    assert await w.store.last_seen() == {}


async def test_a_supervisor_making_an_absent_agent_available_restarts_the_grace(
        context: SqlContextStore) -> None:
    w = await world(context)
    a = w.node("a")
    async with a.desktop("alice"):
        await w.agents.set_state("alice", "away", reason="lunch", actor_id="alice")
    w.clock.advance(GRACE - 1)
    await w.agents.set_state("alice", "available", reason=None, actor_id="sam")
    w.clock.advance(1)
    assert await a.sweep_once() == []
    w.clock.advance(GRACE)
    assert await a.sweep_once() == ["alice"]


@pytest.mark.parametrize(("live", "expected"), [
    (None, (AgentState.AVAILABLE, None)),  # a fresh routing store: back as stored
    (AgentState.BUSY, (AgentState.BUSY, None)),  # another node is running: its live state wins
])
async def test_restore_brings_back_the_stored_state_unless_a_live_one_is_known(
        live: AgentState | None, expected: tuple[AgentState, str | None], context: SqlContextStore) -> None:
    w = await world(context, ListRecords([
        StoredAgentState("alice", AgentState.AVAILABLE, None, 1.0),
        StoredAgentState("bob", AgentState.AWAY, "lunch", 1.0),
        StoredAgentState("ghost", AgentState.AVAILABLE, None, 1.0)]))  # no longer configured
    if live is not None:
        await w.routing.set_agent_state("alice", live, reason=None, now=0.0)
    at_desk = await w.agents.restore()
    assert at_desk == ([] if live else ["alice"])
    assert await state(w, "alice") == expected
    assert await state(w, "bob") == (AgentState.AWAY, "lunch")
    assert await w.routing.agent("ghost") is None

    a = w.node("a")
    await a.expect(at_desk)
    w.clock.advance(GRACE)
    assert await a.sweep_once() == ([] if live else ["alice"])


class DownOnce(ListRecords):
    """A database that refuses one write (a restart of PostgreSQL, a full disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def save(self, record: StoredAgentState) -> None:
        if self.down:
            self.down = False
            raise OSError("database unreachable")
        await super().save(record)


async def test_a_sweep_that_could_not_set_away_tries_again(context: SqlContextStore) -> None:
    flaky = DownOnce()
    w = await world(context, flaky)
    a = w.node("a")
    async with a.desktop("alice"):
        await w.agents.set_state("alice", "available", reason=None, actor_id="alice")
    w.clock.advance(GRACE)
    flaky.down = True
    assert await a.sweep_once() == []
    assert await state(w, "alice") == (AgentState.AVAILABLE, None)
    assert await a.sweep_once() == ["alice"]
    assert flaky.records["alice"].reason == "disconnected"
