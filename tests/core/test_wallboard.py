"""The boards' service levels: read from the event log once, served again until a customer is
answered or leaves."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path

import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti import lifecycle
from cti.clock import ManualClock, SequentialIds
from cti.domain import Identity, IdentityKind, InteractionState
from cti.eventlog import EventLogRecords, LogEntry
from cti.events import InteractionAccepted, InteractionQueued
from cti.hub import EventHub
from cti.wallboard import MAX_AGE, ServiceLevelBoard
from tests.context.builders import interaction

T0 = 1_800_000_000.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlContextStore]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    the_store = SqlContextStore(url=url, clock=ManualClock(T0), ids=SequentialIds())
    await the_store.start()
    yield the_store
    await the_store.aclose()


async def answered(store: SqlContextStore, iid: str, customer_id: str) -> None:
    """Queued at T0, offered and accepted 10 s later: the log entries the service's steps write."""
    new = dataclasses.replace(interaction(iid, customer_id, at=T0), state=InteractionState.NEW)
    queued = lifecycle.apply(new, "enqueue", now=T0)
    offered = lifecycle.apply(queued, "offer", now=T0 + 10, agent_id="alice")
    await store.save_interaction(lifecycle.apply(offered, "accept", now=T0 + 10, agent_id="alice"))


async def test_levels_are_read_again_after_an_answer_or_a_while(store: SqlContextStore) -> None:
    hub = EventHub(node_id="n")
    board = ServiceLevelBoard(log=store.event_log, hub=hub, targets=lambda queue, channel: 60.0)
    customer = await store.resolve_customer([Identity(IdentityKind.EMAIL, "a@b.c")], display_name=None,
                                            actor="t", reason="r")
    await answered(store, "int-1", customer.id)
    assert (await board.levels(3600, T0 + 20))["support"]["chat"]["answered"] == 1

    await answered(store, "int-2", customer.id)  # stored, but no answer told yet: the same figures
    assert (await board.levels(3600, T0 + 21))["support"]["chat"]["answered"] == 1
    await hub.publish(InteractionQueued(at=T0 + 22, interaction={}))  # arrivals change nothing
    assert (await board.levels(3600, T0 + 22))["support"]["chat"]["answered"] == 1

    await hub.publish(InteractionAccepted(at=T0 + 23, interaction_id="int-2", agent_id="alice",
                                          interaction={}))
    assert (await board.levels(3600, T0 + 23))["support"]["chat"]["answered"] == 2

    await answered(store, "int-3", customer.id)
    assert (await board.levels(3600, T0 + 23 + MAX_AGE + 1))["support"]["chat"]["answered"] == 3


class CountedLog:
    """The store's real log, counting the range reads the board makes."""

    def __init__(self, log: EventLogRecords) -> None:
        self._log = log
        self.reads = 0

    async def record(self, entries: Sequence[LogEntry]) -> int:
        return await self._log.record(entries)

    async def of(self, interaction_id: str) -> Sequence[LogEntry]:
        return await self._log.of(interaction_id)

    async def touching(self, start: float, end: float, *,
                       channels: Iterable[str] | None = None) -> Mapping[str, Sequence[LogEntry]]:
        self.reads += 1
        return await self._log.touching(start, end, channels=channels)


@pytest.fixture
async def pg_store(pg_schema: str) -> AsyncIterator[SqlContextStore]:
    """PostgreSQL: its reads wait on the network, so boards asking together really overlap."""
    await upgrade_async(pg_schema)
    the_store = SqlContextStore(url=pg_schema, clock=ManualClock(T0), ids=SequentialIds())
    await the_store.start()
    yield the_store
    await the_store.aclose()


@pytest.mark.integration
async def test_boards_asking_together_after_an_answer_read_the_log_once(pg_store: SqlContextStore) -> None:
    store = pg_store
    hub = EventHub(node_id="n")
    counted = CountedLog(store.event_log)
    board = ServiceLevelBoard(log=counted, hub=hub, targets=lambda queue, channel: 60.0)
    customer = await store.resolve_customer([Identity(IdentityKind.EMAIL, "a@b.c")], display_name=None,
                                            actor="t", reason="r")
    await answered(store, "int-1", customer.id)
    await hub.publish(InteractionAccepted(at=T0 + 20, interaction_id="int-1", agent_id="alice",
                                          interaction={}))
    boards = await asyncio.gather(*(board.levels(3600, T0 + 20) for _ in range(20)))
    assert all(b["support"]["chat"]["answered"] == 1 for b in boards)
    assert counted.reads == 1, counted.reads
