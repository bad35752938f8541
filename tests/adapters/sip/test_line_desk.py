"""The desk's controls on a SIP-line call, on the wire (kamailio with record-route, SIPp caller and
phone): hold and resume, recording with pause, blind transfer to a queue, and a stop of the
server. The caller's and the phone's SDP name sockets of this test as their media addresses, so
the test hears what the relay sends each side."""

from __future__ import annotations

import asyncio
import socket
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from adapters.sip import g711
from cti.domain import InteractionState
from cti.eventlog import EntryKind, LogEntry
from tests.adapters.center import Center
from tests.adapters.sip.peers import SIPP_DIR, running_kamailio, start_sipp
from tests.adapters.sip.sipcore_line import all_dialogs_ended, no_route_refusals, phone_received
from tests.adapters.sip.test_g711 import peak_hz
from tests.adapters.sip.test_line import CALLER, LINE, until, voice_interactions
from tests.adapters.sip.test_line_agent import (
    _in_state,
    _state_is,
    caller_playing,
    g711_tone_wav,
    line_center,
    rtp_payloads,
    sip_center,
    sip_section,
)
from tests.adapters.sip.wire import agent_with_record_route
from tests.wsclient import JsonSocket

# A phone that answers (Record-Route copied, its media at the test's socket EAR, sending nothing),
# takes two re-INVITEs (hold, resume) answering each with SDP, then waits for our BYE.
_ANSWER = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]TAG
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 1 VERSION IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio EAR RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=DIRECTION
"""


def _answer(tag: str, version: int, direction: str) -> str:
    text = _ANSWER.replace("TAG", tag).replace("VERSION", str(version)).replace("DIRECTION", direction)
    return f"  <send><![CDATA[\n{text}\n  ]]></send>\n  <recv request=\"ACK\" crlf=\"true\" />\n"


HOLDING_PHONE_XML = (
    '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
    '<scenario name="phone held and resumed">\n'
    '  <recv request="INVITE" crlf="true" rrs="true" />\n'
    + _answer(";tag=[pid]HD[call_number]", 1, "sendrecv")
    + '  <recv request="INVITE" crlf="true" />\n' + _answer("", 2, "recvonly")
    + '  <recv request="INVITE" crlf="true" />\n' + _answer("", 3, "sendrecv")
    + """  <recv request="BYE" />
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <timewait milliseconds="300" />
</scenario>
""")


@contextmanager
def ear() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def drain(sock: socket.socket) -> int:
    n = 0
    while True:
        try:
            sock.recv(2048)
        except BlockingIOError:
            return n
        n += 1


async def quiet(sock: socket.socket, seconds: float) -> int:
    """Packets that arrive at ``sock`` within ``seconds`` (after what was already there)."""
    drain(sock)
    await asyncio.sleep(seconds)
    return drain(sock)


async def tone_at(sock: socket.socket, packets: int = 60) -> float:
    drain(sock)
    heard = await rtp_payloads(sock, packets, 5)
    samples = np.concatenate([g711.decode(p, pt) for pt, p in heard[10:]])
    return peak_hz(samples)


async def log_kinds(center: Center, interaction_id: str, *wanted: EntryKind) -> list[LogEntry]:
    records = center.services.event_log
    assert records is not None
    async with asyncio.timeout(10):
        while True:
            entries = list(await records.of(interaction_id))
            if set(wanted) <= {e.kind for e in entries}:
                return entries
            await asyncio.sleep(0.1)


async def test_hold_plays_the_hold_audio_to_the_caller_and_reinvites_the_phone(tmp_path: Path) -> None:
    with ear() as agent_ear, ear() as caller_ear:
        async with sip_center(tmp_path) as calls:
            scenario = tmp_path / "holding_phone.xml"
            scenario.write_text(HOLDING_PHONE_XML.replace("EAR", str(port_of(agent_ear))))
            phone = calls.phone("alice", scenario)
            alice = await calls.center.agent_socket("alice")
            wav = g711_tone_wav(tmp_path / "tone-1k.wav", 1000, 30, g711.PCMU)
            caller_xml = caller_playing(tmp_path, wav, g711.PCMU)
            text = caller_xml.read_text()
            assert text.count("m=audio [rtpstream_audio_port] ") == 1
            caller_xml.write_text(text.replace("m=audio [rtpstream_audio_port] ",
                                               f"m=audio {port_of(caller_ear)} "))
            caller = await start_sipp(tmp_path, "caller", str(caller_xml), f"127.0.0.1:{calls.kamailio.port}",
                                      "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                      "-set", "hangup_ms", "0")
            try:
                active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30, "answered")
                path = f"/api/interactions/{active.id}/hold"
                assert abs(await tone_at(agent_ear) - 1000) <= 8  # talking: the caller's tone relayed
                assert await quiet(caller_ear, 0.5) == 0  # the phone sends nothing: nor does the relay

                status, body = await calls.center.api("bob", "POST", path, {"hold": True})
                assert (status, body["error_id"]) == (403, "not-your-interaction")
                status, body = await calls.center.api("alice", "POST", path, {"hold": True})
                assert (status, body) == (200, {"interaction_id": active.id, "held": True})
                await alice.expect(lambda m: m.get("type") == "call.updated" and m.get("what") == "held")
                held_hz = await tone_at(caller_ear)  # the hold audio (the 400 Hz tone by default)
                assert abs(held_hz - 400) <= 8, held_hz
                assert await quiet(agent_ear, 0.5) == 0  # the caller is not heard by the agent
                reinvites = phone_received(phone, "INVITE")[1:]
                assert len(reinvites) == 1 and "a=sendonly" in reinvites[0], reinvites

                status, body = await calls.center.api("alice", "POST", path, {"hold": False})
                assert (status, body["held"]) == (200, False)
                await alice.expect(lambda m: m.get("type") == "call.updated" and m.get("what") == "resumed")
                assert abs(await tone_at(agent_ear) - 1000) <= 8  # the relay passes audio again
                assert await quiet(caller_ear, 0.5) == 0  # and the hold audio has stopped
                reinvites = phone_received(phone, "INVITE")[1:]
                assert len(reinvites) == 2 and "a=sendrecv" in reinvites[1], reinvites
                assert len(phone_received(phone, "ACK")) == 3  # the answer and both re-INVITEs ACKed

                entries = await log_kinds(calls.center, active.id, EntryKind.HELD, EntryKind.RESUMED)
                assert [e.agent_id for e in entries if e.kind in (EntryKind.HELD, EntryKind.RESUMED)] \
                    == ["alice"] * 2

                status, _ = await calls.center.api("alice", "POST", f"/api/interactions/{active.id}/hangup")
                assert status == 202
                assert await caller.wait(10) == 0, caller.messages()[-3000:]
                assert await asyncio.to_thread(phone.wait, 10) == 0
                no_route_refusals(calls.kamailio)
                await all_dialogs_ended(calls.kamailio)
            finally:
                caller.kill()
                phone.kill()
                await alice.close()


async def test_a_restart_ends_every_call_with_bye_and_closes_the_interactions(tmp_path: Path) -> None:
    """One caller talking to alice's phone, one waiting in the queue; the server stops. Both
    callers and the phone get our BYE through the route set, kamailio's dialog table empties, and
    after the restart the talking call is in wrap-up and the waiting one abandoned."""
    with running_kamailio(tmp_path) as kam:
        section = sip_section(kam)
        target = f"127.0.0.1:{kam.port}"
        args = ("-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER, "-set", "hangup_ms", "0")
        async with line_center(tmp_path, kam, section) as calls:
            phone = calls.phone("alice", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                                "-set", "talk_ms", "0")  # talks until our BYE
            alice = await calls.center.agent_socket("alice")
            talking = await start_sipp(tmp_path, "talking", "caller.xml", target, *args)
            active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30, "answered")
            waiting = await start_sipp(tmp_path, "waiting", "caller.xml", target, *args)
            queued = await until(lambda: _in_state(calls.center, InteractionState.QUEUED), 30, "queued")
            await until(lambda: kam.dialogs().get("all") == 3, 5, "three dialogs: two callers, a phone")
            await alice.close()
        try:  # the server has stopped
            assert await talking.wait(10) == 0, talking.messages()[-3000:]
            assert await waiting.wait(10) == 0, waiting.messages()[-3000:]
            assert await asyncio.to_thread(phone.wait, 10) == 0
            assert "BYE " in talking.messages() and "BYE " in waiting.messages()
            no_route_refusals(kam)
            await all_dialogs_ended(kam)
        finally:
            talking.kill()
            waiting.kill()
            phone.kill()
        async with line_center(tmp_path, kam, section) as calls:  # the restart
            states = {i.id: i.state for i in await voice_interactions(calls.center)}
            assert states == {active.id: InteractionState.WRAP_UP, queued.id: InteractionState.ABANDONED}


def call_updated(what: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == "call.updated" and m.get("what") == what


def _silent_run(samples: np.ndarray, level: int = 64) -> float:
    """The longest run of 20 ms frames whose samples all stay under ``level``, in seconds."""
    frames = samples[: len(samples) - len(samples) % 160].reshape(-1, 160)
    best = run = 0
    for quiet_frame in (np.abs(frames.astype(np.int32)).max(axis=1) < level):
        run = run + 1 if quiet_frame else 0
        best = max(best, run)
    return best * 0.02


RECORDING_STEPS = (("start", 2.0), ("pause", 1.5), ("resume", 1.5), ("stop", 0.0))
RECORDING_UPDATES = {"start": "recording-started", "pause": "recording-paused",
                     "resume": "recording-resumed", "stop": "recording-stopped"}


async def record_with_pause(center: Center, socket: JsonSocket,
                            interaction_id: str) -> dict[str, tuple[float, float]]:
    """Alice's desk starts, pauses, resumes and stops the recording; for each step, when it was
    asked and when it was answered (the server acted somewhere between the two)."""
    path = f"/api/interactions/{interaction_id}/recording"
    steps: dict[str, tuple[float, float]] = {}
    for action, seconds in RECORDING_STEPS:
        asked = time.monotonic()
        status, body = await center.api("alice", "POST", path, {"action": action})
        steps[action] = (asked, time.monotonic())
        assert (status, body) == (202, {"interaction_id": interaction_id, "recording": action})
        await socket.expect(call_updated(RECORDING_UPDATES[action]))
        await asyncio.sleep(seconds)
    return steps


def check_recording(stored: str, steps: dict[str, tuple[float, float]], left_hz: int, right_hz: int) -> None:
    """A 16-bit stereo WAV from start to stop, ``left_hz`` on the left and ``right_hz`` on the
    right, the pause kept as silence in its place on both sides, as long as it was (to a frame)."""
    with wave.open(stored, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    seconds = len(frames) / 8000
    print(f"recording: {seconds:.2f} s, left {peak_hz(frames[:8000, 0]):.1f} Hz, "
          f"right {peak_hz(frames[:8000, 1]):.1f} Hz, paused {_silent_run(frames[:, 0]):.2f} s")

    def between(first: str, last: str) -> tuple[float, float]:
        """The shortest and longest the time from step ``first`` to step ``last`` can have been."""
        return steps[last][0] - steps[first][1] - 0.06, steps[last][1] - steps[first][0] + 0.06

    shortest, longest = between("start", "stop")
    assert shortest <= seconds <= longest, (seconds, steps)
    for part in (frames[:8000], frames[-8000:]):
        assert abs(peak_hz(part[:, 0]) - left_hz) <= 8 and abs(peak_hz(part[:, 1]) - right_hz) <= 8
    shortest, longest = between("pause", "resume")
    for side in (0, 1):
        assert shortest <= _silent_run(frames[:, side]) <= longest, (_silent_run(frames[:, side]), steps)


async def test_recording_with_pause_writes_both_directions_to_a_stereo_wav(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    async with sip_center(tmp_path, recording_dir=str(recordings)) as calls:
        text = agent_with_record_route(tmp_path).read_text()
        assert text.count('rtp_stream="phone-voice.wav,-1,0"') == 1
        phone_tone = g711_tone_wav(tmp_path / "tone-600.wav", 600, 30, g711.PCMU)
        scenario = tmp_path / "phone_600.xml"
        scenario.write_text(text.replace('rtp_stream="phone-voice.wav,-1,0"',
                                         f'rtp_stream="{phone_tone},-1,0"'))
        phone = calls.phone("alice", scenario, "-set", "ring_ms", "200", "-set", "talk_ms", "0")
        alice = await calls.center.agent_socket("alice")
        wav = g711_tone_wav(tmp_path / "tone-1k.wav", 1000, 30, g711.PCMU)
        caller = await start_sipp(tmp_path, "caller", str(caller_playing(tmp_path, wav, g711.PCMU)),
                                  f"127.0.0.1:{calls.kamailio.port}", "-s", LINE, "-m", "1", "-key", "dtmf",
                                  "#", "-key", "cli", CALLER, "-set", "hangup_ms", "0")
        try:
            active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30, "answered")
            path = f"/api/interactions/{active.id}/recording"
            status, body = await calls.center.api("bob", "POST", path, {"action": "start"})
            assert (status, body["error_id"]) == (403, "not-your-interaction")
            steps = await record_with_pause(calls.center, alice, active.id)
            stored = (await calls.center.services.context.interaction(active.id)).context["voice.recording"]
            assert Path(stored) == recordings / f"{active.id}.wav"
            check_recording(stored, steps, 1000, 600)  # left the caller, right the agent's phone
            status, _ = await calls.center.api("alice", "POST", f"/api/interactions/{active.id}/hangup")
            assert status == 202
            assert await caller.wait(10) == 0
        finally:
            caller.kill()
            phone.kill()
            await alice.close()


async def test_a_blind_transfer_to_a_queue_hangs_up_the_phone_and_requeues_the_caller(tmp_path: Path) -> None:
    with ear() as caller_ear:
        async with sip_center(tmp_path) as calls:
            phone = calls.phone("alice", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                                "-set", "talk_ms", "0")
            bob_phone = calls.phone("bob", SIPP_DIR / "agent_noanswer.xml")  # rings until CANCEL
            alice = await calls.center.agent_socket("alice")
            caller_xml = tmp_path / "caller_ear.xml"
            text = (SIPP_DIR / "caller.xml").read_text()
            assert text.count("m=audio [rtpstream_audio_port] ") == 1
            caller_xml.write_text(text.replace("m=audio [rtpstream_audio_port] ",
                                               f"m=audio {port_of(caller_ear)} "))
            caller = await start_sipp(tmp_path, "caller", str(caller_xml), f"127.0.0.1:{calls.kamailio.port}",
                                      "-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER,
                                      "-set", "hangup_ms", "0")
            bob = None
            try:
                active = await until(lambda: _in_state(calls.center, InteractionState.ACTIVE), 30, "answered")
                status, body = await calls.center.api(
                    "alice", "POST", f"/api/interactions/{active.id}/transfer", {"queue": "support"})
                assert status == 200, body
                assert await asyncio.to_thread(phone.wait, 10) == 0  # alice's leg got its BYE
                assert len(phone_received(phone, "BYE")) == 1
                moved = await calls.center.services.context.interaction(active.id)
                assert moved.state in (InteractionState.QUEUED, InteractionState.OFFERED), moved.state
                assert moved.queue == "support"
                assert abs(await tone_at(caller_ear) - 400) <= 8  # back on the hold audio
                await until(lambda: calls.kamailio.dialogs().get("all") == 1, 5, "only the caller's dialog")
                bob = await calls.center.agent_socket("bob")  # the router offers the caller again
                await until(lambda: bool(phone_received(bob_phone, "INVITE")), 15, "bob's phone to ring")
                live = calls.adapter.call_for(active.id)
                assert live is not None and live.agent_id == "bob" and not live.ended
                no_route_refusals(calls.kamailio)
            finally:
                caller.kill()
                phone.kill()
                bob_phone.kill()
                await alice.close()
                if bob is not None:
                    await bob.close()


async def test_click_to_dial_rings_the_agent_then_the_customer_through_the_trunk(tmp_path: Path) -> None:
    async with sip_center(tmp_path) as calls:
        phone = calls.phone("alice", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                            "-set", "talk_ms", "0")
        customer = calls.phone("15551230000", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                               "-set", "talk_ms", "0")
        alice = await calls.center.agent_socket("alice")
        try:
            status, body = await calls.center.api("alice", "POST", "/api/calls", {"number": "+15551230000"})
            assert status == 201, body
            assert (body["state"], body["agent_id"]) == ("active", "alice")
            await until(lambda: bool(phone_received(customer, "INVITE")), 15, "the customer's phone to ring")
            invite = phone_received(customer, "INVITE")[0]
            assert invite.startswith("INVITE sip:15551230000@"), invite.split("\n")[0]
            assert len(phone_received(phone, "INVITE")) == 1  # the agent's phone first
            await until(lambda: calls.kamailio.dialogs().get("ongoing") == 2, 10, "both legs talking")
            status, _ = await calls.center.api("alice", "POST", f"/api/interactions/{body['id']}/hangup")
            assert status == 202
            assert await asyncio.to_thread(phone.wait, 10) == 0
            assert await asyncio.to_thread(customer.wait, 10) == 0
            assert len(phone_received(customer, "BYE")) == 1
            ended = await calls.center.services.context.interaction(body["id"])
            assert ended.state is InteractionState.WRAP_UP
            no_route_refusals(calls.kamailio)
            await all_dialogs_ended(calls.kamailio)
        finally:
            phone.kill()
            customer.kill()
            await alice.close()


async def test_the_customer_hanging_up_a_dialled_call_ends_the_agents_leg(tmp_path: Path) -> None:
    async with sip_center(tmp_path) as calls:
        phone = calls.phone("alice", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                            "-set", "talk_ms", "0")
        customer = calls.phone("15551230000", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                               "-set", "talk_ms", "1500")  # hangs up after 1.5 s
        alice = await calls.center.agent_socket("alice")
        try:
            status, body = await calls.center.api("alice", "POST", "/api/calls", {"number": "15551230000"})
            assert status == 201, body
            assert await asyncio.to_thread(customer.wait, 15) == 0
            assert await asyncio.to_thread(phone.wait, 10) == 0  # our BYE to alice's phone
            assert len(phone_received(phone, "BYE")) == 1
            await until(lambda: _state_is(calls.center, body["id"], InteractionState.WRAP_UP), 5, "wrap-up")
            no_route_refusals(calls.kamailio)
            await all_dialogs_ended(calls.kamailio)
        finally:
            phone.kill()
            customer.kill()
            await alice.close()


async def test_a_restart_ends_a_dialled_call_with_bye_to_both_legs(tmp_path: Path) -> None:
    with running_kamailio(tmp_path) as kam:
        section = sip_section(kam)
        async with line_center(tmp_path, kam, section) as calls:
            phone = calls.phone("alice", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                                "-set", "talk_ms", "0")
            customer = calls.phone("15551230000", agent_with_record_route(tmp_path), "-set", "ring_ms",
                                   "200", "-set", "talk_ms", "0")
            alice = await calls.center.agent_socket("alice")
            status, body = await calls.center.api("alice", "POST", "/api/calls", {"number": "15551230000"})
            assert status == 201, body
            await until(lambda: kam.dialogs().get("ongoing") == 2, 15, "both legs talking")
            await alice.close()
        try:  # the server has stopped
            assert await asyncio.to_thread(phone.wait, 10) == 0
            assert await asyncio.to_thread(customer.wait, 10) == 0
            assert len(phone_received(phone, "BYE")) == 1 and len(phone_received(customer, "BYE")) == 1
            no_route_refusals(kam)
            await all_dialogs_ended(kam)
        finally:
            phone.kill()
            customer.kill()
        async with line_center(tmp_path, kam, section) as calls:
            ended = await calls.center.services.context.interaction(body["id"])
            assert ended.state is InteractionState.WRAP_UP
