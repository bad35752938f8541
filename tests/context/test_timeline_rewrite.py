"""The timeline statement read off the roots that messages and notes carry (migration 0012)
returns exactly what the statement that went through the customer's interactions returned: on
random histories with ties in time, merges, an unmerge and an interaction moved to another
customer, page after page, for every customer."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.timeline_before import timeline_query as before_query
from context.store import SqlContextStore
from context.timeline import Cursor, timeline_query
from cti.domain import Channel, Direction, InteractionState, MessageSender
from tests.context.builders import T0, interaction, message, note, phone

CUSTOMERS = 6


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def _history(store: SqlContextStore, rnd: random.Random) -> list[str]:
    """Random customers and history; returns every customer id (merged ones too)."""
    people = [await store.resolve_customer([phone(f"+1555000{n:04d}")], display_name=None, actor="t",
                                           reason="r") for n in range(CUSTOMERS)]
    ids = [c.id for c in people]
    # Few distinct times, so that entries of every kind tie on ``at`` and the order falls to (id, kind).
    times = [T0 + rnd.randrange(40) for _ in range(200)]
    saved = []
    for n in range(25):
        saved.append(await store.save_interaction(interaction(
            f"int-{n:02d}", rnd.choice(ids), at=rnd.choice(times), channel=rnd.choice(list(Channel)),
            state=rnd.choice([InteractionState.QUEUED, InteractionState.CLOSED]),
            direction=rnd.choice(list(Direction)))))
    for n in range(90):
        # Some message ids equal interaction ids: the kind breaks the tie.
        mid = f"int-{n:02d}" if n % 9 == 0 else f"msg-{n:02d}"
        await store.add_message(message(mid, rnd.choice(saved).id, f"body {n} " * rnd.randrange(1, 12),
                                        at=rnd.choice(times), sender=rnd.choice(list(MessageSender))))
    for n in range(25):
        await store.add_note(note(f"not-{n:02d}", rnd.choice(saved).id, f"note {n}", at=rnd.choice(times)))
    # Merges (one of them undone) and an interaction that moves to another customer: the roots
    # messages and notes carry must follow.
    await store.link_identities(phone("+15550000000"), phone("+15550000001"), actor="t", reason="r")
    await store.link_identities(phone("+15550000002"), phone("+15550000003"), actor="t", reason="r")
    await store.link_identities(phone("+15550000000"), phone("+15550000002"), actor="t", reason="r")
    undone = (await store.merges(ids[2]))[-1]
    await store.unmerge(undone.id, actor="t")
    moved = await store.interaction(saved[3].id)
    await store.save_interaction(dataclasses.replace(moved, customer_id=ids[5]))
    return ids


async def _pages(conn: AsyncConnection, customer_id: str, size: int, *, old: bool) -> list[list[Row[object]]]:
    build = before_query if old else timeline_query
    pages: list[list[Row[object]]] = []
    cursor: Cursor | None = None
    while True:
        statement = build(customer_id, limit=size + 1, before=cursor, body_limit=30)
        rows = list((await conn.execute(statement)).all())
        pages.append(rows[:size])
        if len(rows) <= size:
            return pages
        last = rows[size - 1]
        cursor = Cursor(at=last.at, id=last.id, kind=last.kind)


@pytest.mark.long
@pytest.mark.parametrize("seed", [1, 2])
async def test_the_same_rows_as_before(store: SqlContextStore, conn: AsyncConnection, seed: int) -> None:
    rnd = random.Random(seed)
    ids = await _history(store, rnd)
    seen = 0
    for customer_id in ids:
        for size in (1, 5, 51):
            before = await _pages(conn, customer_id, size, old=True)
            now = await _pages(conn, customer_id, size, old=False)
            assert [[tuple(r) for r in page] for page in now] == [[tuple(r) for r in page] for page in before]
            seen += sum(map(len, now))
            # The store's pages (statements built once per kind of cursor, values bound) too.
            served, cursor = [], None
            while True:
                got = await store.timeline(customer_id, limit=size, before=cursor)
                served.append([(e.kind, e.id, e.at, e.interaction_id) for e in got.entries])
                if (cursor := got.next_cursor) is None:
                    break
            assert served == [[(r.kind, r.id, r.at, r.interaction_id) for r in page] for page in before]
    assert seen > 0
