"""The public knowledge paths (``/kb``, ``/kb/...``, ``/chat/kb/suggest``, ``/chat/kb/feedback``)
are open to anyone: each client address gets a request budget (429 past it, with Retry-After),
and a query too long is refused with a clear error instead of being searched."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.knowledge import MAX_MESSAGE_QUERY, MAX_QUERY
from tests.admin.support import admin_center

pytestmark = pytest.mark.integration


async def test_one_client_past_its_budget_gets_429_on_every_public_knowledge_path(tmp_path: Path) -> None:
    async with admin_center(tmp_path, traffic={"public_kb_requests_per_minute": 4}) as center:
        url = center.url
        for path in ("/kb", "/kb/search?q=router", "/chat/kb/suggest?q=router", "/kb/articles/kb-x"):
            async with center.http.get(f"{url}{path}") as r:
                assert r.status in (200, 404), (path, r.status)
        async with center.http.get(f"{url}/kb") as r:
            assert r.status == 429
            assert int(r.headers["Retry-After"]) >= 1
            assert r.content_type == "text/html" and "Too many requests" in await r.text()
        async with center.http.get(f"{url}/chat/kb/suggest", params={"q": "router"}) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
            assert (await r.json())["error_id"] == "too-many-requests"
        said = {"article_id": "kb-x", "outcome": "helped"}
        async with center.http.post(f"{url}/chat/kb/feedback", json=said) as r:
            assert r.status == 429
        # Staff paths are not counted with the public ones.
        status, _ = await center.api("alice", "GET", "/api/kb/articles?q=router")
        assert status == 200


async def test_a_query_too_long_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        async with center.http.get(f"{center.url}/kb/search", params={"q": "a" * (MAX_QUERY + 1)}) as r:
            assert r.status == 400
            assert f"at most {MAX_QUERY} characters" in await r.text()
        async with center.http.get(f"{center.url}/kb/search", params={"q": "a" * MAX_QUERY}) as r:
            assert r.status == 200
        long = "word " * (MAX_MESSAGE_QUERY // 5 + 1)
        async with center.http.get(f"{center.url}/chat/kb/suggest", params={"q": long}) as r:
            assert r.status == 400
            said = await r.json()
            assert said["error_id"] == "query-too-long" and said["details"]["limit"] == MAX_MESSAGE_QUERY
        async with center.http.get(f"{center.url}/kb/articles/{'k' * 300}") as r:
            assert r.status in (400, 404)  # refused before any read (a path limit or no such id)
