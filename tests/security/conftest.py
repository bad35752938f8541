"""Fixtures of the security tests."""

from __future__ import annotations

import pytest

from cti.app import ServerSettings
from tests.adapters.email.peers import free_port


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> ServerSettings | None:
    """One node on SQLite (None: the center's default) or on a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return None
    return ServerSettings(db_url=str(request.getfixturevalue("pg_schema")), node_id="pg")
