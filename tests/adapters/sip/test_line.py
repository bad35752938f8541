"""The SIP line against real peers: kamailio as registrar/proxy, SIPp as the caller."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.sip.adapter import SipLineAdapter
from adapters.sip.dtmf import event_packet
from cti.domain import Channel, IdentityKind, Interaction, InteractionState
from tests.adapters.center import Center, running_center
from tests.adapters.sip.peers import (
    SIPP_DIR,
    Kamailio,
    free_udp_port,
    free_udp_range,
    running_kamailio,
    sip_request,
    start_sipp,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LINE = "line"
CALLER = "15551234567"
E164 = "+15551234567"


@dataclass
class Line:
    center: Center
    adapter: SipLineAdapter
    kamailio: Kamailio
    sip_port: int
    rtp_low: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.kamailio.port}"

    def probe(self) -> str | None:
        """OPTIONS to the line's address of record, through the proxy: 200 when registered."""
        return sip_request(self.kamailio.port, "OPTIONS", f"sip:{LINE}@127.0.0.1:{self.kamailio.port}")


@contextlib.asynccontextmanager
async def sip_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> AsyncIterator[Line]:
    with running_kamailio(tmp_path) as kam:
        sip_port, rtp_low = free_udp_port(), free_udp_range(20)
        section = {"server": "127.0.0.1", "port": kam.port, "user": LINE, "password": "secret",
                   "local_ip": "127.0.0.1", "sip_port": sip_port, "rtp_port_low": rtp_low,
                   "rtp_port_high": rtp_low + 19, "register_expires": 60, "digits_seconds": 3,
                   **overrides}
        async with running_center(tmp_path, {"sip": section}) as center:
            adapter = next(c for c in center.services.call_controls if isinstance(c, SipLineAdapter))
            await asyncio.wait_for(adapter.registered.wait(), 10)
            yield Line(center=center, adapter=adapter, kamailio=kam, sip_port=sip_port, rtp_low=rtp_low)


async def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def voice_interactions(center: Center) -> list[Interaction]:
    found = await center.services.context.list_interactions(limit=50)
    return [i for i in found if i.channel is Channel.VOICE]


async def test_registers_and_answers_options_through_the_proxy(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    async with sip_line(tmp_path, monkeypatch) as line:
        status = await asyncio.to_thread(line.probe)
        assert status == "SIP/2.0 200 OK", (status, line.kamailio.logs()[-3000:])


async def test_reregisters_after_the_registrar_restarts(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """pyVoIP defect: after a registrar outage it ends FAILED, its SIP thread dies, no recovery."""
    async with sip_line(tmp_path, monkeypatch, register_expires=4) as line:
        assert await asyncio.to_thread(line.probe) == "SIP/2.0 200 OK"
        line.kamailio.stop()
        await until(lambda: not line.adapter.registered.is_set(), 15, "the line to notice the outage")
        await asyncio.sleep(3)  # several failed attempts: stock pyVoIP gives up after 3
        line.kamailio.start()  # a new registrar: it has forgotten every registration
        began = time.monotonic()
        await asyncio.wait_for(line.adapter.registered.wait(), 40)
        status = await until(lambda: asyncio.to_thread(line.probe), 10, "OPTIONS through the new registrar")
        assert status == "SIP/2.0 200 OK"
        print(f"re-registered {time.monotonic() - began:.1f} s after the registrar came back")


async def test_a_call_is_answered_hears_a_tone_keys_digits_and_waits_in_the_queue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with sip_line(tmp_path, monkeypatch) as line:
        caller = await start_sipp(tmp_path, "caller", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                  "-key", "dtmf", "4711#", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "6000")
        try:
            queued = await until(lambda: voice_interactions(line.center), 20, "a queued voice interaction")
            interaction = queued[0]
            assert interaction.state is InteractionState.QUEUED
            assert interaction.context["ivr.account"] == "4711"
            customer = await line.center.services.context.customer(interaction.customer_id)
            assert any(i.kind is IdentityKind.PHONE and i.value == E164 for i in customer.identities)
            live = line.adapter.call_for(interaction.id)
            assert live is not None and live.leg is not None
            assert live.leg.counts.played > 20  # the hold audio is playing
            assert live.leg.counts.received > 20  # and the caller's audio reaches us
            # The caller hangs up while waiting: abandoned.
            rc = await caller.wait(30)
            assert rc == 0, caller.messages()[-4000:]
            ended = await until(lambda: _state_is(line.center, interaction.id, InteractionState.ABANDONED),
                                10, "the interaction to be abandoned")
            assert ended
            counts = live.leg.counts
            print(f"audio packets sent={counts.played} caller packets received={counts.received}")
        finally:
            caller.kill()


async def _state_is(center: Center, interaction_id: str, state: InteractionState) -> bool:
    return (await center.services.context.interaction(interaction_id)).state is state


# caller.xml offering telephone-event 101 besides PCMU (RFC 4733)
def caller_offering_events(tmp_path: Path) -> Path:
    text = (SIPP_DIR / "caller.xml").read_text()
    before = "m=audio [rtpstream_audio_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000\n"
    assert text.count(before) == 1, "caller.xml changed"
    path = tmp_path / "caller_2833.xml"
    path.write_text(text.replace(before, "m=audio [rtpstream_audio_port] RTP/AVP 0 101\n"
                                 "      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n"
                                 "      a=fmtp:101 0-15\n"))
    return path


async def test_keys_sent_as_rfc2833_events_are_the_account_with_the_info_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller keys 5 and 5 as telephone-events in its RTP (each end sent three times, as RFC
    4733 says), then # by SIP INFO: the account is 55."""
    async with sip_line(tmp_path, monkeypatch, digits_seconds=6) as line:
        caller = await start_sipp(tmp_path, "caller", str(caller_offering_events(tmp_path)), line.target,
                                  "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "6000")
        try:
            live = await until(lambda: next((c for c in line.adapter.live_calls() if c.leg), None), 10,
                               "the call answered")
            assert live.leg is not None and live.leg.transport is not None
            port = live.leg.transport.get_extra_info("sockname")[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
                for n, ts in enumerate((8000, 16000)):  # two presses of 5: two events
                    for i in range(6):
                        phone.sendto(event_packet("5", 101, ts=ts, seq=10 * n + i, end=i >= 3),
                                     ("127.0.0.1", port))
            queued = await until(lambda: voice_interactions(line.center), 20, "a queued voice interaction")
            assert queued[0].context.get("ivr.account") == "55"
        finally:
            caller.kill()


async def test_a_reason_key_after_the_account_becomes_the_reason(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    async with sip_line(tmp_path, monkeypatch, reasons={"2": "billing"}) as line:
        caller = await start_sipp(tmp_path, "caller", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                  "-key", "dtmf", "4711#2", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "6000")
        try:
            queued = await until(lambda: voice_interactions(line.center), 20, "a queued voice interaction")
            assert queued[0].context.get("ivr.account") == "4711"
            assert queued[0].context.get("ivr.reason") == "billing"
        finally:
            caller.kill()
