"""Chromium on the agent desktop during a Twilio call: the recording, hold and consult buttons act
on the call (its Recordings API) and its conference (the local fake Twilio API checks each
request), as on an Asterisk call."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapters.twilio_voice.fake_voice import FakeTwilioVoice
from tests.adapters.twilio_voice.test_conference_controls import participant_callback, participant_request
from tests.adapters.twilio_voice.test_recording_controls import recording_request
from tests.adapters.twilio_voice.test_voice_flow import connected, voice_center
from tests.browser import launch, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_hold_and_consult_buttons_on_a_twilio_call(tmp_path: Path, twilio: FakeTwilioVoice,
                                                        chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with voice_center(tmp_path, twilio) as voice, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await log_in(browser, voice.center.url, "alice")
        await expect(page.locator("[data-testid=dial-form]")).to_be_visible()  # her phone is on Twilio
        await page.select_option("#state-select", "available")
        await page.click("#state-apply")
        await expect(page.locator("#agent-state")).to_contain_text("available")
        queued, _ = await connected(voice, "CA" + "7" * 32)
        panel = page.locator("[data-testid=call-panel]")
        status = panel.locator("[data-testid=call-status]")
        await expect(status).to_have_text("on the call")
        record = panel.locator("[data-testid=call-record]")
        await record.click()
        started = await recording_request(voice, 1)
        assert (started.call_sid, started.form["RecordingChannels"]) == (queued.call_sid, "dual")
        await expect(record).to_have_text("Pause recording")
        await record.click()
        assert (await recording_request(voice, 2)).form == {"Status": "paused", "PauseBehavior": "silence"}
        await expect(record).to_have_text("Resume recording")

        await panel.locator("[data-testid=call-hold]").click()
        held = await participant_request(voice, 1)
        assert (held.call_sid, held.form["Hold"]) == (queued.call_sid, "true")
        await expect(status).to_have_text("the caller is on hold")
        await panel.locator("[data-testid=call-hold]").click()
        assert (await participant_request(voice, 2)).form == {"Hold": "false"}
        await expect(status).to_have_text("on the call")

        await panel.locator("[data-testid=consult-target]").fill("bob")
        await panel.locator("[data-testid=call-consult]").click()
        added = await participant_request(voice, 4)
        assert added.form["To"] == "client:bob"
        await expect(status).to_have_text("consulting bob; the caller is on hold")
        await participant_callback(voice, added, "no-answer")  # bob does not pick up
        await expect(status).to_have_text("on the call")
        await expect(page.locator("[data-testid=error]")).to_have_count(0)

        # Sam, on the supervisor board, listens in from his own Twilio phone.
        board = await log_in(browser, voice.center.url, "sam", page_path="/supervisor")
        listen = board.locator("[data-testid=agent-row][data-agent=alice] [data-testid=monitor-listen]")
        await expect(listen).to_be_enabled()
        await listen.click()
        spy = await participant_request(voice, 6)
        assert (spy.form["To"], spy.form["Muted"]) == ("client:sam", "true")
        await expect(board.locator("[data-testid=error]")).to_have_count(0)
        await browser.close()
