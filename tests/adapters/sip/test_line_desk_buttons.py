"""Chromium on the agent desk during a SIP-line call, on the wire (kamailio with record-route, a
SIPp caller and alice's SIPp phone): the call panel has the buttons the line states in the hello
(hold, recording) and not consult, which the line refuses; Record, Pause, Resume and Stop write
the WAV, Hold and Resume re-INVITE the phone and switch the caller to the hold audio, Hang up
BYEs both legs. A call dialled from the desk's dial box gets the same buttons, and the transfer
picker moves it to a queue. The parties' SDP name sockets of this test, so the test hears what
the relay sends each side."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from adapters.sip import g711
from cti.domain import InteractionState
from cti.eventlog import EntryKind
from tests.adapters.sip.peers import start_sipp
from tests.adapters.sip.sipcore_line import all_dialogs_ended, no_route_refusals, phone_received
from tests.adapters.sip.test_g711 import peak_hz
from tests.adapters.sip.test_line import CALLER, LINE, until
from tests.adapters.sip.test_line_agent import _in_state, _state_is, caller_playing, g711_tone_wav, sip_center
from tests.adapters.sip.test_line_desk import (
    HOLDING_PHONE_XML,
    _silent_run,
    ear,
    log_kinds,
    port_of,
    quiet,
    tone_at,
)
from tests.adapters.sip.test_line_dialled import CUSTOMER, phone_xml, talking
from tests.browser import go_available, launch, log_in, screenshot

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_the_desk_buttons_act_on_a_sip_line_call(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    recordings = tmp_path / "recordings"
    with ear() as agent_ear, ear() as caller_ear:
        async with sip_center(tmp_path, recording_dir=str(recordings)) as calls, async_playwright() as pw:
            scenario = tmp_path / "holding_phone.xml"
            scenario.write_text(HOLDING_PHONE_XML.replace("EAR", str(port_of(agent_ear))))
            phone = calls.phone("alice", scenario)
            tone = g711_tone_wav(tmp_path / "tone-1k.wav", 1000, 60, g711.PCMU)
            caller_xml = caller_playing(tmp_path, tone, g711.PCMU)
            text = caller_xml.read_text()
            assert text.count("m=audio [rtpstream_audio_port] ") == 1
            caller_xml.write_text(text.replace("m=audio [rtpstream_audio_port] ",
                                               f"m=audio {port_of(caller_ear)} "))
            browser = await launch(pw, chromium)
            caller = None
            try:
                page = await log_in(browser, calls.center.url, "alice")
                # her phone is on the line: click-to-dial shows
                await expect(page.locator("[data-testid=dial-form]")).to_be_visible()
                await go_available(page)
                caller = await start_sipp(tmp_path, "caller", str(caller_xml),
                                          f"127.0.0.1:{calls.kamailio.port}", "-s", LINE, "-m", "1",
                                          "-key", "dtmf", "#", "-key", "cli", CALLER,
                                          "-set", "hangup_ms", "0")
                active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30, "answered")
                panel = page.locator("[data-testid=call-panel]")
                status = panel.locator("[data-testid=call-status]")
                await expect(status).to_have_text("on the call")
                hold = panel.locator("[data-testid=call-hold]")
                record = panel.locator("[data-testid=call-record]")
                stop = panel.locator("[data-testid=call-record-stop]")
                await expect(hold).to_be_visible()
                await expect(record).to_be_visible()
                await expect(record).to_have_text("Record")
                await expect(stop).to_be_hidden()  # nothing to stop yet
                await expect(panel.locator("[data-testid=call-consult]")).to_be_hidden()  # 503 on this line
                await expect(panel.locator("[data-testid=consult-target]")).to_be_hidden()
                await expect(page.locator("[data-testid=transfer-pick]")).to_be_visible()  # blind transfer

                # recording: 1 s, paused 1 s, 0.5 s again, stopped
                await record.click()
                await expect(record).to_have_text("Pause recording")
                await asyncio.sleep(1.0)
                await record.click()
                await expect(record).to_have_text("Resume recording")
                await asyncio.sleep(1.0)
                await record.click()
                await expect(record).to_have_text("Pause recording")
                await asyncio.sleep(0.5)
                await stop.click()
                await expect(record).to_have_text("Record")
                await expect(stop).to_be_hidden()
                recorded = await calls.center.services.context.interaction(active.id)
                stored = Path(recorded.context["voice.recording"])
                assert stored == recordings / f"{active.id}.wav"
                with wave.open(str(stored), "rb") as w:
                    frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
                seconds, paused = len(frames) / 8000, _silent_run(frames[:, 0])
                print(f"recording from the desk's buttons: {seconds:.2f} s, caller "
                      f"{peak_hz(frames[:4000, 0]):.1f} Hz, paused {paused:.2f} s")
                assert abs(peak_hz(frames[:4000, 0]) - 1000) <= 8  # the caller, on the left
                assert 0.6 <= paused <= 1.6, paused  # the pause kept as silence, about 1 s
                assert 2.0 <= seconds <= 4.0, seconds

                await hold.click()
                await expect(status).to_have_text("the caller is on hold")
                await expect(hold).to_have_text("Resume")
                assert abs(await tone_at(caller_ear) - 400) <= 8  # the hold audio
                assert await quiet(agent_ear, 0.5) == 0  # the caller is not heard by the agent
                reinvites = phone_received(phone, "INVITE")[1:]
                assert len(reinvites) == 1 and "a=sendonly" in reinvites[0], reinvites
                await screenshot(page, tmp_path, "sip-line-call-on-hold")

                await hold.click()
                await expect(status).to_have_text("on the call")
                await expect(hold).to_have_text("Hold")
                assert abs(await tone_at(agent_ear) - 1000) <= 8  # relayed again
                reinvites = phone_received(phone, "INVITE")[1:]
                assert len(reinvites) == 2 and "a=sendrecv" in reinvites[1], reinvites
                entries = await log_kinds(calls.center, active.id, EntryKind.HELD, EntryKind.RESUMED)
                assert [e.agent_id for e in entries if e.kind in (EntryKind.HELD, EntryKind.RESUMED)] \
                    == ["alice"] * 2
                await screenshot(page, tmp_path, "sip-line-call-panel")

                await panel.locator("[data-testid=call-hangup]").click()
                await expect(status).to_have_text("call ended")
                assert await caller.wait(10) == 0, caller.messages()[-3000:]
                assert await asyncio.to_thread(phone.wait, 10) == 0
                assert await _state_is(calls.center, active.id, InteractionState.WRAP_UP)
                await expect(page.locator("[data-testid=error]")).to_have_count(0)
                no_route_refusals(calls.kamailio)
                await all_dialogs_ended(calls.kamailio)
            finally:
                if caller is not None:
                    caller.kill()
                phone.kill()
                await browser.close()


async def test_a_call_dialled_from_the_desk_has_the_buttons_and_the_transfer_picker(
        tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    with ear() as agent_ear, ear() as customer_ear:
        async with sip_center(tmp_path) as calls, async_playwright() as pw:
            scenario = tmp_path / "holding_phone.xml"  # takes the hold and resume re-INVITEs
            scenario.write_text(HOLDING_PHONE_XML.replace("EAR", str(port_of(agent_ear))))
            phone = calls.phone("alice", scenario)
            customer = talking(calls, CUSTOMER, phone_xml(tmp_path, "customer", hz=1000,
                                                          ear_port=port_of(customer_ear)))
            browser = await launch(pw, chromium)
            try:
                page = await log_in(browser, calls.center.url, "alice")
                await page.fill("[data-testid=dial-number]", "+" + CUSTOMER)
                await page.click("[data-testid=dial-submit]")
                await until(lambda: calls.kamailio.dialogs().get("ongoing") == 2, 15, "both legs talking")
                panel = page.locator("[data-testid=call-panel]")
                status = panel.locator("[data-testid=call-status]")
                await expect(status).to_have_text("on the call")
                await expect(panel.locator("[data-testid=call-record]")).to_be_visible()
                await expect(panel.locator("[data-testid=call-consult]")).to_be_hidden()
                hold = panel.locator("[data-testid=call-hold]")
                await hold.click()
                await expect(status).to_have_text("the caller is on hold")
                assert abs(await tone_at(customer_ear) - 400) <= 8  # the dialled customer: the hold audio
                await hold.click()
                await expect(status).to_have_text("on the call")
                assert abs(await tone_at(agent_ear) - 1000) <= 8  # alice hears the customer again
                await screenshot(page, tmp_path, "sip-line-dialled-call-panel")

                await page.click("[data-testid=transfer-pick]")
                await page.click("[data-testid=pick-queue][data-queue=support]")
                await page.click("[data-testid=transfer]")
                await expect(page.locator("[data-testid=conversation]")).to_have_count(0)
                assert await asyncio.to_thread(phone.wait, 10) == 0  # alice's leg got its BYE
                assert len(phone_received(phone, "BYE")) == 1
                assert abs(await tone_at(customer_ear) - 400) <= 8  # waiting on the hold audio
                await until(lambda: calls.kamailio.dialogs().get("all") == 1, 5, "only the customer's dialog")
                await expect(page.locator("[data-testid=error]")).to_have_count(0)
                no_route_refusals(calls.kamailio)
            finally:
                phone.kill()
                customer.kill()
                await browser.close()
