"""The desktop pages in Chromium: sockets opened with one-time tickets (never the token in the
URL), and a token refreshed before it expires, so the page works past its first token's life."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.adapters.center import running_center
from tests.browser import go_available, launch

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TTL = 20  # seconds: the pages refresh 5 s after log-in when the token is this short


async def open_page(browser: Any, url: str, who: str, path: str, sockets: list[str]) -> Any:
    from playwright.async_api import expect

    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(15_000)
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(f"{url}{path}")
    await page.fill("#login-agent", who)
    await page.fill("#login-password", who)
    await page.click("#login-submit")
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
    return page


async def test_pages_open_sockets_with_tickets_and_refresh_their_tokens(
        tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with running_center(tmp_path, {}, token_ttl=TTL) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        try:
            sockets: list[str] = []
            agent = await open_page(browser, center.url, "alice", "/agent", sockets)
            await open_page(browser, center.url, "sam", "/supervisor", sockets)
            assert len(sockets) == 2 and all("?ticket=" in u and "token=" not in u for u in sockets), sockets

            first = await agent.evaluate("sessionStorage.getItem('cti.agent.token')")
            expires = jwt.decode(first, options={"verify_signature": False})["exp"]
            # Wait, with a deadline, until the first token has expired (the page refreshed it).
            deadline = time.monotonic() + 3 * TTL
            while time.time() <= expires + 1:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.5)
            assert await agent.evaluate("sessionStorage.getItem('cti.agent.token')") != first
            # The page still works: its REST calls carry the refreshed token, its socket stays
            # (renewed with the fresh token: not closed at the first one's end, 4001).
            await go_available(agent)
            await expect(agent.locator("#conn-status")).to_have_attribute("data-state", "connected")
            assert len(sockets) == 2, sockets
        finally:
            await browser.close()


async def test_log_out_on_a_page_revokes_its_token_on_the_server(tmp_path: Path, chromium: str) -> None:
    """A token copied before the agent clicked Log out (a shared machine, a proxy log) is dead."""
    import aiohttp
    from playwright.async_api import async_playwright, expect

    async with running_center(tmp_path, {}) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        try:
            sockets: list[str] = []
            pages = {"/agent": ("alice", "cti.agent.token"), "/supervisor": ("sam", "cti.supervisor.token")}
            for path, (who, key) in pages.items():
                page = await open_page(browser, center.url, who, path, sockets)
                token = await page.evaluate(f"sessionStorage.getItem('{key}')")
                assert token
                await page.click("#logout")
                await expect(page.locator("#login-view")).to_be_visible()
                async with aiohttp.ClientSession() as http:
                    deadline = time.monotonic() + 15
                    while True:  # the page's request is fire-and-forget: wait for it to land
                        async with http.get(f"{center.url}/api/me",
                                            headers={"Authorization": f"Bearer {token}"}) as resp:
                            body = await resp.json()
                        if resp.status == 401:
                            break
                        assert time.monotonic() < deadline, f"{path}: token still works after log out"
                        await asyncio.sleep(0.2)
                assert body["error_id"] == "token-revoked", body
        finally:
            await browser.close()
