"""/api/kb: supervisors and admins edit, agents read both parts, every edit a version; an agent's
suggestions come from the interaction; canned replies carry an article's public part."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity
from tests.admin.support import admin_center

pytestmark = pytest.mark.integration

REFUND: dict[str, Any] = {"title": "Refund a card payment",
                          "public_body": "Refunds reach your card within five working days.",
                          "internal_body": "Override code BLUEFALCON for refunds above 500 euros.",
                          "tags": ["billing"]}
ROUTER: dict[str, Any] = {"title": "Reset your router",
                          "public_body": "Hold the reset button for ten seconds.",
                          "internal_body": "Line tests live in the NOC tool.", "tags": ["internet"]}


async def test_only_supervisors_and_admins_edit_and_every_edit_is_a_version(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        status, body = await center.api("alice", "POST", "/api/kb/articles", REFUND)
        assert (status, body["error_id"]) == (403, "wrong-role")
        async with center.http.get(f"{center.url}/api/kb/articles") as r:
            assert r.status == 401

        status, made = await center.api("sam", "POST", "/api/kb/articles", REFUND)
        assert status == 201, made
        article_id = made["id"]
        assert (made["version"], made["updated_by"]) == (1, "sam")

        # Agents read both parts, by id, in lists and in search.
        status, read = await center.api("alice", "GET", f"/api/kb/articles/{article_id}")
        assert status == 200 and read["internal_body"] == REFUND["internal_body"]
        _, found = await center.api("alice", "GET", "/api/kb/articles?q=bluefalcon")
        assert [a["id"] for a in found["articles"]] == [article_id]
        assert found["articles"][0]["internal_body"] == REFUND["internal_body"]
        status, _ = await center.api("alice", "PUT", f"/api/kb/articles/{article_id}",
                                     {**REFUND, "base_version": 1})
        assert status == 403

        status, edited = await center.api("ada", "PUT", f"/api/kb/articles/{article_id}",
                                          {**REFUND, "title": "Refunds", "base_version": 1})
        assert status == 200 and edited["version"] == 2 and edited["updated_by"] == "ada"
        status, stale = await center.api("sam", "PUT", f"/api/kb/articles/{article_id}",
                                         {**REFUND, "title": "Mine", "base_version": 1})
        assert (status, stale["error_id"]) == (409, "article-changed")

        _, history = await center.api("alice", "GET", f"/api/kb/articles/{article_id}/versions")
        assert [(v["version"], v["by"], v["title"]) for v in history["versions"]] == [
            (2, "ada", "Refunds"), (1, "sam", REFUND["title"])]
        status, one = await center.api("alice", "GET", f"/api/kb/articles/{article_id}/versions/1")
        assert status == 200 and one["title"] == REFUND["title"]
        status, restored = await center.api(
            "sam", "POST", f"/api/kb/articles/{article_id}/versions/1/restore", {"base_version": 2})
        assert status == 200 and (restored["version"], restored["title"]) == (3, REFUND["title"])

        # Typed bodies: unknown keys and bad tags are refused with what was wrong.
        status, bad = await center.api("sam", "POST", "/api/kb/articles", {**REFUND, "secret": 1})
        assert (status, bad["error_id"]) == (400, "bad-article") and "secret" in str(bad["details"])
        status, bad = await center.api("sam", "POST", "/api/kb/articles", {**REFUND, "tags": ["a b"]})
        assert (status, bad["error_id"]) == (400, "bad-article")
        status, missing = await center.api("alice", "GET", "/api/kb/articles/kb-none")
        assert (status, missing["error_id"]) == (404, "article-not-found")

        # Audited, as every supervisor and admin action is.
        _, audit = await center.api("ada", "GET", f"/api/audit?target={article_id}")
        assert [a["action"] for a in audit] == ["kb.restore", "kb.update", "kb.create"]


async def test_suggestions_for_an_interaction_come_from_its_messages_with_both_parts(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        _, refund = await center.api("sam", "POST", "/api/kb/articles", REFUND)
        _, router = await center.api("sam", "POST", "/api/kb/articles", ROUTER)
        interaction = await center.services.interactions.start_inbound(
            channel=Channel.EMAIL, subject="Internet down",
            identities=[InboundIdentity(Identity(IdentityKind.EMAIL, "eve@example.net"),
                                        IdentityLevel.ASSERTED, "test")],
            display_name=None, queue="support", first_message="My router blinks red, I pressed reset.")
        path = f"/api/interactions/{interaction.id}/kb-suggestions"
        status, body = await center.api("sam", "GET", path)
        assert status == 200, body
        assert [a["id"] for a in body["articles"]] == [router["id"]]
        assert body["articles"][0]["internal_body"] == ROUTER["internal_body"]
        assert refund["id"] not in str(body)
        # An agent who does not hold it gets nothing, not even whether it matched.
        status, refused = await center.api("bob", "GET", path)
        assert (status, refused["error_id"]) == (403, "not-your-interaction")


async def test_canned_replies_bring_the_public_part_of_their_article(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        _, refund = await center.api("sam", "POST", "/api/kb/articles", REFUND)
        status, body = await center.api("ada", "PUT", "/api/admin/canned_replies/refund", {
            "title": "Refund timing", "body": "Here is how refunds work:", "article": refund["id"]})
        assert status == 200, body
        await center.api("ada", "PUT", "/api/admin/canned_replies/hello", {"title": "Hello", "body": "Hi!"})
        status, replies = await center.api("alice", "GET", "/api/kb/canned-replies")
        assert status == 200
        by_id = {r["id"]: r for r in replies["canned_replies"]}
        assert by_id["refund"]["text"] == "Here is how refunds work:\n\n" + REFUND["public_body"]
        assert by_id["refund"]["article"]["id"] == refund["id"]
        assert "BLUEFALCON" not in str(by_id["refund"])  # a reply goes to a customer: public part only
        assert by_id["hello"] == {"id": "hello", "title": "Hello", "text": "Hi!", "article": None}
