"""The SIP line's two halves end to end: a SIPp caller through kamailio (record-route) to the line,
the router's offer rings the agent's SIPp phone (sipcore, through the same proxy), and the RTP is
relayed between them. The agent phone's SDP names a socket of this test as its media address, so
the test hears exactly what the relay sends to the agent."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.sip import g711
from adapters.sip.adapter import SipLineAdapter
from cti.domain import InteractionState
from tests.adapters.center import AGENTS, Center, running_center
from tests.adapters.sip.peers import (
    SIPP_DIR,
    Kamailio,
    free_udp_port,
    free_udp_range,
    running_kamailio,
    start_sipp,
)
from tests.adapters.sip.sipcore_line import all_dialogs_ended, no_route_refusals, phone_received
from tests.adapters.sip.test_g711 import peak_hz, tone
from tests.adapters.sip.test_line import CALLER, LINE, until, voice_interactions
from tests.adapters.sip.wire import BUSY_XML, Phone, agent_with_record_route, register, start_phone

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RTP = struct.Struct("!BBHII")


@dataclass
class Calls:
    center: Center
    adapter: SipLineAdapter
    kamailio: Kamailio
    tmp_path: Path

    def phone(self, name: str, scenario: Path, *args: str) -> Phone:
        phone = start_phone(self.tmp_path, name, scenario, *args)
        assert register(self.kamailio.port, name, phone.port) == "SIP/2.0 200 OK"
        return phone


def sip_section(kam: Kamailio, **overrides: Any) -> dict[str, Any]:
    """The ``sip:`` channel section of a line registering at ``kam``."""
    rtp_low = free_udp_range(20)
    return {"server": "127.0.0.1", "port": kam.port, "user": LINE, "password": "secret",
            "sip_port": free_udp_port(), "rtp_port_low": rtp_low, "rtp_port_high": rtp_low + 19,
            "register_expires": 60, "digits_seconds": 4, "queue": "support", **overrides}


@contextlib.asynccontextmanager
async def line_center(tmp_path: Path, kam: Kamailio, section: dict[str, Any]) -> AsyncIterator[Calls]:
    """The server with the SIP line ``section``, every agent's phone at ``kam``; registered."""
    agents = [dict(a, endpoints={"sip": f"sip:{a['id']}@127.0.0.1:{kam.port}"}) for a in AGENTS]
    async with running_center(tmp_path, {"sip": section}, agents=agents) as center:
        adapter = next(c for c in center.services.call_controls if isinstance(c, SipLineAdapter))
        await asyncio.wait_for(adapter.registered.wait(), 10)
        yield Calls(center, adapter, kam, tmp_path)


@contextlib.asynccontextmanager
async def sip_center(tmp_path: Path, **overrides: Any) -> AsyncIterator[Calls]:
    with running_kamailio(tmp_path) as kam:
        async with line_center(tmp_path, kam, sip_section(kam, **overrides)) as calls:
            yield calls


def g711_tone_wav(path: Path, hz: float, seconds: float, pt: int) -> Path:
    """A G.711 WAV (format 7 μ-law, 6 A-law), as SIPp's rtp_stream plays it."""
    data = g711.encode(tone(hz, seconds, dbfs=-10), pt)
    fmt = struct.pack("<HHIIHH", 7 if pt == g711.PCMU else 6, 1, 8000, 8000, 1, 8)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


SDP_PCMU = "RTP/AVP 0\n      a=rtpmap:0 PCMU/8000"
SDP_PCMA = "RTP/AVP 8\n      a=rtpmap:8 PCMA/8000"


def caller_playing(tmp_path: Path, wav: Path, pt: int) -> Path:
    """caller.xml streaming ``wav`` and offering only the codec ``pt``."""
    text = (SIPP_DIR / "caller.xml").read_text()
    assert text.count('rtp_stream="caller-voice.wav,-1,0"') == 1 and text.count(SDP_PCMU) == 1
    path = tmp_path / "caller_tone.xml"
    path.write_text(text.replace('rtp_stream="caller-voice.wav,-1,0"', f'rtp_stream="{wav},-1,{pt}"')
                    .replace(SDP_PCMU, SDP_PCMU if pt == g711.PCMU else SDP_PCMA))
    return path


def agent_hearing_at(tmp_path: Path, port: int, pt: int = g711.PCMU) -> Path:
    """agent.xml (with Record-Route copied) whose SDP gives ``port`` as its media port and answers
    with the codec ``pt``."""
    text = agent_with_record_route(tmp_path).read_text()
    assert text.count("m=audio [rtpstream_audio_port] " + SDP_PCMU) == 1
    path = tmp_path / "agent_ear.xml"
    path.write_text(text.replace("m=audio [rtpstream_audio_port] " + SDP_PCMU,
                                 f"m=audio {port} " + (SDP_PCMU if pt == g711.PCMU else SDP_PCMA)))
    return path


