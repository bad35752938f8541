"""The boards' service levels: read from the event log once, served again until a customer is
answered or leaves."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti import lifecycle
from cti.clock import ManualClock, SequentialIds
from cti.domain import Identity, IdentityKind, InteractionState
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
