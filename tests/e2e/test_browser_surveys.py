"""Chromium, driven by Playwright: a chat visitor rates the chat in the widget after the agent
completes it; the rating reaches the interaction's log (read back through the API)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_browser import browser, log_in, new_page  # noqa: F401  (the fixture)
from tests.server_process import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_chat_survey_answered_in_the_widget(srv: RunningServer, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    agent, visitor = new_page(browser), new_page(browser)
    agent.goto(f"{srv.url}/agent")
    log_in(agent, "alice")
    expect(agent.locator("#conn-status")).to_have_attribute("data-state", "connected")
    agent.select_option("#state-select", "available")
    agent.click("#state-apply")
    expect(agent.locator("#agent-state")).to_contain_text("available")

    visitor.goto(f"{srv.url}/chat")
    visitor.fill("#chat-name", "Rita Survey")
    visitor.click("#chat-start")
    visitor.fill("#chat-input", "Where is my parcel?")
    visitor.click("#chat-send")
    agent.locator("[data-testid=accept]").first.click()
    conversation = agent.locator("[data-testid=conversation]").first
    conversation.locator("[data-testid=reply-input]").fill("On its way, arriving tomorrow.")
    conversation.locator("[data-testid=reply-send]").click()
    expect(visitor.locator("[data-testid=chat-message][data-sender=agent]")).to_contain_text("On its way")
    conversation.locator("[data-testid=disposition]").select_option("resolved")
    conversation.locator("[data-testid=complete]").click()

    survey = visitor.locator("[data-testid=chat-survey]")
    expect(survey).to_be_visible()
    survey.locator("[data-testid=chat-survey-send]").click()  # no rating picked: asked to pick one
    expect(survey.locator("[data-testid=chat-survey-result]")).to_contain_text("Pick a rating")
    survey.locator("[data-testid=chat-survey-4]").check()
    survey.locator("[data-testid=chat-survey-comment]").fill("Quick answer, thanks")
    survey.locator("[data-testid=chat-survey-send]").click()
    expect(survey.locator("[data-testid=chat-survey-result]")).to_have_text("Thank you for your answer!")
    expect(survey.locator("form")).to_be_hidden()
    # The answer is in the conversation's history, as the widget and the agent's timeline show it.
    expect(visitor.locator("[data-testid=chat-message][data-sender=system]").last).to_contain_text(
        "Survey answered: 4/5")
    visitor.screenshot(path=str(tmp_path / "chat-survey-answered.png"))
    for page in (agent, visitor):
        page.context.close()
