"""Outside a queue's business hours the chat widget says it is closed and offers to leave a
message; the message is an interaction that waits for an agent, and is not abandoned when the
visitor goes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cti.domain import InteractionState
from tests.admin.support import admin_center
from tests.security.test_chat_widget import launch, new_page, widget_context
from tests.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEVER: dict[str, Any] = {"never": {"timezone": "UTC", "days": {}}}  # no opening span: always closed


async def test_a_closed_chat_takes_a_message_that_waits_for_an_agent(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_center(tmp_path, chat={"queue": "support", "reconnect_grace": 0}) as center, \
            async_playwright() as pw:
        status, _ = await center.api("ada", "PUT", "/api/admin/business_hours/never", NEVER["never"])
        assert status == 200
        status, _ = await center.api("ada", "PATCH", "/api/admin/queues/support", {"hours": "never"})
        assert status == 200
        browser = await launch(pw, chromium)
        page = await new_page(await widget_context(browser))
        await page.goto(f"{center.url}/chat")
        await page.fill("#chat-name", "Nina Night")
        await page.click("#chat-start")
        await expect(page.locator("#chat-status")).to_contain_text("closed, leave a message",
                                                                   ignore_case=True)
        await page.fill("#chat-input", "Please call me back tomorrow")
        await page.click("#chat-send")
        await expect(page.locator("#chat-status")).to_contain_text("your message is with us")
        await page.click("#chat-leave")
        await browser.close()

        async def left() -> Any:
            found = await center.services.context.list_interactions(states=None, agent_id=None, limit=10,
                                                                     open_only=False)
            return found[0] if found else None

        interaction = await until(left, what="the left message")
        await asyncio.sleep(0.3)  # a visitor who left would be abandoned by now (no grace)
        interaction = await center.services.context.interaction(interaction.id)
        assert interaction.state is InteractionState.QUEUED
        assert interaction.context["chat.left_message"] == "yes"
        messages = await center.services.context.messages(interaction.id)
        assert [m.body for m in messages] == ["Please call me back tomorrow"]
        # Open again: the widget says nothing of hours.
        status, _ = await center.api("ada", "PATCH", "/api/admin/queues/support", {"hours": None})
        assert status == 200
