"""A 3-minute call through the real line keeps its caller-to-agent delay (issue 15: pyVoIP 1.6.8
drifted about +6 ms per second in its relay).

A SIPp caller dials the line through kamailio (record-route) and keys ``#``; its SDP names a
socket of this test, so the line's hold audio arrives there and tells the test the line's RTP
address. The router offers the call to alice, her SIPp phone answers (its SDP names another socket
of this test), and from then the test talks as the caller: 20 ms packets paced against a monotonic
clock for 180 s, each stamped with its send time, sent from the caller's media address (symmetric
RTP). The phone's socket reads what the relay hands on and measures each packet's delay.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from adapters.sip import g711
from cti.domain import Interaction, InteractionState
from tests.adapters.center import Center
from tests.adapters.sip.peers import SIPP_DIR, start_sipp
from tests.adapters.sip.sipcore_line import all_dialogs_ended, no_route_refusals, phone_received
from tests.adapters.sip.stamped_rtp import drift, learn_far_end, talk_and_listen, window_median
from tests.adapters.sip.test_line import CALLER, LINE, until, voice_interactions
from tests.adapters.sip.test_line_agent import agent_hearing_at, sip_center

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.long]

CALL_SECONDS = 180.0  # the figure
WINDOW_SECONDS = 5.0
MAX_DRIFT_SECONDS = 0.020
RTP_STREAM = """  <nop>
    <action>
      <exec rtp_stream="caller-voice.wav,-1,0" />
    </action>
  </nop>
"""


def silent_caller_at(tmp_path: Path, port: int) -> Path:
    """caller.xml whose SDP gives ``port`` as its media port and that streams nothing itself: the
    test talks for it."""
    text = (SIPP_DIR / "caller.xml").read_text()
    media = "m=audio [rtpstream_audio_port] RTP/AVP 0"
    assert text.count(media) == 1 and text.count(RTP_STREAM) == 1, "caller.xml changed"
    path = tmp_path / "caller_silent.xml"
    path.write_text(text.replace(media, f"m=audio {port} RTP/AVP 0")
                    .replace(RTP_STREAM, ""))
    return path


def loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _active(center: Center) -> Interaction | None:
    return next((i for i in await voice_interactions(center) if i.state is InteractionState.ACTIVE), None)


async def test_a_three_minute_call_keeps_its_caller_to_agent_delay(tmp_path: Path) -> None:
    with loopback_socket() as mouth, loopback_socket() as ear:  # the caller's media address, the phone's
        await _call_for_three_minutes(tmp_path, mouth, ear)


async def _call_for_three_minutes(tmp_path: Path, mouth: socket.socket, ear: socket.socket) -> None:
    async with sip_center(tmp_path) as calls:
        phone = calls.phone("alice", agent_hearing_at(tmp_path, ear.getsockname()[1], g711.PCMU),
                            "-set", "ring_ms", "300", "-set", "talk_ms", "0")  # talks until our BYE
        desk = await calls.center.agent_socket("alice")
        caller = await start_sipp(tmp_path, "caller", str(silent_caller_at(tmp_path, mouth.getsockname()[1])),
                                  f"127.0.0.1:{calls.kamailio.port}", "-s", LINE, "-m", "1",
                                  "-key", "dtmf", "#", "-key", "cli", CALLER, "-set", "hangup_ms", "0")
        try:
            line_rtp = await asyncio.to_thread(learn_far_end, mouth, 20)  # the hold audio's source
            active: Interaction = await until(lambda: _active(calls.center), 30, "the phone to answer")
            sent, heard = await asyncio.to_thread(talk_and_listen, mouth, line_rtp, ear, CALL_SECONDS)

            start = min(s.sent for s in heard)
            end = max(s.sent for s in heard)
            first = [s for s in heard if s.sent < start + WINDOW_SECONDS]
            last = [s for s in heard if s.sent >= end - WINDOW_SECONDS]
            # the measure covers the whole call, both windows nearly full (250 packets each)
            assert end - start >= CALL_SECONDS - 1, (start, end)
            assert len(first) >= 240 and len(last) >= 240, (len(first), len(last))
            assert len(heard) >= 0.99 * sent, (len(heard), sent)
            change = drift(heard, WINDOW_SECONDS)
            assert change is not None
            print(f"{len(heard)}/{sent} packets; median delay first 5 s "
                  f"{1e3 * (window_median(first, start, end) or 0):.2f} ms, last 5 s "
                  f"{1e3 * (window_median(last, start, end + 1) or 0):.2f} ms, drift {1e3 * change:+.2f} ms")
            assert abs(change) <= MAX_DRIFT_SECONDS, f"the delay drifted {1e3 * change:+.1f} ms"

            status, body = await calls.center.api("alice", "POST", f"/api/interactions/{active.id}/hangup")
            assert status == 202, body
            assert await caller.wait(10) == 0, caller.messages()[-3000:]
            assert await asyncio.to_thread(phone.wait, 10) == 0
            assert len(phone_received(phone, "BYE")) == 1
            no_route_refusals(calls.kamailio)
            await all_dialogs_ended(calls.kamailio)
        finally:
            caller.kill()
            phone.kill()
            await desk.close()
