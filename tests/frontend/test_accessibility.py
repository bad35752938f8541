"""axe-core (axe-playwright-python) in Chromium: the agent desk, logged in with an offer shown (at
1366x850 and at a phone's 390x844), and the supervisor board have no serious or critical
accessibility violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import go_available, launch, log_in, screenshot
from tests.stranded.helpers import center, chat

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BLOCKING = {"serious", "critical"}


async def violations(page: Any) -> list[str]:
    """Each serious or critical violation as "rule (impact): the nodes it found"."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
            for v in results.response["violations"] if v.get("impact") in BLOCKING]


async def test_the_agent_desk_with_an_offer_and_the_board_pass_axe(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with center(tmp_path, offer_timeout=60) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        desk = await log_in(browser, c.url, "alice", viewport={"width": 1366, "height": 850})
        await go_available(desk)
        visitor = await chat(c, body="My order has not arrived")
        await expect(desk.locator("[data-testid=offer]")).to_be_visible()
        await expect(desk.locator("[data-testid=pop-message]")).to_contain_text("My order")
        await screenshot(desk, tmp_path, "agent-desk-offer")
        found = await violations(desk)
        await desk.set_viewport_size({"width": 390, "height": 844})  # a phone
        await screenshot(desk, tmp_path, "agent-desk-offer-phone")
        found += await violations(desk)

        board = await log_in(browser, c.url, "sam", page_path="/supervisor",
                             viewport={"width": 1366, "height": 850})
        await expect(board.locator("[data-testid=agent-row]")).to_have_count(3)
        away = {"state": "away", "reason": "break"}
        status, body = await c.api("sam", "PUT", "/api/agents/bob/state", away)
        assert status == 200, body
        await expect(board.locator("[data-testid=event]").first).to_contain_text("Bob Chen is away")
        await screenshot(board, tmp_path, "supervisor-board")
        found += await violations(board)
        assert found == []
        # The check is live: an image without a text alternative is reported (critical).
        await board.evaluate("document.querySelector('main').append(Object.assign("
                             "document.createElement('img'), {src: 'data:,'}))")
        assert any(v.startswith("image-alt (critical)") for v in await violations(board))
        await browser.close()
        await visitor.close()
