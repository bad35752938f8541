"""Alembic environment: migrates the connection ``context.migrate`` hands over.

Run by hand (``alembic -c context/alembic.ini ...``) it connects to ``sqlalchemy.url`` from the
ini file or, when set, the ``CTI_DB`` environment variable, through the matching sync driver.
"""

from __future__ import annotations

import os

from alembic import context as migration
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from context.migrate import sync_url
from context.models import Base

config = migration.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    migration.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with migration.begin_transaction():
        migration.run_migrations()


def _url() -> str:
    url = os.environ.get("CTI_DB") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set CTI_DB or sqlalchemy.url")
    return url


given: Connection | None = config.attributes.get("connection")
if migration.is_offline_mode():
    migration.configure(url=str(sync_url(_url())), target_metadata=target_metadata, literal_binds=True)
    with migration.begin_transaction():
        migration.run_migrations()
elif given is not None:
    _migrate(given)
else:
    engine = create_engine(sync_url(_url()), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()
