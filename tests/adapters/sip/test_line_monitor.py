"""A supervisor listening to, whispering to and barging into a SIP-line call on their own SIP phone,
on the wire: kamailio (record-route), a SIPp caller, the agent's and the supervisor's SIPp phones.
Each party streams its own tone (caller 1000 Hz, agent 600 Hz, supervisor 1400 Hz) and each
party's SDP names a socket of this test as its media address, so the test hears exactly what
the line sends each of them. The caller and the agent talk A-law, the supervisor's phone answers
μ-law: the mix transcodes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.sip import g711
from adapters.sip.adapter import SipLineAdapter
from cti.domain import Interaction, InteractionState
from tests.adapters.center import AGENTS, running_center
from tests.adapters.sip.peers import Sipp, running_kamailio, start_sipp
from tests.adapters.sip.sipcore_line import all_dialogs_ended, no_route_refusals, phone_received
from tests.adapters.sip.test_line import CALLER, LINE, until
from tests.adapters.sip.test_line_agent import (
    SDP_PCMA,
    SDP_PCMU,
    Calls,
    _in_state,
    _state_is,
    caller_playing,
    g711_tone_wav,
    rtp_payloads,
    sip_section,
)
from tests.adapters.sip.test_line_desk import drain, ear, port_of
from tests.adapters.sip.wire import Phone, agent_with_record_route
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 1000.0, 600.0, 1400.0
LAW = g711.PCMA  # the caller's and the agent's
MAX = {"id": "max", "name": "Max Lind", "role": "supervisor", "team": "sales", "password": "max",
       "skills": {"english": 9}, "capacity": {}}  # supervises another team


def phone_playing(tmp_path: Path, name: str, hz: float, port: int, pt: int) -> Path:
    """agent.xml (Record-Route copied) streaming a tone in ``pt`` and receiving at ``port``."""
    text = agent_with_record_route(tmp_path).read_text()
    stream, media = 'rtp_stream="phone-voice.wav,-1,0"', "m=audio [rtpstream_audio_port] " + SDP_PCMU
    assert text.count(stream) == 1 and text.count(media) == 1
    wav = g711_tone_wav(tmp_path / f"{name}-{hz:.0f}.wav", hz, 60, pt)
    path = tmp_path / f"{name}.xml"
    path.write_text(text.replace(stream, f'rtp_stream="{wav},-1,{pt}"')
                    .replace(media, f"m=audio {port} " + (SDP_PCMU if pt == g711.PCMU else SDP_PCMA)))
    return path


async def tones(sock: socket.socket, packets: int = 60) -> set[float]:
    """The parties' tones in what reaches ``sock`` (each a spectral peak at least a fifth of the
    strongest), and checks every packet has one payload type."""
    drain(sock)
    heard = await rtp_payloads(sock, packets, 5)
    assert len({pt for pt, _ in heard}) == 1, {pt for pt, _ in heard}
    samples = np.concatenate([g711.decode(p, pt) for pt, p in heard[10:]]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    top = spectrum.max()
    return {hz for hz in (CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ)
            if spectrum[round(hz * len(samples) / 8000)] > 0.2 * top}


def law_at(sock: socket.socket) -> int:
    data = sock.recv(2048)
    return data[1] & 0x7F


@dataclass
class Monitored:
    """A SIP-line call between a caller and alice's phone, sam's phone registered; what each of
    the three is sent reaches its ear."""

    calls: Calls
    active: Interaction
    caller: Sipp
    alice_phone: Phone
    sam_phone: Phone
    sam: JsonSocket  # the supervisor's desk
    caller_ear: socket.socket
    agent_ear: socket.socket
    supervisor_ear: socket.socket


def caller_at(tmp_path: Path, port: int) -> Path:
    caller_xml = caller_playing(tmp_path, g711_tone_wav(tmp_path / "caller-1k.wav", CALLER_HZ, 60, LAW), LAW)
    text = caller_xml.read_text()
    assert text.count("m=audio [rtpstream_audio_port] ") == 1
    caller_xml.write_text(text.replace("m=audio [rtpstream_audio_port] ", f"m=audio {port} "))
    return caller_xml


@contextlib.asynccontextmanager
async def monitored_call(tmp_path: Path, supervisor_talk_ms: int) -> AsyncIterator[Monitored]:
    """sam's phone answers after 200 ms and hangs up after ``supervisor_talk_ms`` (0: waits for
    our BYE)."""
    agents = [*AGENTS, MAX]
    teams = [{"name": "support", "supervisors": ["sam"]}, {"name": "sales", "supervisors": ["max"]}]
    with ear() as caller_ear, ear() as agent_ear, ear() as sup_ear, running_kamailio(tmp_path) as kam:
        phones = [dict(a, endpoints={"sip": f"sip:{a['id']}@127.0.0.1:{kam.port}"}) for a in agents]
        async with running_center(tmp_path, {"sip": sip_section(kam)}, agents=phones, teams=teams) as center:
            adapter = next(c for c in center.services.call_controls if isinstance(c, SipLineAdapter))
            await asyncio.wait_for(adapter.registered.wait(), 10)
            calls = Calls(center, adapter, kam, tmp_path)
            alice_xml = phone_playing(tmp_path, "alice", AGENT_HZ, port_of(agent_ear), LAW)
            alice_phone = calls.phone("alice", alice_xml, "-set", "ring_ms", "200", "-set", "talk_ms", "0")
            sam_xml = phone_playing(tmp_path, "sam", SUPERVISOR_HZ, port_of(sup_ear), g711.PCMU)
            sam_phone = calls.phone("sam", sam_xml, "-set", "ring_ms", "200",
                                    "-set", "talk_ms", str(supervisor_talk_ms))
            alice = await center.agent_socket("alice")
            sam = await center.agent_socket("sam", available=False)
            caller: Sipp | None = None
            try:
                caller = await start_sipp(tmp_path, "caller", str(caller_at(tmp_path, port_of(caller_ear))),
                                          f"127.0.0.1:{kam.port}", "-s", LINE, "-m", "1", "-key", "dtmf", "#",
                                          "-key", "cli", CALLER, "-set", "hangup_ms", "0")
                active = await until(lambda: _in_state(center, InteractionState.ACTIVE), 30, "answered")
                yield Monitored(calls, active, caller, alice_phone, sam_phone, sam, caller_ear, agent_ear,
                                sup_ear)
            finally:
                if caller is not None:
                    caller.kill()
                alice_phone.kill()
                sam_phone.kill()
                await alice.close()
                await sam.close()


async def monitor(calls: Calls, who: str, mode: str) -> tuple[int, dict[str, Any]]:
    return await calls.center.api(who, "POST", "/api/agents/alice/monitor", {"mode": mode})


async def test_listen_whisper_and_barge_on_the_supervisors_phone(tmp_path: Path) -> None:
    async with monitored_call(tmp_path, supervisor_talk_ms=0) as the:
        calls = the.calls
        sam_phone, active = the.sam_phone, the.active
        assert await tones(the.agent_ear) == {CALLER_HZ}  # no supervisor: caller and agent only
        assert await tones(the.caller_ear) == {AGENT_HZ}

        # an agent, and a supervisor of another team, are refused; nothing rings, nothing audited
        for who, why in (("bob", "wrong-role"), ("max", "not-your-team")):
            status, body = await monitor(calls, who, "listen")
            assert (status, body["error_id"]) == (403, why), (who, body)
        await asyncio.sleep(0.5)
        assert phone_received(sam_phone, "INVITE") == []
        assert await calls.center.services.context.audit_log(target="alice") == []

        status, body = await monitor(calls, "sam", "listen")
        assert (status, body) == (202, {"agent_id": "alice", "mode": "listen", "supervisor_id": "sam"})
        on = await the.sam.expect("supervision.changed")
        assert (on["active"], on["mode"], on["interaction_id"]) == (True, "listen", active.id)
        invite = phone_received(sam_phone, "INVITE")[0]
        assert invite.startswith("INVITE sip:sam@") and "RTP/AVP 8 0" in invite, invite
        assert law_at(the.supervisor_ear) == g711.PCMU  # the phone answered μ-law: the mix codes it
        assert await tones(the.supervisor_ear) == {CALLER_HZ, AGENT_HZ}
        assert await tones(the.caller_ear) == {AGENT_HZ}  # nobody hears a listening supervisor
        assert await tones(the.agent_ear) == {CALLER_HZ}

        status, _ = await monitor(calls, "sam", "whisper")  # the same leg, another mode
        assert status == 202
        assert (await the.sam.expect("supervision.changed"))["mode"] == "whisper"
        assert await tones(the.agent_ear) == {CALLER_HZ, SUPERVISOR_HZ}
        assert await tones(the.caller_ear) == {AGENT_HZ}  # the caller does not hear the whisper
        assert await tones(the.supervisor_ear) == {CALLER_HZ, AGENT_HZ}

        status, _ = await monitor(calls, "sam", "barge")
        assert status == 202
        assert await tones(the.agent_ear) == {CALLER_HZ, SUPERVISOR_HZ}
        assert await tones(the.caller_ear) == {AGENT_HZ, SUPERVISOR_HZ}
        assert await tones(the.supervisor_ear) == {CALLER_HZ, AGENT_HZ}
        assert len(phone_received(sam_phone, "INVITE")) == 1

        audit = await calls.center.services.context.audit_log(target="alice")
        assert sorted((a.actor, a.action, a.details.get("interaction_id")) for a in audit) == sorted(
            ("sam", f"call.{mode}", active.id) for mode in ("listen", "whisper", "barge"))

        # the call ending ends the supervisor's leg with a BYE through the route set
        status, _ = await calls.center.api("alice", "POST", f"/api/interactions/{active.id}/hangup")
        assert status == 202
        assert await the.caller.wait(10) == 0
        assert await asyncio.to_thread(sam_phone.wait, 10) == 0
        assert len(phone_received(sam_phone, "BYE")) == 1
        off = await the.sam.expect(lambda m: m.get("type") == "supervision.changed" and not m["active"])
        assert off["interaction_id"] == active.id
        no_route_refusals(calls.kamailio)
        await all_dialogs_ended(calls.kamailio)


async def test_the_supervisor_hanging_up_leaves_caller_and_agent_talking(tmp_path: Path) -> None:
    async with monitored_call(tmp_path, supervisor_talk_ms=3000) as the:
        calls = the.calls
        active = the.active
        status, _ = await monitor(calls, "sam", "barge")
        assert status == 202
        await the.sam.expect("supervision.changed")
        assert await tones(the.caller_ear) == {AGENT_HZ, SUPERVISOR_HZ}
        # sam's phone sends its BYE after 3 s
        assert await asyncio.to_thread(the.sam_phone.wait, 10) == 0
        off = await the.sam.expect(lambda m: m.get("type") == "supervision.changed" and not m["active"])
        assert off["mode"] == "barge"
        assert await tones(the.caller_ear) == {AGENT_HZ}  # relayed again, as before
        assert await tones(the.agent_ear) == {CALLER_HZ}
        assert await _state_is(calls.center, active.id, InteractionState.ACTIVE)
        assert the.caller.proc.returncode is None and the.alice_phone.proc.poll() is None
        await until(lambda: calls.kamailio.dialogs().get("all") == 2, 5, "caller's and agent's dialogs only")
        status, _ = await calls.center.api("alice", "POST", f"/api/interactions/{active.id}/hangup")
        assert status == 202
        assert await the.caller.wait(10) == 0
        await all_dialogs_ended(calls.kamailio)


async def test_a_stop_of_the_server_ends_the_supervisors_leg_with_bye(tmp_path: Path) -> None:
    async with monitored_call(tmp_path, supervisor_talk_ms=0) as the:
        status, _ = await monitor(the.calls, "sam", "listen")
        assert status == 202
        await the.sam.expect("supervision.changed")
        await until(lambda: the.calls.kamailio.dialogs().get("ongoing") == 3, 5, "three dialogs talking")
        await the.calls.adapter.aclose()  # what the server's stop does
        await asyncio.sleep(0)
        assert [t for t in asyncio.all_tasks() if t.get_name() == "sip-mix" and not t.done()] == []
        assert await asyncio.to_thread(the.sam_phone.wait, 10) == 0
        assert len(phone_received(the.sam_phone, "BYE")) == 1
        assert await the.caller.wait(10) == 0
        assert await asyncio.to_thread(the.alice_phone.wait, 10) == 0
        no_route_refusals(the.calls.kamailio)
        await all_dialogs_ended(the.calls.kamailio)
