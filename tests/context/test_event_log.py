"""The interaction event log in the store: written with each save, never lost or doubled, and
the entries old rows imply written by the migration."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import create_engine, text

from context.migrate import sync_url, upgrade
from context.store import SqlContextStore
from cti import lifecycle
from cti.clock import ManualClock, SequentialIds
from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.errors import NotFound, StaleSnapshot
from cti.eventlog import EntryKind, LogEntry
from cti.segments import Outcome, segments
from tests.context.builders import T0, phone


async def _new(store: SqlContextStore, iid: str = "int-1") -> Interaction:
    customer = await store.resolve_customer([phone("+15550001111")], display_name=None, actor="s", reason="r")
    fresh = Interaction(id=iid, channel=Channel.VOICE, direction=Direction.INBOUND, customer_id=customer.id,
                        queue="support", state=InteractionState.NEW, arrived_at=T0)
    return await store.save_interaction(lifecycle.apply(fresh, "enqueue", now=T0))


def _kinds(log: list[LogEntry]) -> list[tuple[str, float, str | None]]:
    return [(e.kind.value, e.at - T0, e.agent_id) for e in log]


@pytest.fixture
async def node_store(db_url: str, clock: ManualClock,
                     ids: SequentialIds) -> AsyncIterator[SqlContextStore]:
    the_store = SqlContextStore(url=db_url, clock=clock, ids=ids, node_id="node-a")
    await the_store.start()
    try:
        yield the_store
    finally:
        await the_store.aclose()


async def test_each_save_writes_its_entries_and_the_snapshot_keeps_none(node_store: SqlContextStore) -> None:
    store = node_store
    queued = await _new(store)
    assert queued.log == ()
    offered = lifecycle.apply(queued, "offer", now=T0 + 1, agent_id="alice", details={"rule": "skills"})
    active = await store.save_interaction(lifecycle.apply(offered, "accept", now=T0 + 2.5, agent_id="alice"),
                                          before=queued)
    assert active.log == () and active.version == 2
    moved = lifecycle.apply(active, "transfer", now=T0 + 5.5, queue="billing")
    await store.save_interaction(moved)  # without ``before``: the full rewrite writes them too

    log = await store.event_log.of("int-1")
    assert _kinds(log) == [("queued", 0, None), ("offered", 1, "alice"), ("accepted", 2.5, "alice"),
                           ("transferred", 5.5, "alice"), ("queued", 5.5, None)]
    assert {e.node for e in log} == {"node-a"}
    assert log[1].details == {"rule": "skills"} and log[4].queue == "billing"
    assert [e.key for e in log] == ["1.0", "2.0", "2.1", "3.0", "3.1"]


async def test_a_stale_save_writes_no_entry_and_its_retry_writes_one(store: SqlContextStore) -> None:
    queued = await _new(store)
    # Two nodes offer the same snapshot at once: only one save can create version 2.
    first = lifecycle.apply(queued, "offer", now=T0 + 1, agent_id="alice")
    second = lifecycle.apply(queued, "offer", now=T0 + 1, agent_id="bob")
    await store.save_interaction(first, before=queued)
    with pytest.raises(StaleSnapshot):
        await store.save_interaction(second, before=queued)
    with pytest.raises(StaleSnapshot):
        await store.save_interaction(second)
    log = await store.event_log.of("int-1")
    assert _kinds(log) == [("queued", 0, None), ("offered", 1, "alice")]


async def test_a_recorded_entry_written_twice_is_stored_once(store: SqlContextStore) -> None:
    await _new(store)
    held = LogEntry(interaction_id="int-1", kind=EntryKind.HELD, at=T0 + 3, channel="voice", queue="support",
                    agent_id="alice", key="call.held.1")
    assert await store.event_log.record([held]) == 1
    assert await store.event_log.record([held]) == 0
    assert [e.kind for e in await store.event_log.of("int-1")] == [EntryKind.QUEUED, EntryKind.HELD]
    with pytest.raises(NotFound):
        await store.event_log.record([LogEntry(interaction_id="nope", kind=EntryKind.HELD, at=T0,
                                               channel="voice", queue="q", key="k")])


async def test_a_range_read_gives_whole_logs_of_the_interactions_it_touches(store: SqlContextStore) -> None:
    one = await _new(store, "int-1")
    await store.save_interaction(lifecycle.apply(one, "abandon", now=T0 + 7200))
    await _new(store, "int-2")
    logs = await store.event_log.touching(T0 + 3600, T0 + 7201)
    assert list(logs) == ["int-1"] and len(logs["int-1"]) == 2  # its queued entry too, before the range
    assert await store.event_log.touching(T0 + 3600, T0 + 7201, channels=["chat"]) == {}


async def test_the_inbound_batch_writes_the_queued_entry(store: SqlContextStore) -> None:
    from cti.domain import IdentityLevel, InboundIdentity
    from cti.ports import InboundWrite
    start = lifecycle.apply(Interaction(id="int-9", channel=Channel.SMS, direction=Direction.INBOUND,
                                        customer_id="", queue="support", state=InteractionState.NEW,
                                        arrived_at=T0), "enqueue", now=T0)
    written = await store.store_inbound([InboundWrite(
        claim=None, start=start, message=None,
        identities=[InboundIdentity(phone("+15550002222"), IdentityLevel.ASSERTED, "sms")],
        display_name=None, reason="inbound sms")])
    assert written[0].interaction is not None and written[0].interaction.log == ()
    assert _kinds(await store.event_log.of("int-9")) == [("queued", 0, None)]


def _at(offset: float | None) -> float | None:
    return None if offset is None else T0 + offset


def test_the_migration_writes_the_entries_old_rows_imply(blank_url: str) -> None:
    upgrade(blank_url, "0013")
    engine = create_engine(sync_url(blank_url))
    rows = [  # id, direction, state, agent, queued, offered, answered, ended
        ("i-closed", "inbound", "closed", "alice", 0.0, 1.0, 2.5, 60.0),
        ("i-abandoned", "inbound", "abandoned", None, 10.0, None, None, 14.0),
        ("i-wrap", "inbound", "wrap_up", "bob", 20.0, 21.0, 22.0, 50.0),
        ("i-queued", "inbound", "queued", None, 30.0, None, None, None),
        ("i-out", "outbound", "active", "carol", None, None, None, None),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO customers (id, created_at, root_id) VALUES ('c', 1.0, 'c')"))
            for iid, direction, state, agent, queued, offered, answered, ended in rows:
                conn.execute(text(
                    "INSERT INTO interactions (id, customer_id, root_customer_id, channel, direction, queue, "
                    "state, priority, skills, arrived_at, queued_at, offered_at, answered_at, ended_at, "
                    "agent_id, customer_left, version) VALUES (:id, 'c', 'c', 'chat', :d, 'support', :s, 1, "
                    "'{}', :arr, :q, :o, :a, :e, :agent, false, 1)"),
                    {"id": iid, "d": direction, "s": state, "arr": T0 + (queued or 5.0),
                     "q": _at(queued), "o": _at(offered), "a": _at(answered), "e": _at(ended),
                     "agent": agent})
        upgrade(blank_url)
        with engine.connect() as conn:
            found = conn.execute(text(
                "SELECT interaction_id, kind, at, agent_id, node FROM interaction_events "
                "ORDER BY interaction_id, at, seq")).all()
    finally:
        engine.dispose()
    by: dict[str, list[tuple[str, float, str | None]]] = {}
    for r in found:
        by.setdefault(r.interaction_id, []).append((r.kind, r.at - T0, r.agent_id))
        assert r.node == "migration"
    assert by == {
        "i-closed": [("queued", 0, None), ("offered", 1, "alice"), ("accepted", 2.5, "alice"),
                     ("closed", 60, "alice")],
        "i-abandoned": [("queued", 10, None), ("abandoned", 14, None)],
        "i-wrap": [("queued", 20, None), ("offered", 21, "bob"), ("accepted", 22, "bob"),
                   ("wrap_up", 50, "bob")],
        "i-queued": [("queued", 30, None)],
        "i-out": [("accepted", 5, "carol")],
    }
    # And the segments read from them are what the old columns said.
    entries = [LogEntry(interaction_id="i-closed", kind=EntryKind(k), at=T0 + at, channel="chat",
                        queue="support", agent_id=a) for k, at, a in by["i-closed"]]
    (closed,) = segments(entries)
    assert (closed.wait, closed.talk, closed.outcome) == (2.5, 57.5, Outcome.ANSWERED)