async def rtp_payloads(ear: socket.socket, count: int, timeout: float) -> list[tuple[int, bytes]]:
    loop = asyncio.get_running_loop()
    got: list[tuple[int, bytes]] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            data, _ = await loop.sock_recvfrom(ear, 2048)
            if len(data) > RTP.size:
                got.append((RTP.unpack_from(data)[1] & 0x7F, data[RTP.size:]))
    return got


@pytest.mark.parametrize("pt", [g711.PCMU, g711.PCMA])
async def test_the_callers_tone_reaches_the_agents_phone_through_the_relay(tmp_path: Path, pt: int) -> None:
    ear = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ear.bind(("127.0.0.1", 0))
    ear.setblocking(False)
    async with sip_center(tmp_path) as calls:
        phone = calls.phone("alice", agent_hearing_at(tmp_path, ear.getsockname()[1], pt),
                            "-set", "ring_ms", "300", "-set", "talk_ms", "3000")
        desk = await calls.center.agent_socket("alice")
        wav = g711_tone_wav(tmp_path / "tone-1k.wav", 1000, 10, pt)
        caller = await start_sipp(tmp_path, "caller", str(caller_playing(tmp_path, wav, pt)),
                                  f"127.0.0.1:{calls.kamailio.port}", "-s", LINE, "-m", "1",
                                  "-key", "dtmf", "4711#", "-key", "cli", CALLER, "-set", "hangup_ms", "0")
        try:
            active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30,
                                 "the phone's answer to accept the call")
            assert active.agent_id == "alice" and active.context["ivr.account"] == "4711"
            heard = await rtp_payloads(ear, 100, 5)  # 2 s of what the relay sends to the phone
            assert {t for t, _ in heard} == {pt}
            samples = np.concatenate([g711.decode(p, pt) for _, p in heard[25:]])
            frequency = peak_hz(samples)
            assert abs(frequency - 1000) <= 8, frequency
            print(f"tone at the agent: {frequency:.1f} Hz over {len(heard)} packets, PT {pt}")
            # The phone hangs up after talk_ms: the caller gets our BYE, the call goes to wrap-up.
            await until(lambda: _state_is(calls.center, active.id, InteractionState.WRAP_UP), 15,
                        "wrap-up after the agent hung up")
            assert await caller.wait(15) == 0, caller.messages()[-3000:]
            assert await asyncio.to_thread(phone.wait, 10) == 0
            invite = phone_received(phone, "INVITE")[0]
            # the phone is offered the caller's codec only: nothing to transcode
            assert f"RTP/AVP {pt} 101" in invite or f"RTP/AVP {pt}\n" in invite, invite
            assert ("PCMA" in invite) == (pt == g711.PCMA) and ("PCMU" in invite) == (pt == g711.PCMU)
            no_route_refusals(calls.kamailio)
            await all_dialogs_ended(calls.kamailio)
        finally:
            caller.kill()
            phone.kill()
            await desk.close()
    ear.close()


