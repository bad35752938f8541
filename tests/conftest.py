"""Shared test fixtures: real PostgreSQL and Redis on loopback.

``CTI_TEST_POSTGRES`` and ``CTI_TEST_REDIS`` say where they are (``scripts/test`` points them at
servers of its own when the defaults do not answer). Outside CI a missing service skips its
tests; with ``CI=true`` it fails them, because there every real peer must run.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from cti.app import ServerSettings
from tests.hang_report import HangWatch

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("CTI_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CTI_TEST_REDIS", "redis://127.0.0.1:6379/0")


def service_address(url: str, default_port: int) -> tuple[str, int]:
    """The host and port a service URL names."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable on {host}:{port}; CI must run this test")
    pytest.skip(f"{name} not reachable on {host}:{port}")


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", *service_address(POSTGRES_URL, 5432))
    return POSTGRES_URL


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", *service_address(REDIS_URL, 6379))
    return REDIS_URL


@pytest.fixture
def unique_prefix() -> Iterator[str]:
    yield f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pg_schema(postgres_url: str, unique_prefix: str) -> Iterator[str]:
    """A SQLAlchemy URL to an empty schema of its own in the test database (dropped after)."""
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{unique_prefix}"')
    yield f"{postgres_url}?options=-csearch_path%3D{unique_prefix}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{unique_prefix}" CASCADE')


@pytest.fixture
def cluster_node(pg_schema: str, redis_url: str, unique_prefix: str) -> Callable[[str], ServerSettings]:
    """The settings of one node of a test cluster: every node made by it shares one PostgreSQL
    schema and one Redis prefix; leases are short, so a take-over happens within a second."""
    def node(name: str) -> ServerSettings:
        return ServerSettings(db_url=pg_schema, redis_url=redis_url, redis_prefix=unique_prefix,
                              node_id=name, lease_ttl=0.6)
    return node


CHROMIUM = os.environ.get("CTI_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (Playwright's own download does not work everywhere); in CI it must be there."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("Chromium is not installed; CI must run the browser tests")
        pytest.skip("Chromium is not installed")
    from playwright.async_api import expect as async_expect
    from playwright.sync_api import expect as sync_expect

    # As long as the pages' own actions may take: on a loaded CI machine 5 s was seen to be short.
    sync_expect.set_options(timeout=15_000)
    async_expect.set_options(timeout=15_000)
    return CHROMIUM


# A little before pytest-timeout's limit (pyproject: timeout = 300), report the waiting tasks.
HANG_REPORT_AFTER = float(os.environ.get("CTI_TEST_HANG_REPORT", "280"))


@pytest.fixture(autouse=True)
def _hang_report(request: pytest.FixtureRequest) -> Iterator[None]:
    with HangWatch(request.node.nodeid, HANG_REPORT_AFTER):
        yield


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """A test that runs the CLI in-process sets the root logger's handler on that test's captured
    stream (``configure_logging``); later tests must not log into it once it is closed."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``long`` first (in their order), the rest as collected: started at once,
    a minute-long test runs beside the others instead of after them, alone, at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
