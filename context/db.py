"""The database and its transactions: read, and write with retry on races.

SQLite (the embedded default) runs with WAL and foreign keys on; a write transaction starts with
``BEGIN IMMEDIATE`` so that writers queue on the database lock instead of failing when a read
snapshot would have to be upgraded. PostgreSQL runs at READ COMMITTED; the few places where two
writers can race take row locks, and what is left (two inserts of the same new key, a deadlock)
is retried here a few times from the start.

SQLite statements run inline, on the event loop, through the standard library's driver. The
database is a local file whose statements take tens of microseconds, while a hop to a driver
thread and back (aiosqlite) cost about 0.4 ms of CPU per statement: measured, 458 us against
51 us for a primary-key read, and that hop was most of the CPU a chat cost the server. What
could stall the loop is kept off it: writers queue on an asyncio lock (never in SQLite's busy
handler), read transactions wait for a connection on an asyncio semaphore (never in the pool),
and WAL checkpoints, which fsync, run in a thread (``_Checkpointer``).

Callers see one small interface, ``Conn``: ``await conn.execute(statement)`` and
``conn.dialect``. PostgreSQL's ``AsyncConnection`` is one; SQLite's inline connection is another.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, StaticPool
from sqlalchemy.sql.base import Executable
from sqlalchemy.util.typing import TupleAny, TypeVarTuple, Unpack

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import _CoreAnyExecuteParams
    from sqlalchemy.sql.selectable import TypedReturnsRows

from cti.errors import Conflict, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")

WRITE_ATTEMPTS = 6
_IMMEDIATE = "cti_sqlite_immediate"
# PostgreSQL: serialization failure, deadlock detected.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
# SQLite connections: the writer plus readers that may be open at once (a read transaction can
# stay open across awaits, e.g. while a page is streamed).
SQLITE_CONNECTIONS = 8
CHECKPOINT_EVERY = 1.0  # seconds between WAL checkpoints (in a thread)
SQLITE_WAIT = 30.0  # seconds a caller may wait for SQLite's writer turn or a connection
# PostgreSQL, per node: connections, how long a caller may wait for one, how many may wait.
PG_CONNECTIONS = 15
PG_WAIT = 30.0
PG_MAX_WAITING = 2000
PG_MAX_IDLE = 600.0  # seconds before an idle connection above the minimum is closed
PG_IDLE_PING = 10.0  # a connection idle this long is checked before it is handed out


class Conn(Protocol):
    """What the context store's queries use of a connection: statements, and the dialect."""

    @property
    def dialect(self) -> Dialect: ...

    # The overloads mirror SQLAlchemy's own, so a typed select keeps its row types.
    @overload
    async def execute(self, statement: TypedReturnsRows[Unpack[_Ts]],
                      parameters: _CoreAnyExecuteParams | None = None) -> CursorResult[Unpack[_Ts]]: ...

    @overload
    async def execute(self, statement: Executable,
                      parameters: _CoreAnyExecuteParams | None = None) -> CursorResult[Unpack[TupleAny]]: ...

    async def execute(self, statement: Executable,
                      parameters: _CoreAnyExecuteParams | None = None) -> CursorResult[Unpack[TupleAny]]: ...


class Retry(Exception):
    """Raised inside a write transaction when what it read changed under it: start again."""


