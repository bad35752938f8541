"""PostgreSQL connections come from psycopg's pool: bounded, and healed after a cut."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import text

import context.db
from context.db import Database
from cti.errors import Unavailable

pytestmark = pytest.mark.integration


def _plain(url: str) -> str:
    return url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")


async def _one(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(text("SELECT 1"))).scalar_one())


async def test_a_connection_cut_while_idle_is_replaced_before_anyone_uses_it(
        pg_schema: str, unique_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context.db, "PG_IDLE_PING", 0.0)  # every connection counts as idle
    db = Database(url=f"{pg_schema}&application_name={unique_prefix}")
    await db.start()
    try:
        assert await _one(db) == 1
        # What a restarted server or a proxy's idle timeout does to the pool's connections.
        with psycopg.connect(_plain(pg_schema), autocommit=True) as admin:
            cut = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE application_name = %s", (unique_prefix,)).fetchone()
        assert cut is not None and cut[0] >= 1
        assert await _one(db) == 1, "the caller must not see the dead connection"
    finally:
        await db.aclose()


async def test_callers_beyond_the_waiting_cap_get_a_clear_refusal_at_once(
        pg_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context.db, "PG_CONNECTIONS", 1)
    monkeypatch.setattr(context.db, "PG_MAX_WAITING", 1)
    db = Database(url=pg_schema)
    await db.start()
    release, held = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
            held.set()
            await release.wait()

    try:
        holder = asyncio.create_task(hold())
        await asyncio.wait_for(held.wait(), 10)
        waiting = asyncio.create_task(_one(db))  # waits its turn for the only connection
        await asyncio.sleep(0.2)
        with pytest.raises(Unavailable) as refused:
            await asyncio.wait_for(_one(db), 5)
        assert refused.value.error_id == "database-busy"
        release.set()
        await holder
        assert await asyncio.wait_for(waiting, 10) == 1, "the caller who waited is served"
    finally:
        release.set()
        await db.aclose()
