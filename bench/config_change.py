"""A live configuration change: how long from an admin's request on node A until node B runs it.

Two nodes in this process (``build_app``, as ``cti serve`` builds them) share a fresh PostgreSQL
schema and a Redis key prefix. An admin changes a queue's priority on node A ``--changes`` times;
each time, the clock stops when node B has swapped the new version in.

    python -m bench config_change [--db POSTGRESQL_URL] [--redis REDIS_URL] [--changes 50]

Printed: the request's own time on A, and the time until B runs the version (median, p95, max).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from bench.common import emit, percentile, postgres_schema
from cti.app import ServerSettings, build_app
from cti.config import parse_config
from desktop_api.keys import SERVICES

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
SECRET = "bench-config-change-secret-not-for-production"
CONFIG: dict[str, Any] = {
    "demo": True, "token_secret": SECRET,
    "queues": [{"name": "support"}],
    "agents": [{"id": "ada", "role": "admin", "password": "ada", "capacity": {}}],
}


async def run(args: argparse.Namespace, db_url: str) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    apps = [build_app(parse_config(CONFIG), ServerSettings(db_url=db_url, redis_url=args.redis,
                                                           redis_prefix=prefix, node_id=node))
            for node in ("node-a", "node-b")]
    servers = [TestServer(app, host="127.0.0.1") for app in apps]
    for server in servers:
        await server.start_server()
    b = apps[1][SERVICES]
    swapped = asyncio.Event()

    async def on_b(_old: Any, _new: Any) -> None:
        swapped.set()

    b.live.watch(on_b)
    requests, spread = [], []
    try:
        async with aiohttp.ClientSession() as http:
            url = str(servers[0].make_url("")).rstrip("/")
            async with http.post(f"{url}/api/login", json={"agent_id": "ada", "password": "ada"}) as r:
                headers = {"Authorization": f"Bearer {(await r.json())['token']}"}
            for n in range(args.changes):
                started = time.perf_counter()
                async with http.patch(f"{url}/api/admin/queues/support", json={"priority": 1 + (n + 1) % 10},
                                      headers=headers) as r:
                    version = (await r.json())["version"]
                requests.append(time.perf_counter() - started)
                while b.live.version < version:
                    swapped.clear()
                    await asyncio.wait_for(swapped.wait(), 10)
                spread.append(time.perf_counter() - started)
    finally:
        for server in servers:
            await server.close()
    for name, values in (("change_request_ms", requests), ("running_on_other_node_ms", spread)):
        ordered = sorted(v * 1000 for v in values)
        emit(f"{name}_median", percentile(ordered, 0.5))
        emit(f"{name}_p95", percentile(ordered, 0.95))
        emit(f"{name}_max", ordered[-1])
    emit("changes", args.changes)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench config_change")
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (a fresh key prefix is used)")
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args(argv)
    with postgres_schema(args.db) as db_url:
        asyncio.run(run(args, db_url))
    return 0
