"""Supervision in Chromium: a supervisor barges into a chat and the customer sees it in the
widget; the wallboard updates when a chat arrives and passes an accessibility check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.adapters.center import running_center
from tests.browser import launch
from tests.security.scoping import TEAMS, take

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def serious_violations(page: Any) -> list[str]:
    """The axe-core violations of impact serious or critical on the page as it is."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


async def test_a_supervisor_barges_into_a_chat_and_the_customer_sees_it(tmp_path: Path,
                                                                       chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with running_center(tmp_path, {}, **TEAMS) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        alice = await c.agent_socket("alice")
        page = await (await browser.new_context()).new_page()
        page.set_default_timeout(15_000)
        await page.goto(f"{c.url}/chat")
        await page.fill("#chat-name", "Mia Widget")
        await page.click("#chat-start")
        await page.fill("#chat-input", "My parcel never came")
        await page.click("#chat-send")
        iid = (await take(alice))["id"]

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/whisper", {"body": "Be generous"})
        assert status == 201, body
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge")
        assert status == 200, body
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge/messages",
                                   {"body": "Hello Mia, I am the team lead."})
        assert status == 201, body

        system = page.locator("[data-testid=chat-message][data-sender=system]")
        await expect(system).to_contain_text("Sam Okafor joined the chat")
        said = page.locator("[data-testid=chat-message][data-sender=agent]")
        await expect(said).to_contain_text("Hello Mia, I am the team lead.")
        await expect(said).to_contain_text("Sam Okafor")
        await expect(page.locator("#chat-messages")).not_to_contain_text("Be generous")
        await page.screenshot(path=str(tmp_path / "barge-seen-by-customer.png"))
        await browser.close()
        await alice.close()


async def test_the_wallboard_updates_when_a_chat_arrives_and_passes_axe(tmp_path: Path,
                                                                       chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with running_center(tmp_path, {}, **TEAMS) as c, async_playwright() as pw:
        status, minted = await c.api("sam", "POST", "/api/wallboard-tokens", {})
        assert status == 201, minted
        browser = await launch(pw, chromium)
        page = await (await browser.new_context(viewport={"width": 1920, "height": 1080})).new_page()
        page.set_default_timeout(15_000)
        await page.goto(f"{c.url}{minted['url']}")
        waiting = page.locator("[data-queue=support] [data-channel=chat] [data-field=waiting]")
        await expect(waiting).to_have_text("0")
        await expect(page.locator("#wb-status")).to_have_attribute("data-state", "live")
        assert "token" not in page.url  # off the address bar of a screen in the open
        assert await page.locator("[data-queue=sales]").count() == 0  # not sam's team

        ws_url = c.url.replace("http", "ws", 1)
        visitor = await c.http.ws_connect(f"{ws_url}/ws/chat")
        await visitor.send_json({"type": "hello", "name": "Mia"})
        await visitor.send_json({"type": "message", "body": "Anyone there?"})
        await expect(waiting).to_have_text("1")
        longest = page.locator("[data-queue=support] [data-channel=chat] [data-field=longest_wait]")
        await expect(longest).to_contain_text(" s")
        await page.screenshot(path=str(tmp_path / "wallboard-chat-arrived.png"))

        assert await serious_violations(page) == []
        await page.reload()  # the token survives a reload of the tab
        await expect(waiting).to_have_text("1")
        await visitor.close()
        await browser.close()
