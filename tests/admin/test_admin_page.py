"""The /admin page in Chromium: an admin logs in, changes a queue's service target, sees it run,
and rolls it back with one click; an agent is turned away."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.domain import Channel
from tests.admin.support import admin_center
from tests.browser import launch, log_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_an_admin_changes_a_service_target_and_rolls_it_back(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_center(tmp_path) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await log_in(browser, center.url, "ada", page_path="/admin")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await expect(page.locator("#config-version")).to_have_attribute("data-version", "1")

        target = page.locator("[data-testid=target-support-chat]")
        await expect(target).to_have_value("60")
        await target.fill("30")
        await page.click("[data-testid=save-support]")
        await expect(page.locator("#config-version")).to_have_attribute("data-version", "2")
        await expect(page.locator("#notice")).to_contain_text(
            "queues.support.service_targets.chat: 60.0 -> 30.0")
        assert center.services.config.queues["support"].target_for(Channel.CHAT) == 30.0
        _, stats = await center.api("sam", "GET", "/api/queues")
        assert stats["queues_configured"]["support"]["service_targets"]["chat"] == 30.0

        # A refused change says why and changes nothing.
        await page.locator("[data-testid=priority-support]").fill("11")
        await page.click("[data-testid=save-support]")
        await expect(page.locator("[data-testid=error]").first).to_contain_text("priority")
        assert center.services.live.version == 2

        await page.click("[data-testid=tab-versions]")
        rows = page.locator("[data-testid=version-row]")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("ada")
        await page.click("[data-testid=rollback-1]")
        await expect(page.locator("#config-version")).to_have_attribute("data-version", "3")
        await expect(rows.first).to_contain_text("rollback to version 1")
        assert center.services.config.queues["support"].target_for(Channel.CHAT) == 60.0
        await page.click("[data-testid=tab-queues]")
        await expect(page.locator("[data-testid=target-support-chat]")).to_have_value("60")

        # A change made elsewhere (the API, another node) shows up without a reload.
        status, _ = await center.api("ada", "PATCH", "/api/admin/queues/support", {"priority": 4})
        assert status == 200
        await expect(page.locator("#config-version")).to_have_attribute("data-version", "4")
        await expect(page.locator("[data-testid=priority-support]")).to_have_value("4")
        assert errors == []

        agent = await (await browser.new_context()).new_page()
        await agent.goto(f"{center.url}/admin")
        await agent.fill("#login-agent", "alice")
        await agent.fill("#login-password", "alice")
        await agent.click("#login-submit")
        await expect(agent.locator("#login-error")).to_contain_text("for admins")
        await browser.close()


async def test_a_page_showing_an_old_version_does_not_undo_a_newer_change(tmp_path: Path,
                                                                           chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_center(tmp_path) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await (await browser.new_context()).new_page()
        page.set_default_timeout(15_000)
        # No socket (its ticket is refused): the page does not hear of the other admin's change.
        await page.route("**/api/ws-ticket", lambda route: route.abort())
        await page.goto(f"{center.url}/admin")
        await page.fill("#login-agent", "ada")
        await page.fill("#login-password", "ada")
        await page.click("#login-submit")
        await expect(page.locator("#config-version")).to_have_attribute("data-version", "1")
        status, _ = await center.api("ada", "PATCH", "/api/admin/queues/support", {"priority": 3})
        assert status == 200
        await page.locator("[data-testid=target-support-chat]").fill("30")
        await page.click("[data-testid=save-support]")
        await expect(page.locator("[data-testid=error]").first).to_have_attribute(
            "data-error-id", "config-changed")
        assert center.services.config.queues["support"].priority == 3  # not undone
        await expect(page.locator("#config-version")).to_have_attribute("data-version", "2")
        await expect(page.locator("[data-testid=priority-support]")).to_have_value("3")
        await browser.close()
