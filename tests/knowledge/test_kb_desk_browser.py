"""The agent desk in Chromium: an accepted conversation shows the articles that fit it (both parts
to read), one click puts an article's public part into the reply, and the reply goes out; a canned
reply brings its article's public part too. Saves a screenshot of the suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity, MessageSender
from tests.admin.support import admin_center
from tests.browser import go_available, launch, log_in
from tests.knowledge.test_kb_api import REFUND, ROUTER

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_suggested_article_goes_into_the_reply_with_one_click(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_center(tmp_path) as center, async_playwright() as pw:
        _, router = await center.api("sam", "POST", "/api/kb/articles", ROUTER)
        _, refund = await center.api("sam", "POST", "/api/kb/articles", REFUND)
        status, _ = await center.api("ada", "PUT", "/api/admin/canned_replies/refund", {
            "title": "Refund timing", "body": "Here is how refunds work:", "article": refund["id"]})
        assert status == 200
        browser = await launch(pw, chromium)
        page = await log_in(browser, center.url, "alice")
        await go_available(page)
        interaction = await center.services.interactions.start_inbound(
            channel=Channel.CHAT, identities=[InboundIdentity(Identity(IdentityKind.CHAT, "vis-kbdesk01"),
                                                              IdentityLevel.ASSERTED, "test")],
            display_name="Dana", queue="support", first_message="My router keeps dropping, reset did nothing")
        await page.locator("[data-testid=accept]").first.click()
        conversation = page.locator(f"[data-testid=conversation][data-interaction-id='{interaction.id}']")
        suggestion = conversation.get_by_test_id("kb-suggestion")
        await expect(suggestion).to_have_count(1)
        await expect(suggestion).to_have_attribute("data-article-id", router["id"])
        await suggestion.get_by_test_id("kb-suggestion-title").click()
        internal = suggestion.get_by_test_id("kb-suggestion-internal")
        await expect(internal).to_have_text(ROUTER["internal_body"])
        await page.screenshot(path=str(tmp_path / "kb-desk-suggestion.png"), full_page=True)

        reply = conversation.get_by_test_id("reply-input")
        await reply.fill("Hello Dana,")
        await suggestion.get_by_test_id("kb-suggestion-insert").click()
        await expect(reply).to_have_value(f"Hello Dana,\n\n{ROUTER['public_body']}")
        await conversation.get_by_test_id("kb-canned-select").select_option("refund")
        await conversation.get_by_test_id("kb-canned-insert").click()
        await expect(reply).to_have_value(f"Hello Dana,\n\n{ROUTER['public_body']}\n\n"
                                          f"Here is how refunds work:\n\n{REFUND['public_body']}")
        await conversation.get_by_test_id("reply-send").click()
        await expect(reply).to_have_value("")
        stored = await center.services.context.messages(interaction.id)
        sent = [m for m in stored if m.sender is MessageSender.AGENT]
        assert len(sent) == 1 and ROUTER["public_body"] in sent[0].body
        assert ROUTER["internal_body"] not in sent[0].body and REFUND["internal_body"] not in sent[0].body
        await browser.close()
