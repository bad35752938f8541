"""What customers reach: the /kb pages and the chat widget's suggestions. The internal part (and
an article with no public part) never leaves through any of them, and page text is escaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.support import admin_center
from tests.knowledge.test_kb_api import REFUND, ROUTER

pytestmark = pytest.mark.integration

STAFF_ONLY = {"title": "Escalation ladder QUIETTITLE", "public_body": "",
              "internal_body": "Call the duty manager.", "tags": ["billing"]}
HOSTILE = {"title": "Fix <script>alert(1)</script> & more", "public_body": "Use <b>bold</b> \"quotes\"",
           "internal_body": "BLUEFALCON again", "tags": []}
SECRETS = ("BLUEFALCON", "NOC tool", "QUIETTITLE", "duty manager", "internal_body", "updated_by")


async def test_no_public_path_shows_the_internal_part(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        ids = {}
        made_from = (("refund", REFUND), ("router", ROUTER), ("staff", STAFF_ONLY), ("hostile", HOSTILE))
        for name, article in made_from:
            status, made = await center.api("sam", "POST", "/api/kb/articles", article)
            assert status == 201, made
            ids[name] = made["id"]
        bodies: list[str] = []

        async def public(method: str, path: str, want: int, **kwargs: object) -> str:
            async with center.http.request(method, f"{center.url}{path}", **kwargs) as r:  # type: ignore[arg-type]
                text = await r.text()
                assert r.status == want, (path, r.status, text)
                bodies.append(text)
                return text

        index = await public("GET", "/kb", 200)
        assert "Refund a card payment" in index and 'action="/kb/search"' in index
        assert "<script" not in index.lower().replace("&lt;script", "")
        page = await public("GET", f"/kb/articles/{ids['refund']}", 200)
        assert REFUND["public_body"] in page
        hostile = await public("GET", f"/kb/articles/{ids['hostile']}", 200)
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in hostile and "<b>bold</b>" not in hostile
        await public("GET", f"/kb/articles/{ids['staff']}", 404)
        await public("GET", "/kb/articles/kb-unknown", 404)
        for q in ("bluefalcon", "override", "noc", "escalation", "quiettitle", "duty", "manager", "refund"):
            await public("GET", f"/kb/search?q={q}", 200)
        found = await public("GET", "/kb/search?q=refunded+card", 200)
        assert "Refund a card payment" in found

        # The chat widget's suggestions and feedback.
        async with center.http.get(f"{center.url}/chat/kb/suggest",
                                   params={"q": "my router keeps dropping"}) as r:
            assert r.status == 200
            suggested = await r.json()
            bodies.append(str(suggested))
        assert [a["id"] for a in suggested["articles"]] == [ids["router"]]
        assert set(suggested["articles"][0]) == {"id", "title", "body", "tags", "updated_at", "url"}
        for q in ("bluefalcon", "override code", "escalation ladder", "duty manager"):
            async with center.http.get(f"{center.url}/chat/kb/suggest", params={"q": q}) as r:
                assert (await r.json())["articles"] == [], q
        said = "/chat/kb/feedback"
        await public("POST", said, 404, json={"article_id": ids["staff"], "outcome": "solved"})
        await public("POST", said, 400, json={"article_id": ids["router"], "outcome": "meh"})
        await public("POST", said, 200, json={"article_id": ids["router"], "outcome": "solved"})
        _, router = await center.api("alice", "GET", f"/api/kb/articles/{ids['router']}")
        assert (router["helped"], router["solved"]) == (0, 1)

        for body in bodies:
            for secret in SECRETS:
                assert secret not in body, (secret, body[:300])


async def test_pages_are_plain_html_under_the_strict_policy(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center, center.http.get(f"{center.url}/kb") as r:
        assert r.content_type == "text/html"
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert "<script" not in await r.text()  # nothing to run: a plain page and a form
