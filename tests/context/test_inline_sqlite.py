"""SQLite runs inline on the event loop: what could stall the loop must wait on the loop instead."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

import context.db
from context.db import SQLITE_CONNECTIONS, Conn, Database
from cti.errors import Unavailable


async def _count(conn: Conn) -> int:
    return int((await conn.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def test_a_read_waits_for_a_connection_without_blocking_the_loop(tmp_path: Path) -> None:
    db = Database(url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await db.start()
    try:
        async def create(conn: Conn) -> None:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        await db.write(create)

        release, all_held = asyncio.Event(), asyncio.Event()
        holding = 0

        async def hold() -> None:
            nonlocal holding
            async with db.read() as conn:
                await _count(conn)
                holding += 1
                if holding == SQLITE_CONNECTIONS:
                    all_held.set()
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(SQLITE_CONNECTIONS)]
        await asyncio.wait_for(all_held.wait(), 5)

        async def one_more() -> int:
            async with db.read() as conn:
                return await _count(conn)

        late = asyncio.create_task(one_more())
        ticks = 0
        for _ in range(20):  # the loop keeps running while every connection is taken
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 20 and not late.done()
        release.set()
        assert await asyncio.wait_for(late, 5) == 0
        await asyncio.gather(*holders)
    finally:
        await db.aclose()


async def test_committed_rows_reach_the_database_file_while_the_server_runs(tmp_path: Path) -> None:
    """Checkpoints run in a thread: the WAL is copied into the file without a shutdown."""
    path = tmp_path / "x.db"
    db = Database(url=f"sqlite+aiosqlite:///{path}")
    await db.start()
    try:
        async def fill(conn: Conn) -> None:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t (n) VALUES (:n)"), [{"n": n} for n in range(500)])
        await db.write(fill)

        def rows_in_the_file_alone() -> int:
            copy = tmp_path / "copy.db"  # the main file without its -wal: what a crash would keep
            copy.write_bytes(path.read_bytes())
            try:
                with sqlite3.connect(copy) as check:
                    return int(check.execute("SELECT count(*) FROM t").fetchone()[0])
            except sqlite3.OperationalError:
                return 0  # the table itself is still only in the WAL

        for _ in range(100):
            if rows_in_the_file_alone() == 500:
                break
            await asyncio.sleep(0.05)
        assert rows_in_the_file_alone() == 500
    finally:
        await db.aclose()


async def test_a_caller_never_waits_for_ever_for_a_connection(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context.db, "SQLITE_WAIT", 0.2)
    db = Database(url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await db.start()
    release, all_held = asyncio.Event(), asyncio.Event()
    holding = 0

    async def hold() -> None:
        nonlocal holding
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
            holding += 1
            if holding == SQLITE_CONNECTIONS:
                all_held.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(SQLITE_CONNECTIONS)]
    try:
        await asyncio.wait_for(all_held.wait(), 5)

        async def read_one() -> None:
            async with db.read() as conn:
                await conn.execute(text("SELECT 1"))

        async def write_one(conn: Conn) -> None:
            await conn.execute(text("SELECT 1"))

        with pytest.raises(Unavailable) as refused:
            await asyncio.wait_for(read_one(), 5)
        assert refused.value.error_id == "database-busy"
        with pytest.raises(Unavailable):
            await asyncio.wait_for(db.write(write_one), 5)
    finally:
        release.set()
        await asyncio.gather(*holders)
        await db.aclose()
