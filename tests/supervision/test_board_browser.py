"""The supervisor board in Chromium: the waiting list, a reassign from it, and a live chat
watched, whispered to and barged into, with the customer seeing the barge in the widget."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapters.center import running_center
from tests.browser import launch, log_in
from tests.security.scoping import TEAMS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_supervisor_reassigns_watches_whispers_and_barges_from_the_board(
        tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with running_center(tmp_path, {}, **TEAMS) as c, async_playwright() as pw:
        browser = await launch(pw, chromium)
        alice = await c.agent_socket("alice")
        bob = await c.agent_socket("bob")
        board = await log_in(browser, c.url, "sam", page_path="/supervisor")

        widget = await (await browser.new_context()).new_page()
        widget.set_default_timeout(15_000)
        await widget.goto(f"{c.url}/chat")
        await widget.fill("#chat-name", "Mia Widget")
        await widget.click("#chat-start")
        await widget.fill("#chat-input", "My parcel never came")
        await widget.click("#chat-send")

        offer = await alice.expect("interaction.offered")  # Alice has the better skill
        iid = offer["interaction_id"]
        row = board.locator(f"[data-testid=waiting-row][data-interaction='{iid}']")
        await expect(row).to_have_attribute("data-state", "offered")
        await expect(row).to_contain_text("offered to alice")
        await row.locator("[data-testid=waiting-target]").select_option("agent:bob")
        await row.locator("[data-testid=waiting-reassign]").click()
        await alice.expect("interaction.offer_withdrawn")
        again = await bob.expect("interaction.offered")
        assert again["interaction_id"] == iid
        assert (await bob.command({"type": "accept", "interaction_id": iid}))["type"] == "ack"
        await expect(row).to_have_count(0)  # nobody waits any more

        chat = board.locator(f"[data-testid=live-chat][data-interaction='{iid}']")
        await chat.locator("[data-testid=watch-chat]").click()
        transcript = board.locator("[data-testid=transcript]")
        await expect(transcript).to_contain_text("My parcel never came")
        await widget.fill("#chat-input", "Order 5521")
        await widget.click("#chat-send")
        await expect(transcript).to_contain_text("Order 5521")  # as it happens

        await board.fill("[data-testid=whisper-text]", "Be generous, refund it")
        await board.click("[data-testid=whisper]")
        heard = await bob.expect("supervision.whisper")
        assert heard["note"]["body"] == "Be generous, refund it"
        await expect(transcript).to_contain_text("Be generous, refund it")

        await board.click("[data-testid=barge]")
        await expect(board.locator("[data-testid=barge]")).to_be_disabled()  # joined: once is enough
        await board.fill("[data-testid=barge-text]", "Hello Mia, I am the team lead.")
        await board.click("[data-testid=barge-send]")
        await expect(widget.locator("[data-testid=chat-message][data-sender=system]")).to_contain_text(
            "Sam Okafor joined the chat")
        said = widget.locator("[data-testid=chat-message][data-sender=agent]")
        await expect(said).to_contain_text("Hello Mia, I am the team lead.")
        await expect(widget.locator("#chat-messages")).not_to_contain_text("Be generous")
        await board.screenshot(path=str(tmp_path / "board-barge.png"), full_page=True)
        await widget.screenshot(path=str(tmp_path / "widget-barge.png"))

        await board.click("[data-testid=barge-leave]")  # and out again: the customer is told
        await expect(widget.locator("[data-testid=chat-message][data-sender=system]").last).to_contain_text(
            "Sam Okafor left the chat")
        await expect(board.locator("[data-testid=barge]")).to_be_enabled()
        await expect(board.locator("[data-testid=barge-send]")).to_be_disabled()
        await widget.screenshot(path=str(tmp_path / "widget-barge-left.png"))
        await browser.close()
        for sock in (alice, bob):
            await sock.close()
