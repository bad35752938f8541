"""The chat widget in Chromium: articles are suggested from the first message before anything is
queued; "solved" ends the chat as self-served (no interaction, the article counted), "talk to a
person" queues the message for an agent. Saves a screenshot of the suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.domain import Channel
from tests.admin.support import admin_center
from tests.browser import launch
from tests.knowledge.test_kb_api import REFUND, ROUTER

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_the_widget_suggests_articles_before_an_agent(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_center(tmp_path) as center, async_playwright() as pw:
        _, router = await center.api("sam", "POST", "/api/kb/articles", ROUTER)
        await center.api("sam", "POST", "/api/kb/articles", REFUND)
        browser = await launch(pw, chromium)
        page = await (await browser.new_context()).new_page()
        page.set_default_timeout(15_000)
        await page.goto(f"{center.url}/chat")
        await page.fill("#chat-name", "Vera Visitor")
        await page.click("#chat-start")
        await page.fill("#chat-input", "My router keeps dropping the connection")
        await page.click("#chat-send")

        kb = page.get_by_test_id("chat-kb")
        await expect(kb).to_be_visible()
        articles = page.get_by_test_id("chat-kb-article")
        await expect(articles).to_have_count(1)
        await expect(articles.first).to_have_attribute("data-article-id", router["id"])
        await page.get_by_test_id("chat-kb-title").first.click()
        await expect(page.get_by_test_id("chat-kb-body").first).to_have_text(ROUTER["public_body"])
        await expect(kb).not_to_contain_text("NOC")  # the internal part never reaches the page
        await page.screenshot(path=str(tmp_path / "kb-chat-suggestion.png"))
        # Nothing is queued while the visitor reads.
        assert await center.services.context.list_interactions(states=None, agent_id=None, limit=10) == []

        await page.get_by_test_id("chat-kb-solved-button").first.click()
        await expect(page.get_by_test_id("chat-kb-solved")).to_contain_text("Reset your router")
        await expect(page.locator("[data-testid=chat-message]")).to_have_count(0)
        _, counted = await center.api("alice", "GET", f"/api/kb/articles/{router['id']}")
        assert (counted["helped"], counted["solved"]) == (0, 1)
        assert await center.services.context.list_interactions(states=None, agent_id=None, limit=10) == []

        # Another question; this time the visitor wants a person: the message opens the chat.
        await page.fill("#chat-input", "Reset did not help, the router still drops")
        await page.click("#chat-send")
        await expect(page.get_by_test_id("chat-kb-article")).to_have_count(1)
        await page.get_by_test_id("chat-kb-agent").click()
        await expect(page.get_by_test_id("chat-kb")).to_be_hidden()
        await expect(page.locator("[data-testid=chat-message][data-sender=customer] .body")).to_have_text(
            "Reset did not help, the router still drops")
        queued = await center.services.context.list_interactions(states=None, agent_id=None, limit=10)
        assert [i.channel for i in queued] == [Channel.CHAT]

        # A message nothing matches goes straight on: no panel, no wait.
        await page.fill("#chat-input", "zzz qqq")
        await page.click("#chat-send")
        await expect(page.locator("[data-testid=chat-message][data-sender=customer]")).to_have_count(2)
        await expect(page.get_by_test_id("chat-kb")).to_be_hidden()
        await browser.close()
