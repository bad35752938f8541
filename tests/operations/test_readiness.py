"""/readyz against real dependencies: PostgreSQL, a Redis of our own that we stop, and an AMI
link to a fake Asterisk that drops and goes away."""

from __future__ import annotations

from pathlib import Path

import pytest

from context.store import SqlContextStore
from cti.app import ServerSettings
from cti.clock import SystemClock, UuidIds
from cti.observe.ready import Readiness
from tests.ami.fake_ami import FakeAmi
from tests.operations.inprocess import config_with, serving
from tests.operations.scrape import parse, value
from tests.redis_server import private_redis
from tests.server_process import free_port
from tests.waiting import until

pytestmark = pytest.mark.integration


async def test_ready_on_postgresql_and_redis_then_not_ready_naming_redis_when_it_stops(
        tmp_path: Path, pg_schema: str, unique_prefix: str) -> None:
    with private_redis(tmp_path) as (port, process):
        settings = ServerSettings(db_url=pg_schema, redis_url=f"redis://127.0.0.1:{port}/0",
                                  redis_prefix=unique_prefix, node_id="ready-1")
        async with serving(tmp_path, config_with(), settings=settings) as node:
            status, body, _ = await node.get("/readyz")
            assert status == 200, body
            assert body["checks"] == {"database": "ok", "redis": "ok"} and body["down"] == []
            process.terminate()
            process.wait(timeout=10)  # nothing listens on that port any more
            status, body, _ = await node.get("/readyz")
            assert status == 503, body
            assert body["status"] == "not-ready" and body["down"] == ["redis"]
            assert body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("down: ")
            status, _, _ = await node.get("/healthz")
            assert status == 200  # alive all the same: liveness does not restart a node for Redis


async def test_a_database_where_nothing_listens_is_named(postgres_url: str) -> None:
    dead = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{free_port()}")
    store = SqlContextStore(url=dead, clock=SystemClock(), ids=UuidIds())
    await store.start()  # the pool connects lazily: start succeeds, the first use fails
    try:
        report = await Readiness({"database": store.ping}, timeout=1.0).report()
    finally:
        await store.aclose()
    assert not report.ready and report.down == ["database"]
    assert "5432" not in report.checks["database"] and "postgres" not in report.checks["database"]


async def test_the_ami_link_is_checked_when_configured(tmp_path: Path) -> None:
    async with FakeAmi() as ami:
        raw = config_with(ami={"host": "127.0.0.1", "port": ami.port, "username": ami.username,
                               "secret": ami.secret})
        async with serving(tmp_path, raw) as node:
            async def ready() -> bool:
                return (await node.get("/readyz"))[0] == 200

            await until(ready, what="the AMI link to log in")
            _, body, _ = await node.get("/readyz")
            assert body["checks"] == {"database": "ok", "ami": "ok"}
            samples = parse((await node.get("/metrics"))[1])
            assert value(samples, "cti_ami_link_up") == 1

            await ami.drop()  # an Asterisk restart: the link comes back by itself

            async def reconnected() -> bool:
                s = parse((await node.get("/metrics"))[1])
                return value(s, "cti_ami_reconnects_total") == 1 and value(s, "cti_ami_link_up") == 1

            await until(reconnected, what="the reconnect to be counted")
            samples = parse((await node.get("/metrics"))[1])
            assert value(samples, "cti_ami_disconnects_total") == 1

            await ami.aclose()  # Asterisk gone for good
            await ami.drop()

            async def not_ready() -> bool:
                return (await node.get("/readyz"))[0] == 503

            await until(not_ready, what="readiness to notice the link is down")
            _, body, _ = await node.get("/readyz")
            assert body["down"] == ["ami"] and body["checks"]["database"] == "ok"
            assert value(parse((await node.get("/metrics"))[1]), "cti_ami_link_up") == 0
