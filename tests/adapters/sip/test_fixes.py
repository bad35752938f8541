"""The fixes around pyVoIP 1.6.8, each against real peers (kamailio, SIPp).

Each test names the pyVoIP defect it guards (see docs/channels/sip.md for which were measured).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.adapters.sip.peers import sip_request, start_sipp
from tests.adapters.sip.test_line import CALLER, LINE, sip_line, until, voice_interactions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_options_through_the_proxy_gets_200(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: OPTIONS gets no answer at all (pyVoIP's parser refuses the method)."""
    async with sip_line(tmp_path, monkeypatch) as line:
        status = await asyncio.to_thread(
            sip_request, line.kamailio.port, "OPTIONS", f"sip:{LINE}@127.0.0.1:{line.kamailio.port}")
        assert status == "SIP/2.0 200 OK"


async def test_refer_gets_a_final_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: REFER gets no answer at all."""
    async with sip_line(tmp_path, monkeypatch) as line:
        status = await asyncio.to_thread(sip_request, line.sip_port, "REFER", f"sip:{LINE}@127.0.0.1")
        assert status is not None and status.startswith("SIP/2.0 501")


async def test_dtmf_info_reaches_the_line_through_the_proxy(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Defects: pyVoIP's 200 OK drops Record-Route (the caller's INFO then has no Route and the
    proxy answers ``404 Not here``), and INFO itself gets no answer."""
    async with sip_line(tmp_path, monkeypatch) as line:
        caller = await start_sipp(tmp_path, "caller", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                  "-key", "dtmf", "12#", "-key", "cli", CALLER, "-set", "hangup_ms", "500")
        try:
            assert await caller.wait(30) == 0, caller.messages()[-3000:]
            messages = caller.messages()
            assert "Record-Route:" in messages
            assert "404 Not here" not in messages
            queued = await until(lambda: voice_interactions(line.center), 10, "the interaction")
            assert queued[0].context["ivr.account"] == "12"
        finally:
            caller.kill()


async def test_a_call_over_the_limit_gets_486_and_the_other_call_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: when the RTP ports run out the caller hears nothing (no 486/503) and live calls'
    ports are freed."""
    async with sip_line(tmp_path, monkeypatch, max_calls=1) as line:
        first = await start_sipp(tmp_path, "first", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                 "-key", "dtmf", "1#", "-key", "cli", CALLER, "-set", "hangup_ms", "5000")
        second = None
        try:
            queued = await until(lambda: voice_interactions(line.center), 15, "the first call queued")
            second = await start_sipp(tmp_path, "second", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                      "-key", "dtmf", "2#", "-key", "cli", "15550000002",
                                      "-set", "hangup_ms", "500", "-recv_timeout", "5000")
            await second.wait(20)  # SIPp's caller.xml does not expect a refusal: its exit code says little
            assert "SIP/2.0 486 Busy Here" in second.messages()
            live = line.adapter.call_for(queued[0].id)
            assert live is not None and live.leg is not None
            before = live.leg.counts.received
            await asyncio.sleep(0.5)
            assert live.leg.counts.received > before  # the first call's audio still flows
            assert await first.wait(20) == 0, first.messages()[-3000:]
        finally:
            first.kill()
            if second is not None:
                second.kill()
