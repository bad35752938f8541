"""The agent page shows a chat visitor's typed address as a claim and links it by hand (Chromium)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import srv
from tests.e2e.test_browser import browser, log_in, new_page
from tests.server_process import RunningServer

__all__ = ["browser", "srv"]  # fixtures used below

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_claim_is_shown_as_one_and_linked_by_hand_with_a_reason(srv: RunningServer,
                                                                  browser: object) -> None:
    from playwright.sync_api import expect

    agent, visitor = new_page(browser), new_page(browser)
    agent.goto(f"{srv.url}/agent")
    log_in(agent, "alice")
    expect(agent.locator("#conn-status")).to_have_attribute("data-state", "connected")
    expect(agent.locator("#agent-state")).to_contain_text("offline")
    agent.select_option("#state-select", "available")
    agent.click("#state-apply")
    expect(agent.locator("#agent-state")).to_contain_text("available")

    visitor.goto(f"{srv.url}/chat")
    visitor.fill("#chat-name", "Nora Quinn")
    visitor.fill("#chat-email", "nora.q@example.org")
    visitor.click("#chat-start")
    visitor.fill("#chat-input", "Where is my refund?")
    visitor.click("#chat-send")

    pop = agent.locator("[data-testid=screen-pop]").first
    claim = pop.locator("[data-testid=claim][data-kind=email]")
    expect(claim).to_contain_text("claims to be Nora Quinn (e-mail) — not verified")
    expect(pop.locator("[data-testid=identity][data-kind=email]")).to_have_count(0)
    # Nothing to act on before the offer is accepted.
    expect(claim.locator("[data-testid=claim-link]")).to_have_count(0)
    agent.locator("[data-testid=accept]").first.click()

    conversation = agent.locator("[data-testid=conversation]").first
    expect(conversation).to_be_visible()
    claim = agent.locator("[data-testid=claim][data-kind=email][data-status=not-verified]").first
    # No reason, no link.
    claim.locator("[data-testid=claim-link]").click()
    expect(agent.locator("[data-testid=error][data-error-id=missing-field]")).to_have_count(1)
    claim.locator("[data-testid=claim-reason]").fill("she quoted the refund number")
    claim.locator("[data-testid=claim-link]").click()
    linked = agent.locator("[data-testid=claim][data-kind=email][data-status=linked]").first
    expect(linked).to_contain_text("linked by hand by alice")
    expect(agent.locator("[data-testid=identity][data-kind=email]").first).to_contain_text("nora.q@example.org")
    for page in (agent, visitor):
        page.context.close()
