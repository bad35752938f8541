"""Chromium, driven by Playwright, through the agent page while a visitor chats in the widget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import CHROMIUM_ARGS
from tests.server_process import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser: object) -> Any:
    """A page in a context of its own (its own session storage: one person's browser)."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    return page


def log_in(page: Any, who: str) -> None:
    """The log-in form of the agent or supervisor page; the demo passwords are the ids."""
    page.fill("#login-agent", who)
    page.fill("#login-password", who)
    page.click("#login-submit")


def test_agent_page_and_chat_widget(srv: RunningServer, browser: object) -> None:
    from playwright.sync_api import expect

    agent, visitor = new_page(browser), new_page(browser)
    agent.goto(f"{srv.url}/agent")
    log_in(agent, "alice")
    # Logged in and connected first: the pill says "offline" before log-in too.
    expect(agent.locator("#conn-status")).to_have_attribute("data-state", "connected")
    expect(agent.locator("#agent-state")).to_contain_text("offline")
    agent.select_option("#state-select", "available")
    agent.click("#state-apply")
    expect(agent.locator("#agent-state")).to_contain_text("available")

    visitor.goto(f"{srv.url}/chat")
    visitor.fill("#chat-name", "Nora Quinn")
    visitor.fill("#chat-email", "nora@example.org")
    visitor.click("#chat-start")
    visitor.fill("#chat-input", "Can I change my delivery address?")
    visitor.click("#chat-send")
    expect(visitor.locator("[data-testid=chat-message][data-sender=customer]")).to_have_count(1)

    offer = agent.locator("[data-testid=offer]")
    expect(offer).to_have_count(1)
    pop = agent.locator("[data-testid=screen-pop]").first
    expect(pop).to_contain_text("Nora Quinn")
    expect(pop).to_contain_text("nora@example.org")
    expect(pop).to_contain_text("Can I change my delivery address?")
    agent.locator("[data-testid=accept]").first.click()

    conversation = agent.locator("[data-testid=conversation]").first
    expect(conversation).to_be_visible()
    expect(visitor.locator("#chat-status")).to_contain_text("Alice")
    conversation.locator("[data-testid=reply-input]").fill("Yes, what is the new address?")
    conversation.locator("[data-testid=reply-send]").click()
    expect(visitor.locator("[data-testid=chat-message][data-sender=agent]")).to_contain_text(
        "Yes, what is the new address?")

    visitor.fill("#chat-input", "12 Elm Street")
    visitor.click("#chat-send")
    expect(conversation.locator("[data-testid=message][data-sender=customer]").last).to_contain_text(
        "12 Elm Street")

    conversation.locator("[data-testid=disposition]").select_option("resolved")
    conversation.locator("[data-testid=complete]").click()
    expect(visitor.locator("#chat-status")).to_contain_text("closed", ignore_case=True)
    expect(agent.locator("[data-testid=error]")).to_have_count(0)
    for page in (agent, visitor):
        page.context.close()


def test_supervisor_board_shows_the_queue_and_sets_an_agents_state(
        srv: RunningServer, browser: object) -> None:
    from playwright.sync_api import expect

    board, visitor = new_page(browser), new_page(browser)
    # An agent is sent to their own desktop.
    board.goto(f"{srv.url}/supervisor")
    log_in(board, "alice")
    expect(board.locator("#login-error")).to_contain_text("for supervisors")
    log_in(board, "sam")
    expect(board.locator("#conn-status")).to_have_attribute("data-state", "connected")
    rows = board.locator("[data-testid=agent-row]")
    expect(rows).to_have_count(3)  # his team, support: Alice, Bob and Sam; not Sue's Carol
    expect(board.locator("[data-testid=agent-row][data-agent=carol]")).to_have_count(0)

    def set_state(agent: str, state: str) -> None:
        row = board.locator(f"[data-testid=agent-row][data-agent={agent}]")
        row.locator("[data-testid=state-select]").select_option(state)
        row.locator("[data-testid=state-apply]").click()
        expect(row.locator("[data-testid=agent-state]")).to_have_attribute("data-state", state)

    for agent in ("alice", "bob", "sam"):  # (Carol, not his, has not gone available)
        set_state(agent, "offline")
    # No telephony link on this server: nothing to listen to.
    expect(board.locator("[data-testid=monitor-listen]").first).to_be_disabled()

    visitor.goto(f"{srv.url}/chat")
    visitor.fill("#chat-name", "Ola Berg")
    visitor.fill("#chat-email", "ola@example.org")
    visitor.click("#chat-start")
    visitor.fill("#chat-input", "Is anyone there?")
    visitor.click("#chat-send")

    support = board.locator("[data-testid=queue-row][data-queue=support]")
    expect(support.locator("[data-testid=queue-waiting]")).to_have_attribute("data-count", "1")
    expect(support.locator("[data-testid=queue-waiting]")).to_contain_text("chat 1")
    expect(board.locator("#t-waiting")).to_have_text("1")
    expect(board.locator("[data-testid=event]").first).to_contain_text("chat waiting in support")

    # Alice's desk is open (offline) before she is brought in: the offer lasts 3 s in this
    # configuration, less than a log-in takes on a busy machine.
    agent = new_page(browser)
    agent.goto(f"{srv.url}/agent")
    log_in(agent, "alice")
    expect(agent.locator("#conn-status")).to_have_attribute("data-state", "connected")

    # The supervisor brings Alice in: the chat is offered to her and leaves the queue.
    set_state("alice", "available")
    expect(board.locator("[data-testid=event]", has_text="offered to Alice Martin")).to_have_count(1)
    expect(board.locator("#t-waiting")).to_have_text("0")
    expect(support.locator("[data-testid=queue-waiting]")).to_have_attribute("data-count", "0")

    # Alice takes it at once: the queue's chat service level counts it as answered in target.
    agent.locator("[data-testid=accept]").first.click()
    expect(board.locator("[data-testid=event]", has_text="Alice Martin accepted")).to_have_count(1)
    expect(support.locator("[data-testid=queue-service-level] [data-channel=chat]")).to_have_text("chat 100%")
    work = board.locator("[data-testid=agent-row][data-agent=alice] [data-testid=work-item]")
    expect(work).to_have_attribute("data-state", "active")  # what she is on, and for how long
    expect(work).to_contain_text("chat active")
    expect(board.locator("#sl-title")).to_have_text("Service level (last 60 min)")
    expect(board.locator("[data-testid=error]")).to_have_count(0)
    for page in (board, visitor, agent):
        page.context.close()
