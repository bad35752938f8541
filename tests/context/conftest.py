"""Context-store fixtures: every test runs on a SQLite file and on PostgreSQL.

Each PostgreSQL test gets its own schema (``search_path`` set through the psycopg ``options``
connection parameter carried in the URL, so the migration, its ``alembic_version`` table and the
store all land there) and drops it afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from context.migrate import upgrade, upgrade_async
from context.store import SqlContextStore
from cti.clock import ManualClock, SequentialIds

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)]


def _libpq(url: str) -> str:
    """The server part of a SQLAlchemy PostgreSQL URL, for a plain psycopg connection."""
    return make_url(url).set(drivername="postgresql", query={}).render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def blank_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path,
              unique_prefix: str) -> Iterator[str]:
    """An empty database (not migrated) of each backend."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    server = _libpq(base)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{unique_prefix}"')
    try:
        yield (make_url(base).update_query_dict({"options": f"-csearch_path={unique_prefix}"})
               .render_as_string(hide_password=False))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{unique_prefix}" CASCADE')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated by ``upgrade``, copied for each test (it saves a second a run)."""
    path = tmp_path_factory.mktemp("template") / "cti.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def db_url(backend: str, blank_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database."""
    if backend == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "cti.db")
    else:
        await upgrade_async(blank_url)
    return blank_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


@pytest.fixture
def ids() -> SequentialIds:
    return SequentialIds()


@pytest.fixture
async def store(db_url: str, clock: ManualClock, ids: SequentialIds) -> AsyncIterator[SqlContextStore]:
    the_store = SqlContextStore(url=db_url, clock=clock, ids=ids, timeline_body_limit=40)
    await the_store.start()
    try:
        yield the_store
    finally:
        await the_store.aclose()
