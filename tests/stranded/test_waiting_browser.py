"""In Chromium: a chat nobody in its queue can take overflows to another queue and reaches an
agent's desk; a waiting visitor sees their place and, past the maximum wait, books a callback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.adapters.center import AGENTS
from tests.browser import go_available, launch, log_in
from tests.stranded.helpers import center
from tests.stranded.test_overflow_flow import QUEUES, queued_whys

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CALLBACK_AGENTS = [{**a, "capacity": {**a["capacity"], "callback": 1}} if a["id"] == "alice" else a
                   for a in AGENTS]


async def visitor_chats(browser: Any, url: str, body: str) -> Any:
    from playwright.async_api import expect

    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{url}/chat")
    await page.fill("#chat-name", "Mia Lund")
    await page.click("#chat-start")
    await page.fill("#chat-input", body)
    await page.click("#chat-send")
    await expect(page.locator("[data-testid=chat-message][data-sender=customer]")).to_have_count(1)
    return page


async def test_a_chat_overflows_to_another_queue_and_reaches_the_desk(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    queues = [{**q, "overflow": [{"after": 2, "to_queue": "support"}]} if q["name"] == "french" else q
              for q in QUEUES]
    async with center(tmp_path, offer_timeout=20, queues=queues,
                      chat={"queue": "french", "queue_status_seconds": 0.3}) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        desk = await log_in(browser, c.url, "alice")  # English only: nobody in "french" can take it
        await go_available(desk)
        visitor = await visitor_chats(browser, c.url, "Bonjour ?")
        await expect(visitor.get_by_test_id("chat-position")).to_have_text("You are next in line.")
        await visitor.screenshot(path=str(tmp_path / "overflow-visitor-waiting.png"))
        # After 2 s it is also offered to "support", where Alice qualifies: her desk is offered it.
        await expect(desk.locator("[data-testid=accept]").first).to_be_visible(timeout=10_000)
        await desk.screenshot(path=str(tmp_path / "overflow-offered.png"))
        await desk.locator("[data-testid=accept]").first.click()
        await expect(visitor.locator("#chat-status")).to_contain_text("Alice")
        await expect(visitor.get_by_test_id("chat-waiting")).to_be_hidden()  # no more "in line"
        (interaction,) = await c.services.context.list_interactions(states=None, agent_id="alice", limit=5)
        # Still french's work, also offered to support (where Alice took it).
        assert interaction.queue == "french"
        assert any(w.get("why") == "overflow" and w["queue"] == "french" and w["also_queue"] == "support"
                   for w in await queued_whys(c, interaction.id))
        assert (tmp_path / "overflow-offered.png").stat().st_size > 0
        await browser.close()


async def test_past_the_maximum_wait_the_widget_offers_a_callback_and_books_it(
        tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    queues = [{"name": "support", "skills": {"english": 1}, "max_wait": 2,
               "service_targets": {"chat": 60, "email": 14400, "voice": 20}}]
    async with center(tmp_path, offer_timeout=20, queues=queues, agents=CALLBACK_AGENTS,
                      chat={"queue": "support", "queue_status_seconds": 0.3}) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        visitor = await visitor_chats(browser, c.url, "Is anyone there?")
        await expect(visitor.get_by_test_id("chat-position")).to_have_text("You are next in line.")
        await expect(visitor.get_by_test_id("chat-estimate")).to_have_text(
            "We cannot estimate the wait right now.")  # nobody answered lately: no made-up figure
        form = visitor.get_by_test_id("chat-callback-form")
        await expect(form).to_be_visible(timeout=10_000)  # after the 2 s maximum wait
        await visitor.screenshot(path=str(tmp_path / "callback-offer.png"))
        await visitor.get_by_test_id("chat-callback-phone").fill("12")
        await visitor.get_by_test_id("chat-callback-send").click()
        await expect(visitor.locator("[data-testid=chat-error][data-error-id=invalid-phone]")).to_be_visible()
        await visitor.get_by_test_id("chat-callback-phone").fill("(415) 555-0100")
        await visitor.get_by_test_id("chat-callback-send").click()
        await expect(visitor.get_by_test_id("chat-callback-booked")).to_contain_text("+14155550100")
        await expect(visitor.locator("#chat-status")).to_have_text(
            "Your callback is booked. You may close this page.")
        await expect(visitor.get_by_test_id("chat-error")).to_have_count(0)
        await expect(visitor.locator("#chat-input")).to_have_value("")  # the first message stays sent
        await visitor.screenshot(path=str(tmp_path / "callback-booked.png"))
        # The callback reaches an agent, with the number to call as a claim.
        alice = await c.agent_socket("alice")
        offer = await alice.expect("interaction.offered")
        assert offer["screen_pop"]["interaction"]["channel"] == "callback"
        assert offer["screen_pop"]["interaction"]["context"]["callback.phone"] == "+14155550100"
        await alice.close()
        await browser.close()
