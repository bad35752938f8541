"""The knowledge editor in Chromium: a supervisor writes an article, edits it (a new version),
restores the first version, and the public page shows the public part only. An agent is turned
away. Saves a screenshot of the editor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.support import admin_center
from tests.browser import launch

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_supervisor_writes_edits_and_restores_an_article(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_center(tmp_path) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await (await browser.new_context()).new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{center.url}/knowledge")

        # An agent may read articles but not edit them: the page says so.
        await page.fill("#kb-login-agent", "alice")
        await page.fill("#kb-login-password", "alice")
        await page.click("#kb-login-submit")
        await expect(page.get_by_test_id("kb-login-error")).to_contain_text("supervisors and admins")

        await page.fill("#kb-login-agent", "sam")
        await page.fill("#kb-login-password", "sam")
        await page.click("#kb-login-submit")
        await expect(page.get_by_test_id("kb-form")).to_be_visible()
        await page.fill("#kb-title", "Change your billing address")
        await page.fill("#kb-public", "Open Settings, then Billing, and type the new address.")
        await page.fill("#kb-internal", "Address changes over the phone need two security answers.")
        await page.fill("#kb-tags", "Billing, account")
        await page.click("#kb-save")
        await expect(page.get_by_test_id("kb-version")).to_have_attribute("data-version", "1")
        await expect(page.get_by_test_id("kb-list-item")).to_have_text(["Change your billing address"])

        await page.fill("#kb-public", "Billing addresses are changed by our team: ask in the chat.")
        await page.click("#kb-save")
        await expect(page.get_by_test_id("kb-version")).to_have_attribute("data-version", "2")
        await expect(page.get_by_test_id("kb-version-item")).to_have_count(2)
        await page.screenshot(path=str(tmp_path / "kb-editor.png"), full_page=True)

        await page.get_by_test_id("kb-restore-1").click()
        await expect(page.get_by_test_id("kb-version")).to_have_attribute("data-version", "3")
        await expect(page.locator("#kb-public")).to_have_value(
            "Open Settings, then Billing, and type the new address.")
        await expect(page.get_by_test_id("kb-notice")).to_contain_text("Version 1 restored as version 3")

        # A bad tag is refused by the server, with the reason shown.
        await page.fill("#kb-tags", "no spaces allowed")
        await page.click("#kb-save")
        await expect(page.get_by_test_id("kb-error")).to_have_attribute("data-error-id", "bad-article")

        # The public page: the public part, never the internal one.
        public = await (await browser.new_context()).new_page()
        await public.goto(f"{center.url}/kb")
        await public.get_by_role("link", name="Change your billing address").click()
        await expect(public.locator("article")).to_contain_text("Open Settings, then Billing")
        await expect(public.locator("body")).not_to_contain_text("security answers")
        await public.fill("#q", "billing address")
        await public.click("button[type=submit]")
        await expect(public.locator("main li")).to_have_count(1)
        assert errors == []
        await browser.close()
