"""The async engine and its transactions: read, and write with retry on races.

SQLite (the embedded default) runs with WAL and foreign keys on; a write transaction starts with
``BEGIN IMMEDIATE`` so that writers queue on the database lock instead of failing when a read
snapshot would have to be upgraded. PostgreSQL runs at READ COMMITTED; the few places where two
writers can race take row locks, and what is left (two inserts of the same new key, a deadlock)
is retried here a few times from the start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from cti.errors import Conflict

log = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_ATTEMPTS = 6
_IMMEDIATE = "cti_sqlite_immediate"
# PostgreSQL: serialization failure, deadlock detected.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})


class Retry(Exception):
    """Raised inside a write transaction when what it read changed under it: start again."""


class Database:
    """Owns the engine; hands out transactions. ``start()`` connects nothing yet (lazy pool)."""

    def __init__(self, *, url: str, engine_kwargs: dict[str, Any] | None = None) -> None:
        self._url = url
        self._engine_kwargs = dict(engine_kwargs or {})
        self._engine: AsyncEngine | None = None
        self._writer: AsyncEngine | None = None
        # SQLite has one writer at a time: writers queue here, in order, rather than in SQLite's
        # busy handler, which polls with sleeps and made the write lock the p99.
        self._write_turn: asyncio.Lock | None = None

    @property
    def is_sqlite(self) -> bool:
        return make_url(self._url).get_backend_name() == "sqlite"

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the context store is not started")
        return self._engine

    async def start(self) -> None:
        if self._engine is not None:
            return
        kwargs = dict(self._engine_kwargs)
        if self.is_sqlite:
            connect_args = dict(kwargs.pop("connect_args", {}))
            connect_args.setdefault("timeout", 30.0)
            # A fixed pool: each aiosqlite connection is a thread, and overflow connections were
            # opened and closed (a thread each time) under load.
            kwargs.setdefault("pool_size", 8)
            kwargs.setdefault("max_overflow", 0)
            engine = create_async_engine(self._url, connect_args=connect_args, **kwargs)
            _sqlite_setup(engine)
            self._write_turn = asyncio.Lock()
        else:
            kwargs.setdefault("pool_pre_ping", True)
            engine = create_async_engine(self._url, **kwargs)
        self._engine = engine
        self._writer = engine.execution_options(**{_IMMEDIATE: True})
        log.info("context store engine created backend=%s", engine.dialect.name)

    async def aclose(self) -> None:
        engine, self._engine, self._writer = self._engine, None, None
        if engine is not None:
            await engine.dispose()
            log.info("context store engine disposed")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction, rolled back at the end."""
        async with self.engine.connect() as conn:
            yield conn

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction, from the start again if it lost a race."""
        if self._writer is None:
            raise RuntimeError("the context store is not started")
        last: Exception | None = None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                if self._write_turn is not None:
                    async with self._write_turn, self._writer.begin() as conn:
                        return await work(conn)
                async with self._writer.begin() as conn:
                    return await work(conn)
            except (Retry, IntegrityError) as exc:
                last = exc
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) not in _RETRY_SQLSTATES:
                    raise
                last = exc
            log.debug("write transaction lost a race (%s), attempt %d", type(last).__name__, attempt)
            await asyncio.sleep(0.005 * attempt)
        raise Conflict("concurrent-update",
                       "the data changed concurrently too many times; try again") from last


def _sqlite_setup(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and our own BEGIN (deferred to read, IMMEDIATE to write)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Stop the driver from issuing BEGIN itself; the "begin" hook below does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
