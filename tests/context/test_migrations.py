"""The migration: idempotent, reversible, and the same schema as the models on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Index, MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url

from context.migrate import downgrade, sync_url, upgrade
from context.models import Base

TABLES = {"customers", "identities", "merges", "interactions", "interaction_refs", "interaction_context",
          "messages", "notes", "audit_log", "inbound_claims", "channel_cursors", "interaction_holders",
          "customer_shares", "message_attachments", "revoked_tokens", "ws_tickets", "credential_upgrades",
          "interaction_identities", "merge_suggestions", "one_time_codes", "chat_sessions",
          "webhook_deliveries",
          "agent_states", "config_versions", "interaction_events", "chat_consults",
          "campaigns", "campaign_acks", "kb_articles", "kb_article_versions", "kb_article_tags"}
ROOT = Path(__file__).resolve().parents[2]
HEAD = "0024"  # the newest revision: every upgrade ends there


def _modelled(name: str | None, kind: str, _parent: object) -> bool:
    """The knowledge search table has each backend's own shape (FTS5 with its shadow tables, or
    tsvector columns) and no model: tests/context/test_knowledge.py checks it on both."""
    return not (kind == "table" and name is not None and name.startswith("kb_search"))


def _schema_diff(url: str, metadata: MetaData) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": _modelled}), metadata))
    finally:
        engine.dispose()


def _state(url: str) -> tuple[set[str], list[str], str | None]:
    """(tables, alembic versions, the schema alembic_version lives in on PostgreSQL)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            tables = {t for t in inspect(conn).get_table_names() if _modelled(t, "table", None)}
            versions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
            schema = None
            if conn.dialect.name == "postgresql":
                schema = conn.execute(text(
                    "SELECT table_schema FROM information_schema.tables WHERE table_name = 'alembic_version' "
                    "AND table_schema = current_schema()")).scalar_one_or_none()
            return tables, versions, schema
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(blank_url: str, unique_prefix: str) -> None:
    upgrade(blank_url)
    engine = create_engine(sync_url(blank_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO customers (id, created_at, root_id) "
                              "VALUES ('cus-1', 1.0, 'cus-1')"))
    finally:
        engine.dispose()

    upgrade(blank_url)

    tables, versions, schema = _state(blank_url)
    assert tables == TABLES | {"alembic_version"}
    assert versions == [HEAD]
    if make_url(blank_url).get_backend_name() == "postgresql":
        assert schema == unique_prefix  # the test's own schema, not public
    engine = create_engine(sync_url(blank_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM customers")).scalars().all() == ["cus-1"]
    finally:
        engine.dispose()


def test_the_migration_builds_exactly_the_models(blank_url: str) -> None:
    upgrade(blank_url)
    assert _schema_diff(blank_url, Base.metadata) == []

    # The comparison does see a difference when there is one.
    changed = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    Index("ix_extra", changed.tables["notes"].c.author_id)
    diff = _schema_diff(blank_url, changed)
    assert [d[0] for d in diff] == ["add_index"]  # type: ignore[index]


def test_downgrade_and_upgrade_again(blank_url: str) -> None:
    upgrade(blank_url)
    downgrade(blank_url, "base")
    tables, versions, _ = _state(blank_url)
    assert (tables, versions) == ({"alembic_version"}, [])
    upgrade(blank_url)
    assert _state(blank_url)[:2] == (TABLES | {"alembic_version"}, [HEAD])


@pytest.mark.parametrize(("given", "expected"), [
    ("sqlite+aiosqlite:///cti.db", "sqlite+pysqlite:///cti.db"),
    ("sqlite:///cti.db", "sqlite+pysqlite:///cti.db"),
    ("postgresql+psycopg://u@h/db?options=-csearch_path%3Dx", "postgresql+psycopg://u@h/db?options=-csearch_path%3Dx"),
    ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_sync_url(given: str, expected: str) -> None:
    assert sync_url(given).render_as_string(hide_password=False) == expected


def test_cti_db_upgrade_command(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    """The real command, run where there is no alembic.ini."""
    done = subprocess.run([sys.executable, "-m", "cti.cli", "db", "upgrade", "--db", url], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert done.returncode == 0, done.stderr
    assert _state(url)[:2] == (TABLES | {"alembic_version"}, [HEAD])
    upgrade(url)
    assert _state(url)[:2] == (TABLES | {"alembic_version"}, [HEAD])
