"""Races: many callers resolving or writing the same thing at once."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from context.db import WRITE_ATTEMPTS, Database, Retry
from context.models import customers, identities, messages
from context.store import SqlContextStore
from cti.clock import ManualClock, UuidIds
from cti.errors import Conflict
from tests.context.builders import T0, email, interaction, message, phone

TASKS = 20


async def _count(url: str, table: object) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_one_customer_for_one_new_identity(db_url: str, clock: ManualClock) -> None:
    store = SqlContextStore(url=db_url, clock=clock, ids=UuidIds())
    await store.start()
    try:
        results = await asyncio.gather(*(
            store.resolve_customer([phone("+15550001111"), email(f"user{n}@example.com")], display_name=None,
                                   actor="s", reason="race")
            for n in range(TASKS)))
        assert len({c.id for c in results}) == 1
        final = await store.find_customer(phone("+15550001111"))
        assert final is not None
        assert len(final.identities) == TASKS + 1
    finally:
        await store.aclose()
    assert await _count(db_url, customers) == 1
    assert await _count(db_url, identities) == TASKS + 1


async def test_racing_merges_end_in_one_customer(db_url: str, clock: ManualClock) -> None:
    """Ten customers, then every neighbouring pair proven the same person at once."""
    store = SqlContextStore(url=db_url, clock=clock, ids=UuidIds())
    await store.start()
    try:
        made = []
        for n in range(10):
            made.append(await store.resolve_customer([phone(f"+1555000000{n}")], display_name=None,
                                                     actor="s", reason="r"))
            await store.save_interaction(interaction(f"int-{n}", made[-1].id, at=T0 + n))
            clock.advance(1)
        await asyncio.gather(*(
            store.resolve_customer([phone(f"+1555000000{n}"), phone(f"+1555000000{n + 1}")],
                                   display_name=None, actor="s", reason="pair")
            for n in range(9)))
        roots = {(await store.customer(c.id)).id for c in made}
        assert roots == {made[0].id}
        assert len((await store.customer(made[0].id)).identities) == 10
        page = await store.timeline(made[0].id)
        assert sorted(e.id for e in page.entries) == sorted(f"int-{n}" for n in range(10))
        assert len(await store.merges(made[0].id)) == 9
        # Undo everything, in any order: ten customers again, each with its own interaction.
        for record in await store.merges(made[0].id):
            await store.unmerge(record.id, actor="sup")
        for n, c in enumerate(made):
            assert [e.id for e in (await store.timeline(c.id)).entries] == [f"int-{n}"]
    finally:
        await store.aclose()


async def test_a_webhook_delivered_many_times_at_once(db_url: str, clock: ManualClock) -> None:
    store = SqlContextStore(url=db_url, clock=clock, ids=UuidIds())
    await store.start()
    try:
        customer = await store.resolve_customer([phone("+15550001111")], display_name=None, actor="s",
                                                reason="r")
        await store.save_interaction(interaction("int-1", customer.id, at=T0))
        stored = await asyncio.gather(*(
            store.add_message(message(f"msg-{n}", "int-1", "hello", at=T0 + 1, ref="SM1"))
            for n in range(TASKS)))
        assert sorted(stored) == [False] * (TASKS - 1) + [True]
        assert len(await store.messages("int-1")) == 1
    finally:
        await store.aclose()
    assert await _count(db_url, messages) == 1


async def test_a_write_that_keeps_losing_gives_up_with_a_conflict(db_url: str) -> None:
    db = Database(url=db_url)
    await db.start()
    attempts = 0

    async def always_loses(conn: AsyncConnection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute(insert(customers).values(id=f"cus-{attempts}", created_at=1.0,
                                                    root_id=f"cus-{attempts}"))
        raise Retry

    try:
        with pytest.raises(Conflict) as caught:
            await db.write(always_loses)
    finally:
        await db.aclose()
    assert caught.value.error_id == "concurrent-update"
    assert attempts == WRITE_ATTEMPTS
    assert await _count(db_url, customers) == 0  # every attempt was rolled back


async def test_sqlite_runs_in_wal_mode(tmp_path: Path, sqlite_template: Path, clock: ManualClock) -> None:
    path = tmp_path / "wal.db"
    shutil.copyfile(sqlite_template, path)
    store = SqlContextStore(url=f"sqlite+aiosqlite:///{path}", clock=clock, ids=UuidIds())
    await store.start()
    try:
        await store.resolve_customer([phone("+15550001111")], display_name=None, actor="s", reason="r")
    finally:
        await store.aclose()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
