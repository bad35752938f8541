"""Database migrations, run from code: ``upgrade(url)`` is what ``cti db upgrade`` does.

The Alembic configuration is built here (no ``alembic.ini`` needed in the working directory)
with ``script_location`` on this package's ``migrations`` folder. The application's URLs name
async drivers (``sqlite+aiosqlite``, ``postgresql+psycopg``); migrations run on the matching
sync driver in a plain thread, so ``upgrade`` works with or without an event loop around it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_Action = Callable[[Config], None]

_SYNC_DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}


def sync_url(url: str | URL) -> URL:
    """The same database through a sync driver (aiosqlite -> pysqlite, async PG -> psycopg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    return parsed.set(drivername=_SYNC_DRIVERS[backend]) if backend in _SYNC_DRIVERS else parsed


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` in memory; ``connection``, when given, is the one env.py migrates."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; a database already there is left alone."""
    _run(url, lambda config: command.upgrade(config, revision))
    log.info("database upgraded to %s", revision)


def downgrade(url: str, revision: str) -> None:
    _run(url, lambda config: command.downgrade(config, revision))
    log.info("database downgraded to %s", revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """``upgrade`` off the event loop (the migration does blocking I/O)."""
    await asyncio.to_thread(upgrade, url, revision)


def _run(url: str, action: _Action) -> None:
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            action(alembic_config(connection))
    finally:
        engine.dispose()
