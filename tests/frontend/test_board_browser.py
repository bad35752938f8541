"""The supervisor board in Chromium: one queue poller however often the tab logs in, and an
agent's row never goes back to an older state than the board was last told."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import launch, log_in, screenshot
from tests.stranded.helpers import center, chat

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def log_out_and_in(page: Any) -> None:
    from playwright.async_api import expect

    await page.click("#logout")
    await expect(page.locator("#login-view")).to_be_visible()
    await page.fill("#login-agent", "sam")
    await page.fill("#login-password", "sam")
    await page.click("#login-submit")
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")


async def test_three_log_ins_in_one_tab_leave_one_queue_poller(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright

    async with center(tmp_path, offer_timeout=20) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        board = await log_in(browser, c.url, "sam", page_path="/supervisor")
        await log_out_and_in(board)
        await log_out_and_in(board)
        polls: list[float] = []
        board.on("request", lambda r: polls.append(1) if r.url.endswith("/api/queues") else None)
        await asyncio.sleep(10.5)  # the board polls every 5 s, and nothing else happens
        await screenshot(board, tmp_path, "board-after-three-log-ins")
        assert len(polls) <= 3, f"{len(polls)} queue requests in 10 s: a poller per log-in"
        # Logged out, the board asks nothing.
        await board.click("#logout")
        polls.clear()
        await asyncio.sleep(5.5)
        assert polls == []
        await browser.close()


async def test_a_late_agent_reply_does_not_undo_a_newer_state_event(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with center(tmp_path, offer_timeout=20) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        board = await log_in(browser, c.url, "sam", page_path="/supervisor")
        alice = await c.agent_socket("alice")
        row = board.locator("[data-testid=agent-row][data-agent=alice] [data-testid=agent-state]")
        await expect(row).to_have_attribute("data-state", "available")

        # The board asks for its agents' detail after an event about Alice's work; that reply is
        # held (as a slow network would) until a newer state event has reached the board.
        held: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        release, answered = asyncio.Event(), asyncio.Event()

        async def slow(route: Any) -> None:
            response = await route.fetch()  # Alice as she is now: available
            body = json.loads(await response.text())  # her detail, or the team's
            if not held.done():
                held.set_result({a["id"]: a for a in body}["alice"] if isinstance(body, list) else body)
            await release.wait()
            await route.fulfill(response=response)
            answered.set()

        await board.route(re.compile(r"/api/agents(/alice)?$"), slow)
        visitor = await chat(c)
        offer = await alice.expect("interaction.offered")
        ack = await alice.command({"type": "reject", "interaction_id": offer["interaction_id"]})
        assert ack["type"] == "ack", ack
        assert (await asyncio.wait_for(held, 10))["state"] == "available"
        # Meanwhile her supervisor sets her offline: the board shows it at once.
        status, body = await c.api("sam", "PUT", "/api/agents/alice/state", {"state": "offline"})
        assert status == 200, body
        await expect(row).to_have_attribute("data-state", "offline")
        release.set()  # the old reply arrives now
        await asyncio.wait_for(answered.wait(), 10)
        await asyncio.sleep(0.5)  # time for the page to draw it
        await screenshot(board, tmp_path, "board-late-reply")
        await expect(row).to_have_attribute("data-state", "offline")
        await expect(row).to_have_text("offline")
        await browser.close()
        for sock in (alice, visitor):
            await sock.close()


async def test_a_desk_told_another_protocol_version_asks_for_a_reload(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with center(tmp_path, offer_timeout=20) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        context = await browser.new_context()

        def newer_server(ws: Any) -> None:
            server = ws.connect_to_server()
            # What the server says reaches the page with the version a newer server would send.
            server.on_message(lambda frame: ws.send(str(frame).replace('"protocol": 1,', '"protocol": 2,')))

        await context.route_web_socket("**/ws/agent**", newer_server)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        await page.goto(f"{c.url}/agent")
        await page.fill("#login-agent", "alice")
        await page.fill("#login-password", "alice")
        await page.click("#login-submit")
        error = page.locator("[data-testid=error][data-error-id=protocol-changed]")
        await expect(error).to_contain_text("reload the page")
        await screenshot(page, tmp_path, "desk-protocol-changed")
        await browser.close()
