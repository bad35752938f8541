"""A whisper on the agent desk in Chromium, and the board and the desk with the supervision parts
checked by axe-core (no serious or critical violation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapters.center import running_center
from tests.browser import launch, log_in
from tests.security.scoping import TEAMS, chat, take
from tests.supervision.test_browser import serious_violations

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_the_agent_reads_a_whisper_on_the_desk_and_both_pages_pass_axe(tmp_path: Path,
                                                                            chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with running_center(tmp_path, {}, **TEAMS) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        alice = await c.agent_socket("alice")
        visitor = await chat(c, "Mia")
        iid = (await take(alice))["id"]
        second = await chat(c, "Ola")  # offered to Alice: the waiting list has a row
        board = await log_in(browser, c.url, "sam", page_path="/supervisor")
        live = board.locator(f"[data-testid=live-chat][data-interaction='{iid}']")
        await live.locator("[data-testid=watch-chat]").click()
        await expect(board.locator("[data-testid=transcript]")).to_contain_text("hello from Mia")
        await expect(board.locator("[data-testid=waiting-row]")).to_have_count(1)
        assert await serious_violations(board) == []
        # A wallboard link made on the board opens the wallboard of sam's team.
        await board.click("[data-testid=wallboard-mint]")
        link = board.locator("[data-testid=wallboard-link]")
        await expect(link).to_be_visible()
        wall = await (await browser.new_context()).new_page()  # the wall screen: nobody logged in
        await wall.goto(f"{c.url}{await link.get_attribute('href')}")
        chats = wall.locator("[data-queue=support] [data-channel=chat]")
        await expect(chats.locator("[data-field=waiting]")).to_have_text("0")  # Ola is offered, not waiting
        await expect(wall.locator("#wb-status")).to_have_attribute("data-state", "live")

        desk = await log_in(browser, c.url, "alice")
        await board.fill("[data-testid=whisper-text]", "Ask for the order number")
        await board.click("[data-testid=whisper]")
        whisper = desk.locator("[data-testid=whisper]")
        await expect(whisper).to_contain_text("Ask for the order number")
        await expect(whisper).to_contain_text("sam")
        await desk.screenshot(path=str(tmp_path / "desk-whisper.png"))
        assert await serious_violations(desk) == []
        await browser.close()
        for sock in (alice, visitor, second):
            await sock.close()