class _InlineConnection:
    """A sync SQLAlchemy connection behind ``Conn``: each statement runs at once, on the loop."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    async def execute(self, statement: Executable,
                      parameters: _CoreAnyExecuteParams | None = None) -> CursorResult[Unpack[TupleAny]]:
        return self._conn.execute(statement, parameters)


class Database:
    """Owns the engine; hands out transactions. ``start()`` connects nothing yet (lazy pool)."""

    def __init__(self, *, url: str, engine_kwargs: dict[str, Any] | None = None,
                 on_transaction: Callable[[str, float], None] | None = None) -> None:
        self._url = url
        # Told ("read" or "write", seconds) after each transaction, waits for a connection
        # included: what a caller of the store felt (the server's database latency metric).
        self._on_transaction = on_transaction
        self._engine_kwargs = dict(engine_kwargs or {})
        self._engine: AsyncEngine | None = None  # PostgreSQL
        self._writer: AsyncEngine | None = None
        self._sqlite: Engine | None = None
        self._sqlite_writer: Engine | None = None
        # SQLite has one writer at a time: writers queue here, in order, rather than in SQLite's
        # busy handler, which sleeps (here: on the event loop).
        self._write_turn: asyncio.Lock | None = None
        self._connections: asyncio.Semaphore | None = None
        self._checkpointer: _Checkpointer | None = None
        self._pg_pool: AsyncConnectionPool[Any] | None = None

    @property
    def is_sqlite(self) -> bool:
        return make_url(self._url).get_backend_name() == "sqlite"

    @property
    def started(self) -> bool:
        return self._engine is not None or self._sqlite is not None

    async def start(self) -> None:
        if self.started:
            return
        kwargs = dict(self._engine_kwargs)
        if self.is_sqlite:
            self._start_sqlite(kwargs)
            return
        await self._start_postgres(kwargs)

    async def _start_postgres(self, kwargs: dict[str, Any]) -> None:
        """SQLAlchemy over psycopg's async pool: SQLAlchemy's own pool steps aside (NullPool),
        and a connection SQLAlchemy "closes" goes back to psycopg's pool (``close_returns``).

        psycopg's pool bounds the callers waiting for a connection (``max_waiting``: beyond it
        a caller is refused at once instead of queueing without end), reconnects with back-off
        when the server was away, and checks a connection before handing it out only when it
        has been idle (``_IdlePing``): SQLAlchemy's ``pool_pre_ping`` paid a round trip on every
        checkout, hot or not (measured: 754 against 527 us of CPU per read transaction).
        """
        size = int(kwargs.pop("pool_size", PG_CONNECTIONS))
        kwargs.pop("max_overflow", None)
        kwargs.pop("pool_pre_ping", None)
        pool: AsyncConnectionPool[Any] | None = None

        async def connection() -> Any:
            if pool is None:
                raise RuntimeError("the context store is not started")
            return await pool.getconn()

        engine = create_async_engine(self._url, poolclass=NullPool, async_creator=connection,
                                     pool_reset_on_return=None, **kwargs)
        _, connect_kwargs = engine.dialect.create_connect_args(engine.url)
        idle = _IdlePing(PG_IDLE_PING)
        pool = AsyncConnectionPool(
            "", kwargs=dict(connect_kwargs), min_size=min(2, size), max_size=size, open=False,
            close_returns=True, timeout=PG_WAIT, max_waiting=PG_MAX_WAITING, max_idle=PG_MAX_IDLE,
            check=idle.check, reset=idle.returned, name="cti-context")
        await pool.open(wait=False)
        self._pg_pool = pool
        self._engine = engine
        self._writer = engine.execution_options(**{_IMMEDIATE: True})
        log.info("context store engine created backend=%s pool=psycopg max=%d", engine.dialect.name, size)

    def _start_sqlite(self, kwargs: dict[str, Any]) -> None:
        url = make_url(self._url).set(drivername="sqlite+pysqlite")
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", 30.0)  # another process holding the lock, rarely
        # Connections are used on the loop only, one at a time each, but not always the thread
        # that opened them (the pool opens them lazily).
        connect_args["check_same_thread"] = False
        size = int(kwargs.pop("pool_size", SQLITE_CONNECTIONS))
        kwargs.pop("max_overflow", None)
        memory = url.database in (None, "", ":memory:")
        if memory:
            # One in-memory database is one connection: share it.
            engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool, **kwargs)
            size = 1
        else:
            engine = create_engine(url, connect_args=connect_args, pool_size=size, max_overflow=0,
                                   **kwargs)
        _sqlite_setup(engine, checkpoint_inline=memory)
        self._sqlite = engine
        self._sqlite_writer = engine.execution_options(**{_IMMEDIATE: True})
        self._write_turn = asyncio.Lock()
        self._connections = asyncio.Semaphore(size)
        if not memory:
            self._checkpointer = _Checkpointer(str(url.database))
        log.info("context store engine created backend=sqlite inline=yes connections=%d", size)

    async def aclose(self) -> None:
        engine, self._engine, self._writer = self._engine, None, None
        if engine is not None:
            await engine.dispose()
            log.info("context store engine disposed")
        pg_pool, self._pg_pool = self._pg_pool, None
        if pg_pool is not None:
            await pg_pool.close()
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await asyncio.to_thread(checkpointer.stop)
        sqlite, self._sqlite, self._sqlite_writer = self._sqlite, None, None
        if sqlite is not None:
            sqlite.dispose()
            log.info("context store engine disposed")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        """A read-only transaction, rolled back at the end."""
        if self._on_transaction is None:
            async with self._read() as conn:
                yield conn
            return
        started = time.perf_counter()
        try:
            async with self._read() as conn:
                yield conn
        finally:
            self._on_transaction("read", time.perf_counter() - started)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Conn]:
        if self._sqlite is not None and self._connections is not None:
            async with _turn(self._connections):
                with self._sqlite.connect() as conn:
                    yield _InlineConnection(conn)
            return
        if self._engine is None:
            raise RuntimeError("the context store is not started")
        with _pool_refusals():
            aconn = await self._engine.connect().start()
        try:
            yield aconn
        finally:
            await aconn.close()

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction, from the start again if it lost a race."""
        if self._on_transaction is None:
            return await self._write(work)
        started = time.perf_counter()
        try:
            return await self._write(work)
        finally:
            self._on_transaction("write", time.perf_counter() - started)

    async def _write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        last: Exception | None = None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return await self._write_once(work)
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

    async def _write_once(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        writer = self._sqlite_writer
        if writer is not None and self._write_turn is not None and self._connections is not None:
            async with _turn(self._write_turn), _turn(self._connections):
                with writer.begin() as conn:
                    return await work(_InlineConnection(conn))
        if self._writer is None:
            raise RuntimeError("the context store is not started")
        with _pool_refusals():
            aconn = await self._writer.connect().start()
        try:
            async with aconn.begin():
                return await work(aconn)
        finally:
            await aconn.close()


def _busy(why: str) -> Unavailable:
    """No connection for a caller in time (SQLite or PostgreSQL alike): a typed 503."""
    return Unavailable("database-busy", "the database is busy; try again shortly", why=why)


@asynccontextmanager
async def _turn(gate: asyncio.Lock | asyncio.Semaphore) -> AsyncIterator[None]:
    """SQLite's writer lock or a connection, waited for at most ``SQLITE_WAIT`` seconds: a caller
    never waits for ever (as a pool's checkout timeout would also ensure), it gets a typed 503."""
    try:
        async with asyncio.timeout(SQLITE_WAIT):
            await gate.acquire()
    except TimeoutError:
        raise _busy("no connection in time") from None
    try:
        yield
    finally:
        gate.release()


@contextmanager
def _pool_refusals() -> Iterator[None]:
    """No connection for this caller in time, or too many callers waiting: a typed 503."""
    try:
        yield
    except DBAPIError as exc:  # SQLAlchemy wraps what the pool raises (psycopg errors)
        if not isinstance(exc.orig, PoolTimeout | TooManyRequests):
            raise
        raise _busy(type(exc.orig).__name__) from exc


class _IdlePing:
    """psycopg pool hooks: ping a connection before use only when it sat idle for a while.

    A connection that was just used is almost surely alive; one idle for long may have been cut
    (a restarted server, a proxy's idle timeout), and handing it out would fail the caller's
    first statement.
    """

    def __init__(self, idle: float) -> None:
        self._idle = idle
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def returned(self, conn: Any) -> None:
        self._returned[conn] = time.monotonic()

    async def check(self, conn: Any) -> None:
        last = self._returned.get(conn)
        if last is None or time.monotonic() - last >= self._idle:
            await AsyncConnectionPool.check_connection(conn)


class _Checkpointer:
    """Copies the WAL back into the database file from a thread, so its fsync never stalls the loop.

    The loop's connections have SQLite's automatic checkpoints turned off (they would run inside
    whichever commit crossed the threshold). This thread has its own connection, outside the
    pool, and runs a passive checkpoint every second: passive never waits for readers or the
    writer, and once it has copied everything the next writer starts the WAL over.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(CHECKPOINT_EVERY):
                try:
                    if conn is None:
                        conn = sqlite3.connect(self._path, timeout=1.0, isolation_level=None)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    log.warning("sqlite checkpoint failed; retried in %.0f s", CHECKPOINT_EVERY,
                                exc_info=True)
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _sqlite_setup(engine: Engine, *, checkpoint_inline: bool) -> None:
    """WAL, foreign keys, and our own BEGIN (deferred to read, IMMEDIATE to write)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Stop the driver from issuing BEGIN itself; the "begin" hook below does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            if not checkpoint_inline:
                cursor.execute("PRAGMA wal_autocheckpoint=0")  # _Checkpointer does it
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
