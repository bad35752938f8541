"""Two nodes on one PostgreSQL and Redis: a change made on node A runs on node B within a second,
without a restart; a node started later runs the stored version, not its file's."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cti.app import ServerSettings
from cti.domain import Channel
from tests.adapters.center import Center
from tests.admin.support import admin_center
from tests.waiting import until

pytestmark = pytest.mark.integration


async def test_a_change_on_one_node_runs_on_the_other(
        tmp_path: Path, cluster_node: Callable[[str], ServerSettings]) -> None:
    async with admin_center(tmp_path / "a", cluster_node("node-a")) as a, \
            admin_center(tmp_path / "b", cluster_node("node-b")) as b:
        assert b.services.config.queues["support"].target_for(Channel.CHAT) == 60.0
        started = time.monotonic()
        status, done = await a.api("ada", "PATCH", "/api/admin/queues/support",
                                   {"service_targets": {"chat": 25}})
        assert status == 200, done

        def on_b() -> bool:
            return b.services.config.queues["support"].target_for(Channel.CHAT) == 25.0

        # Generous bound for a loaded test machine; the figure is printed (measured in bench/).
        await until(on_b, timeout=5, what="node B to run version 2", every=0.01)
        print(f"node B ran the change {time.monotonic() - started:.3f} s after it was sent")
        assert b.services.live.version == done["version"]

        # Agents added on A log in on B, and B's wallboard counts the new target.
        status, _ = await a.api("ada", "PUT", "/api/admin/agents/dave", {
            "name": "Dave", "team": "support", "password": "dave", "skills": {"english": 5},
            "capacity": {"chat": 2}})
        assert status == 200
        await until(lambda: "dave" in b.services.config.agents, timeout=5, what="dave on node B")
        dave = await b.agent_socket("dave")
        await dave.close()
        _, stats = await b.api("sam", "GET", "/api/queues")
        assert stats["queues_configured"]["support"]["service_targets"]["chat"] == 25.0

        # A rollback on B is run by A as well.
        status, _ = await b.api("ada", "POST", "/api/admin/versions/1/rollback")
        assert status == 200
        await until(lambda: "dave" not in a.services.config.agents
                    and a.services.config.queues["support"].target_for(Channel.CHAT) == 60.0,
                    timeout=5, what="the rollback on node A")


async def test_a_restarted_node_runs_the_stored_version_not_its_file(tmp_path: Path) -> None:
    db = ServerSettings(db_url=f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", node_id="one")
    async with admin_center(tmp_path, db) as center:
        status, _ = await center.api("ada", "PATCH", "/api/admin/queues/support", {"priority": 7})
        assert status == 200
    async with admin_center(tmp_path, db) as again:
        assert again.services.config.queues["support"].priority == 7
        assert again.services.live.version == 2
        _, versions = await again.api("ada", "GET", "/api/admin/versions")
        assert [v["version"] for v in versions["versions"]] == [2, 1]  # the file seeded only once


async def test_an_edited_file_becomes_a_new_version_at_the_next_start(tmp_path: Path) -> None:
    db = ServerSettings(db_url=f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", node_id="one")
    async with admin_center(tmp_path, db) as center:
        status, _ = await center.api("ada", "PATCH", "/api/admin/queues/support", {"priority": 7})
        assert status == 200
    async with admin_center(tmp_path, db, dispositions=["resolved"]) as again:
        # The file's change is the newest version; it was made from the file, not from version 2.
        assert again.services.config.dispositions == ("resolved",)
        assert again.services.config.queues["support"].priority == 1
        _, versions = await again.api("ada", "GET", "/api/admin/versions")
        assert [(v["version"], v["action"]) for v in versions["versions"]] == [(3, "file"), (2, "change"),
                                                                              (1, "seed")]


async def test_changes_made_at_once_on_both_nodes_are_all_kept(
        tmp_path: Path, cluster_node: Callable[[str], ServerSettings]) -> None:
    import asyncio

    async with admin_center(tmp_path / "a", cluster_node("node-a")) as a, \
            admin_center(tmp_path / "b", cluster_node("node-b")) as b:
        headers = {"Authorization": f"Bearer {await a.token('ada')}"}  # one token: log-ins are one at a time

        async def call(center: Center, method: str, path: str, body: object) -> tuple[int, Any]:
            async with center.http.request(method, f"{center.url}{path}", json=body, headers=headers) as r:
                return r.status, await r.json()

        results = await asyncio.gather(
            call(a, "PATCH", "/api/admin/queues/support", {"priority": 4}),
            call(b, "PUT", "/api/admin/dispositions", {"value": ["resolved"]}),
            call(a, "PUT", "/api/admin/away_reasons", {"value": ["lunch"]}),
            call(b, "PUT", "/api/admin/canned_replies/hi", {"title": "Hi", "body": "Hello"}))
        assert [status for status, _ in results] == [200, 200, 200, 200], results
        assert sorted(body["version"] for _, body in results) == [2, 3, 4, 5]

        def all_kept(center: Center) -> bool:
            config = center.services.config
            return bool(config.queues["support"].priority == 4 and config.dispositions == ("resolved",)
                        and config.away_reasons == ("lunch",) and len(config.canned_replies) == 1)

        await until(lambda: all_kept(a) and all_kept(b), timeout=5, what="every change on both nodes")
