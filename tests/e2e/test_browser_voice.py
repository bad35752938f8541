"""Chromium on the agent desktop and the supervisor board during a call: a fake Asterisk on a
socket, the real server process, the controls clicked as people would (async Playwright, beside
the fake's loop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ami.center import idle_asterisk, phases
from tests.ami.fake_ami import FakeAmi, header
from tests.browser import go_available, launch, log_in
from tests.e2e.test_voice_end_to_end import write_config
from tests.server_process import run_server_async

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.integration]

HANGUP_EVENTS = ("Event: Hangup", "Event: HangupRequest", "Event: SoftHangupRequest")


async def test_a_call_on_the_desktop_is_held_recorded_listened_to_hung_up_and_completed(
        tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    queued, connected = phases("inbound_hold_originate_bridge")
    talking = tuple(f for f in connected.frames if not f.startswith(HANGUP_EVENTS))
    hanging_up = tuple(f for f in connected.frames if f not in talking)
    async with FakeAmi() as ami:
        idle_asterisk(ami)
        config = write_config(tmp_path / "voice.yaml", ami.port)
        async with run_server_async(tmp_path, config=config) as srv, async_playwright() as pw:
            await ami.wait_action("CoreShowChannels", timeout=10)  # the bridge resynced
            browser = await launch(pw, chromium)
            page = await log_in(browser, srv.url, "alice")
            await expect(page.locator("[data-testid=dial-form]")).to_be_visible()  # telephony is up
            await go_available(page)

            # A caller waits; Alice's phone rings; she answers it (the accept comes from Asterisk).
            for frame in queued.frames:
                ami.current.write(frame.encode())
            await expect(page.locator("[data-testid=offer]")).to_have_count(1)
            await ami.wait_action("Originate")
            for frame in talking:
                ami.current.write(frame.encode())
            panel = page.locator("[data-testid=call-panel]")
            await expect(panel).to_be_visible()
            await expect(page.locator("[data-testid=reply-input]")).to_have_count(0)  # a call: no typing
            status = panel.locator("[data-testid=call-status]")
            await expect(status).to_have_text("on the call")

            await panel.locator("[data-testid=call-hold]").click()
            assert header(await ami.wait_action("Redirect"), "Context") == "cti-hold"
            await expect(status).to_have_text("the caller is on hold")
            await expect(panel.locator("[data-testid=call-hold]")).to_have_text("Resume")

            await panel.locator("[data-testid=call-record]").click()
            assert header(await ami.wait_action("MixMonitor"), "Channel") == "PJSIP/agent1-00000002"
            await expect(panel.locator("[data-testid=call-record]")).to_have_text("Pause recording")

            # Sam, on the supervisor board, listens in from his own phone.
            board = await log_in(browser, srv.url, "sam", page_path="/supervisor")
            listen = board.locator("[data-testid=agent-row][data-agent=alice] [data-testid=monitor-listen]")
            await expect(listen).to_be_enabled()  # telephony is up and Alice is on a call
            await listen.click()
            spy = await ami.wait_action("Originate", count=2)
            # ChanSpy on his phone
            assert (header(spy, "Application"), header(spy, "Channel")) == ("ChanSpy", "PJSIP/super1")
            await expect(board.locator("[data-testid=event]").first).to_contain_text("you listen to")
            await expect(board.locator("[data-testid=error]")).to_have_count(0)

            await panel.locator("[data-testid=call-hangup]").click()
            assert header(await ami.wait_action("Hangup"), "Cause") == "16"
            for frame in hanging_up:
                ami.current.write(frame.encode())
            await expect(status).to_have_text("call ended")
            await expect(page.locator("[data-testid=conversation-state]")).to_have_text("wrap up")

            conversation = page.locator("[data-testid=conversation]")
            await conversation.locator("[data-testid=disposition]").select_option("resolved")
            await conversation.locator("[data-testid=complete]").click()
            await expect(conversation).to_have_count(0)
            await expect(page.locator("[data-testid=error]")).to_have_count(0)
            await browser.close()
