"""The agent desk in Chromium: a missed offer shows the agent away and goes to someone else; a
closed tab is set away after the grace and the desk shows it when it comes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import go_available, launch, log_in
from tests.stranded.helpers import center, chat, state_event
from tests.stranded.test_desk_gone import board

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_missed_offer_on_the_desk_sets_it_away_and_bob_gets_the_chat(
        tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with center(tmp_path, offer_timeout=4) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await log_in(browser, c.url, "alice")
        await go_available(page)
        bob = await c.agent_socket("bob")
        visitor = await chat(c, body="Is anyone there?")
        await expect(page.locator("[data-testid=accept]").first).to_be_visible()  # offered to Alice
        # She does not answer: her desk says she is away, and why.
        await expect(page.locator("#agent-state")).to_have_text("away · no-answer")
        await page.screenshot(path=str(tmp_path / "missed-offer.png"))
        again = await bob.expect("interaction.offered", timeout=10)
        accepted = await bob.command({"type": "accept", "interaction_id": again["interaction_id"]})
        assert accepted["type"] == "ack"
        await expect(page.locator("[data-testid=accept]")).to_have_count(0)  # the offer left her desk
        await browser.close()
        for sock in (bob, visitor):
            await sock.close()


async def test_a_closed_tab_goes_away_and_the_reopened_desk_says_so(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with center(tmp_path, grace=1.0) as c, async_playwright() as pw:
        sam = await board(c)
        browser = await launch(pw, chromium)
        page = await log_in(browser, c.url, "alice")
        await go_available(page)
        await page.context.close()  # the tab is closed
        await sam.expect(state_event("alice", "away", "disconnected"), timeout=10)

        page = await log_in(browser, c.url, "alice")
        await expect(page.locator("#agent-state")).to_have_text("away · disconnected")
        await page.screenshot(path=str(tmp_path / "closed-tab-back.png"))
        await go_available(page)
        await browser.close()
        await sam.close()
