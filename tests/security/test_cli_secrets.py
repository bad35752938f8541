"""Secrets in URLs never reach the server's output (start lines, logs, errors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from cti.app import ServerSettings
from tests.redis_server import private_redis
from tests.server_process import free_port, run_server

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REDIS_PASSWORD = "s3cret-redis-pw"
DB_PASSWORD = "s3cret-db-pw"


async def test_serve_never_prints_the_redis_or_database_password(tmp_path: Path, pg_schema: str) -> None:
    db_url = pg_schema.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)  # trust: the password is unused
    with private_redis(tmp_path, password=REDIS_PASSWORD) as (port, _):
        redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
        with run_server(tmp_path, db_url=db_url, redis_url=redis_url) as srv:
            async with aiohttp.ClientSession() as http, http.post(
                    f"{srv.url}/api/login", json={"agent_id": "alice", "password": "wrong"}) as r:
                assert r.status == 401
            printed = srv.log()
        assert f"redis redis://:***@127.0.0.1:{port}/0" in printed, printed
    printed = srv.log()  # with the shutdown's lines
    assert REDIS_PASSWORD not in printed and DB_PASSWORD not in printed, printed


def test_a_wrong_redis_password_fails_without_printing_it(tmp_path: Path) -> None:
    with private_redis(tmp_path, password=REDIS_PASSWORD) as (port, _):
        done = subprocess.run(
            [sys.executable, "-m", "cti.cli", "serve", "--port", str(free_port()),
             "--db", f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "--config",
             str(Path(__file__).parents[1] / "fixtures" / "config.yaml"),
             "--redis", f"redis://:not-the-{REDIS_PASSWORD}@127.0.0.1:{port}/0"],
            capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert REDIS_PASSWORD not in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
    ("rediss://user:pw@host/1", "rediss://user:***@host/1"),
    ("redis://host:6379/0?password=pw", "redis://host:6379/0?password=***"),
    ("postgresql+psycopg://u:pw@db/cti", "postgresql+psycopg://u:***@db/cti"),
    ("sqlite+aiosqlite:///cti.db", "sqlite+aiosqlite:///cti.db"),
    ("redis://host:6379", "redis://host:6379"),
])
def test_safe_url_hides_passwords(url: str, shown: str) -> None:
    from cti.redact import safe_url

    assert safe_url(url) == shown


def test_server_settings_do_not_show_urls_in_their_repr() -> None:
    settings = ServerSettings(db_url="postgresql+psycopg://u:pw@db/cti", redis_url="redis://:pw@r:6379")
    assert "pw" not in repr(settings)