@pytest.mark.parametrize("refusal", ["486 Busy Here", "603 Decline"])
async def test_a_refusing_phone_requeues_the_caller_and_sets_the_agent_away(tmp_path: Path,
                                                                            refusal: str) -> None:
    async with sip_center(tmp_path) as calls:
        assert BUSY_XML.count("486 Busy Here") == 1
        busy = tmp_path / "busy.xml"
        busy.write_text(BUSY_XML.replace("486 Busy Here", refusal))
        phone = calls.phone("alice", busy)
        desk = await calls.center.agent_socket("alice")
        caller = await start_sipp(tmp_path, "caller", "caller.xml", f"127.0.0.1:{calls.kamailio.port}",
                                  "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "0")
        try:
            first = (await until(lambda: voice_interactions(calls.center), 20, "the caller queued"))[0]
            assert await asyncio.to_thread(phone.wait, 20) == 0  # it got the INVITE and refused it
            view: dict[str, Any] = await until(lambda: _away(calls.center, "alice"), 10, "alice away")
            assert view["reason"] == "no-answer"
            queued = await voice_interactions(calls.center)
            assert [i.state for i in queued] == [InteractionState.QUEUED]
            assert queued[0].agent_id is None
            assert queued[0].queued_at == first.queued_at is not None  # the wait is kept
            assert len(phone_received(phone, "ACK")) == 1  # the refusal was ACKed
            # only the caller's dialog is left: the agent's ended with the refusal
            await until(lambda: calls.kamailio.dialogs().get("all") == 1, 5, "one dialog, the caller's")
        finally:
            caller.kill()
            phone.kill()
            await desk.close()


async def test_the_caller_hanging_up_cancels_the_ringing_phone(tmp_path: Path) -> None:
    async with sip_center(tmp_path) as calls:
        phone = calls.phone("alice", SIPP_DIR / "agent_noanswer.xml")
        desk = await calls.center.agent_socket("alice")
        caller = await start_sipp(tmp_path, "caller", "caller.xml", f"127.0.0.1:{calls.kamailio.port}",
                                  "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "4000")
        try:
            assert await caller.wait(30) == 0, caller.messages()[-3000:]
            assert await asyncio.to_thread(phone.wait, 10) == 0  # INVITE, then our CANCEL, its 487
            assert len(phone_received(phone, "CANCEL")) == 1
            ended = await until(lambda: _in_state(calls.center, InteractionState.ABANDONED), 10, "abandoned")
            assert ended.agent_id is None or ended.agent_id == "alice"
            await all_dialogs_ended(calls.kamailio)
        finally:
            caller.kill()
            phone.kill()
            await desk.close()


async def _in_state(center: Center, state: InteractionState) -> Any:
    found = [i for i in await voice_interactions(center) if i.state is state]
    return found[0] if found else None


async def _state_is(center: Center, interaction_id: str, state: InteractionState) -> bool:
    return (await center.services.context.interaction(interaction_id)).state is state


async def _away(center: Center, agent_id: str) -> dict[str, Any] | None:
    view = await center.services.agents.view(agent_id)
    return view if view.get("state") == "away" else None




async def test_a_phone_nobody_answers_is_cancelled_after_the_ring_time(tmp_path: Path) -> None:
    async with sip_center(tmp_path, ring_seconds=2) as calls:
        phone = calls.phone("alice", SIPP_DIR / "agent_noanswer.xml")
        desk = await calls.center.agent_socket("alice")
        caller = await start_sipp(tmp_path, "caller", "caller.xml", f"127.0.0.1:{calls.kamailio.port}",
                                  "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "0")
        try:
            assert await asyncio.to_thread(phone.wait, 20) == 0  # INVITE, our CANCEL, its 487
            assert len(phone_received(phone, "CANCEL")) == 1
            view: dict[str, Any] = await until(lambda: _away(calls.center, "alice"), 10, "alice away")
            assert view["reason"] == "no-answer"
            assert [i.state for i in await voice_interactions(calls.center)] == [InteractionState.QUEUED]
            await until(lambda: calls.kamailio.dialogs().get("all") == 1, 5, "one dialog, the caller's")
        finally:
            caller.kill()
            phone.kill()
            await desk.close()


async def test_a_hang_up_from_the_desk_ends_both_legs(tmp_path: Path) -> None:
    async with sip_center(tmp_path) as calls:
        phone = calls.phone("alice", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                            "-set", "talk_ms", "0")  # talks until our BYE
        desk = await calls.center.agent_socket("alice")
        caller = await start_sipp(tmp_path, "caller", "caller.xml", f"127.0.0.1:{calls.kamailio.port}",
                                  "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "0")  # waits for our BYE
        try:
            active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30, "answered")
            status, body = await calls.center.api("alice", "POST", f"/api/interactions/{active.id}/hangup")
            assert status == 202, body
            assert await caller.wait(10) == 0, caller.messages()[-3000:]
            assert await asyncio.to_thread(phone.wait, 10) == 0
            assert len(phone_received(phone, "BYE")) == 1
            assert await _state_is(calls.center, active.id, InteractionState.WRAP_UP)
            no_route_refusals(calls.kamailio)
            await all_dialogs_ended(calls.kamailio)
        finally:
            caller.kill()
            phone.kill()
            await desk.close()


async def test_a_blind_transfer_to_another_agent_rings_their_phone(tmp_path: Path) -> None:
    async with sip_center(tmp_path) as calls:
        alice_phone = calls.phone("alice", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                                  "-set", "talk_ms", "0")
        bob_phone = calls.phone("bob", SIPP_DIR / "agent_noanswer.xml")  # rings until CANCEL
        alice = await calls.center.agent_socket("alice")
        caller = await start_sipp(tmp_path, "caller", "caller.xml", f"127.0.0.1:{calls.kamailio.port}",
                                  "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                  "-set", "hangup_ms", "0")
        bob = None
        try:
            active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30, "answered")
            assert active.agent_id == "alice"
            bob = await calls.center.agent_socket("bob")
            status, body = await calls.center.api("alice", "POST", f"/api/interactions/{active.id}/transfer",
                                                  {"agent_id": "bob"})
            assert status == 200, body
            assert await asyncio.to_thread(alice_phone.wait, 10) == 0  # alice's leg got its BYE
            assert len(phone_received(alice_phone, "BYE")) == 1
            await until(lambda: bool(phone_received(bob_phone, "INVITE")), 10, "bob's phone to ring")
            live = calls.adapter.call_for(active.id)
            assert live is not None and live.agent_id == "bob" and live.ended is False
            no_route_refusals(calls.kamailio)
        finally:
            caller.kill()
            alice_phone.kill()
            bob_phone.kill()
            await alice.close()
            if bob is not None:
                await bob.close()
