"""Chromium, driven by Playwright: a supervisor's campaign reaches the agent desk's notices area,
the agent acknowledges it (the supervisor's list of readers says so), and a chat that names the
campaign shows it in the screen pop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.e2e.test_browser import browser, log_in, new_page  # noqa: F401  (the fixture)
from tests.server_process import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def token(srv: RunningServer, who: str) -> str:
    r = requests.post(f"{srv.url}/api/login", json={"agent_id": who, "password": who}, timeout=10)
    r.raise_for_status()
    return str(r.json()["token"])


def test_a_campaign_notice_acknowledged_and_shown_in_the_screen_pop(
        srv: RunningServer, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    sam = {"Authorization": f"Bearer {token(srv, 'sam')}"}
    now = time.time()
    made = requests.post(f"{srv.url}/api/campaigns", headers=sam, timeout=10, json={
        "name": "Spring Sale", "starts_at": now - 60, "ends_at": now + 86_400, "channels": ["chat"],
        "summary": "20% off annual plans until Sunday", "public_faq": "Q: Monthly plans? A: No.",
        "internal_notes": "Offer the annual switch first", "keywords": ["spring sale"]})
    assert made.status_code == 201, made.text
    campaign = made.json()

    agent, visitor = new_page(browser), new_page(browser)
    agent.goto(f"{srv.url}/agent")
    log_in(agent, "alice")
    expect(agent.locator("#conn-status")).to_have_attribute("data-state", "connected")
    notice = agent.locator(f"[data-testid=campaign-notice][data-campaign-id='{campaign['id']}']")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("data-acknowledged", "no")
    expect(notice.locator("[data-testid=campaign-summary]")).to_have_text("20% off annual plans until Sunday")
    notice.locator("[data-testid=campaign-ack]").click()
    expect(notice.locator("[data-testid=campaign-acked]")).to_contain_text("Read")
    expect(agent.locator(f"[data-testid=campaign-notice][data-campaign-id='{campaign['id']}']")) \
        .to_have_attribute("data-acknowledged", "yes")
    readers = requests.get(f"{srv.url}/api/campaigns/{campaign['id']}/readers", headers=sam,
                           timeout=10).json()
    assert "alice" in readers["acknowledged"] and "bob" in readers["not_acknowledged"]
    agent.screenshot(path=str(tmp_path / "campaign-notice-acknowledged.png"))

    # A chat naming the campaign: the offer's screen pop shows it, internal notes included.
    agent.select_option("#state-select", "available")
    agent.click("#state-apply")
    expect(agent.locator("#agent-state")).to_contain_text("available")
    visitor.goto(f"{srv.url}/chat")
    visitor.fill("#chat-name", "Pia Spring")
    visitor.click("#chat-start")
    visitor.fill("#chat-input", "Does the Spring Sale apply to my plan?")
    visitor.click("#chat-send")
    # The campaign's public FAQ is a knowledge article: the widget suggests it before an agent.
    suggested = visitor.locator("[data-testid=chat-kb-article]", has_text="Spring Sale")
    expect(suggested).to_be_visible()
    expect(suggested).not_to_contain_text("Offer the annual switch first")  # internal notes stay inside
    visitor.get_by_test_id("chat-kb-agent").click()
    pop = agent.locator("[data-testid=offer] [data-testid=screen-pop]").first
    shown = pop.locator("[data-testid=pop-campaign]")
    expect(shown).to_contain_text("Spring Sale")
    expect(shown).to_have_attribute("data-tag", "campaign:spring-sale")
    expect(shown.locator("[data-testid=campaign-internal]")).to_have_count(1)
    agent.screenshot(path=str(tmp_path / "campaign-in-screen-pop.png"))
    for page in (agent, visitor):
        page.context.close()


def test_a_supervisor_announces_a_campaign_and_sees_who_has_not_read_it(
        srv: RunningServer, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    sam = new_page(browser)
    sam.goto(f"{srv.url}/supervisor")
    log_in(sam, "sam")
    expect(sam.locator("#conn-status")).to_have_attribute("data-state", "connected")
    card = sam.locator("[data-testid=campaigns-card]")
    card.locator("summary").click()
    card.locator("[data-testid=campaign-name]").fill("Winter Bundle")
    card.locator("[data-testid=campaign-starts]").fill("2030-01-10T09:00")
    card.locator("[data-testid=campaign-ends]").fill("2030-01-20T18:00")
    card.locator("[data-testid=campaign-keywords]").fill("winter bundle, bundle price")
    card.locator("[data-testid=campaign-summary-input]").fill("Phone and internet together, -15%")
    card.locator("[data-testid=campaign-create]").click()
    row = card.locator("[data-testid=campaign-row]", has_text="Winter Bundle")
    expect(row).to_have_count(1)
    # Not announced to agents yet (notice time 24 h before the start): nobody of sam's team has read it.
    expect(row.locator("[data-testid=campaign-unread]")).to_have_text("alice, bob")
    # A bad one is refused with the field named.
    card.locator("[data-testid=campaign-name]").fill("No keywords")
    card.locator("[data-testid=campaign-starts]").fill("2030-02-10T09:00")
    card.locator("[data-testid=campaign-ends]").fill("2030-02-01T09:00")
    card.locator("[data-testid=campaign-keywords]").fill("late")
    card.locator("[data-testid=campaign-summary-input]").fill("ends before it starts")
    card.locator("[data-testid=campaign-create]").click()
    expect(card.locator("[data-testid=campaign-error]")).to_contain_text("ends_at")
    sam.screenshot(path=str(tmp_path / "campaign-board.png"))
    sam.context.close()
