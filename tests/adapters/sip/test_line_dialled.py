"""The desk's controls on a click-to-dial SIP-line call, on the wire (kamailio with record-route,
SIPp phones for the agents and the customer): hold and resume, recording with pause, blind
transfer to an agent and to a queue, and a supervisor listening and whispering on their own phone,
as on a caller's call (``test_line_desk.py``, ``test_line_monitor.py``). The phones'
SDP name sockets of this test as their media addresses, so the test hears what the relay sends
each side."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.sip import g711
from adapters.sip.talk import Talk
from cti.domain import InteractionState
from cti.eventlog import EntryKind
from tests.adapters.sip.peers import SIPP_DIR
from tests.adapters.sip.sipcore_line import all_dialogs_ended, no_route_refusals, phone_received
from tests.adapters.sip.test_line import until
from tests.adapters.sip.test_line_agent import Calls, g711_tone_wav, sip_center
from tests.adapters.sip.test_line_desk import (
    HOLDING_PHONE_XML,
    call_updated,
    check_recording,
    ear,
    log_kinds,
    port_of,
    quiet,
    record_with_pause,
    tone_at,
)
from tests.adapters.sip.test_line_monitor import (
    AGENT_HZ,
    CALLER_HZ,
    SUPERVISOR_HZ,
    monitor,
    phone_playing,
    tones,
)
from tests.adapters.sip.wire import Phone, agent_with_record_route

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMER = "15551230000"
STREAM = 'rtp_stream="phone-voice.wav,-1,0"'
MEDIA = "m=audio [rtpstream_audio_port] "


def phone_xml(tmp_path: Path, name: str, *, hz: float | None = None, ear_port: int | None = None) -> Path:
    """agent.xml (Record-Route copied) streaming a tone of ``hz`` and taking its media at
    ``ear_port`` (a socket of the test) when given."""
    text = agent_with_record_route(tmp_path).read_text()
    assert text.count(STREAM) == 1 and text.count(MEDIA) == 1
    if hz is not None:
        wav = g711_tone_wav(tmp_path / f"{name}-{hz:.0f}.wav", hz, 30, g711.PCMU)
        text = text.replace(STREAM, f'rtp_stream="{wav},-1,0"')
    if ear_port is not None:
        text = text.replace(MEDIA, f"m=audio {ear_port} ")
    path = tmp_path / f"{name}.xml"
    path.write_text(text)
    return path


def talking(calls: Calls, name: str, scenario: Path) -> Phone:
    """A phone that answers after 200 ms and talks until our BYE."""
    return calls.phone(name, scenario, "-set", "ring_ms", "200", "-set", "talk_ms", "0")


def connected_to(calls: Calls, interaction_id: str, agent_id: str) -> Talk | None:
    """The call, once ``agent_id``'s phone answered and the relay joins them."""
    talk = calls.adapter.call_for(interaction_id)
    return talk if talk is not None and talk.agent_id == agent_id and talk.agent_media is not None else None


async def dialled(calls: Calls) -> str:
    """alice dials the customer; returns the interaction's id once both legs talk."""
    status, body = await calls.center.api("alice", "POST", "/api/calls", {"number": "+" + CUSTOMER})
    assert status == 201, body
    await until(lambda: calls.kamailio.dialogs().get("ongoing") == 2, 15, "both legs talking")
    return str(body["id"])


async def test_hold_and_resume_a_dialled_call(tmp_path: Path) -> None:
    with ear() as agent_ear, ear() as customer_ear:
        async with sip_center(tmp_path) as calls:
            scenario = tmp_path / "holding_phone.xml"
            scenario.write_text(HOLDING_PHONE_XML.replace("EAR", str(port_of(agent_ear))))
            phone = calls.phone("alice", scenario)
            customer = talking(calls, CUSTOMER, phone_xml(tmp_path, "customer", hz=1000,
                                                          ear_port=port_of(customer_ear)))
            alice = await calls.center.agent_socket("alice")
            try:
                interaction_id = await dialled(calls)
                path = f"/api/interactions/{interaction_id}/hold"
                assert abs(await tone_at(agent_ear) - 1000) <= 8  # the customer's tone relayed

                status, body = await calls.center.api("bob", "POST", path, {"hold": True})
                assert (status, body["error_id"]) == (403, "not-your-interaction")
                status, body = await calls.center.api("alice", "POST", path, {"hold": True})
                assert (status, body) == (200, {"interaction_id": interaction_id, "held": True})
                await alice.expect(call_updated("held"))
                assert abs(await tone_at(customer_ear) - 400) <= 8  # the hold audio
                assert await quiet(agent_ear, 0.5) == 0  # the customer is not heard by the agent
                reinvites = phone_received(phone, "INVITE")[1:]
                assert len(reinvites) == 1 and "a=sendonly" in reinvites[0], reinvites

                status, body = await calls.center.api("alice", "POST", path, {"hold": False})
                assert (status, body["held"]) == (200, False)
                await alice.expect(call_updated("resumed"))
                assert abs(await tone_at(agent_ear) - 1000) <= 8
                assert await quiet(customer_ear, 0.5) == 0  # the hold audio has stopped
                reinvites = phone_received(phone, "INVITE")[1:]
                assert len(reinvites) == 2 and "a=sendrecv" in reinvites[1], reinvites
                assert phone_received(customer, "INVITE")[1:] == []  # the customer is not re-INVITEd
                entries = await log_kinds(calls.center, interaction_id, EntryKind.HELD, EntryKind.RESUMED)
                assert [e.agent_id for e in entries if e.kind in (EntryKind.HELD, EntryKind.RESUMED)] \
                    == ["alice"] * 2

                status, _ = await calls.center.api("alice", "POST", f"/api/interactions/{interaction_id}"
                                                   "/hangup")
                assert status == 202
                assert await asyncio.to_thread(phone.wait, 10) == 0
                assert await asyncio.to_thread(customer.wait, 10) == 0
                no_route_refusals(calls.kamailio)
                await all_dialogs_ended(calls.kamailio)
            finally:
                phone.kill()
                customer.kill()
                await alice.close()


async def test_recording_a_dialled_call_with_pause(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    async with sip_center(tmp_path, recording_dir=str(recordings)) as calls:
        phone = talking(calls, "alice", phone_xml(tmp_path, "alice", hz=600))
        customer = talking(calls, CUSTOMER, phone_xml(tmp_path, "customer", hz=1000))
        alice = await calls.center.agent_socket("alice")
        try:
            interaction_id = await dialled(calls)
            path = f"/api/interactions/{interaction_id}/recording"
            status, body = await calls.center.api("bob", "POST", path, {"action": "start"})
            assert (status, body["error_id"]) == (403, "not-your-interaction")
            status, body = await calls.center.api("alice", "POST", path, {"action": "pause"})
            assert (status, body["error_id"]) == (409, "not-recording")
            steps = await record_with_pause(calls.center, alice, interaction_id)
            found = await calls.center.services.context.interaction(interaction_id)
            stored = found.context["voice.recording"]
            assert Path(stored) == recordings / f"{interaction_id}.wav"
            check_recording(stored, steps, 1000, 600)  # left the customer, right the agent's phone
            status, _ = await calls.center.api("alice", "POST", f"/api/interactions/{interaction_id}/hangup")
            assert status == 202
            assert await asyncio.to_thread(customer.wait, 10) == 0
        finally:
            phone.kill()
            customer.kill()
            await alice.close()


async def test_a_dialled_call_transferred_to_an_agent_rings_their_phone(tmp_path: Path) -> None:
    with ear() as bob_ear, ear() as customer_ear:
        async with sip_center(tmp_path) as calls:
            phone = talking(calls, "alice", agent_with_record_route(tmp_path))
            customer = talking(calls, CUSTOMER, phone_xml(tmp_path, "customer", hz=1000,
                                                          ear_port=port_of(customer_ear)))
            bob_phone = talking(calls, "bob", phone_xml(tmp_path, "bob", hz=600, ear_port=port_of(bob_ear)))
            alice = await calls.center.agent_socket("alice")
            bob = await calls.center.agent_socket("bob")
            try:
                interaction_id = await dialled(calls)
                status, body = await calls.center.api(
                    "alice", "POST", f"/api/interactions/{interaction_id}/transfer", {"agent_id": "bob"})
                assert status == 200, body
                assert await asyncio.to_thread(phone.wait, 10) == 0  # alice's leg got its BYE
                assert len(phone_received(phone, "BYE")) == 1
                talk = await until(lambda: connected_to(calls, interaction_id, "bob"), 15,
                                   "bob's phone to answer")
                assert talk.agent_media is not None
                moved = await calls.center.services.context.interaction(interaction_id)
                assert moved.agent_id == "bob"
                assert abs(await tone_at(bob_ear) - 1000) <= 8  # bob hears the customer
                assert abs(await tone_at(customer_ear) - 600) <= 8  # and the customer hears bob
                assert len(phone_received(customer, "BYE")) == 0  # the customer never left

                status, _ = await calls.center.api("bob", "POST", f"/api/interactions/{interaction_id}"
                                                   "/hangup")
                assert status == 202
                assert await asyncio.to_thread(customer.wait, 10) == 0
                assert await asyncio.to_thread(bob_phone.wait, 10) == 0
                ended = await calls.center.services.context.interaction(interaction_id)
                assert (ended.state, ended.agent_id) == (InteractionState.WRAP_UP, "bob")
                no_route_refusals(calls.kamailio)
                await all_dialogs_ended(calls.kamailio)
            finally:
                phone.kill()
                customer.kill()
                bob_phone.kill()
                await alice.close()
                await bob.close()


async def test_a_dialled_call_transferred_to_a_queue_waits_on_the_hold_audio(tmp_path: Path) -> None:
    with ear() as customer_ear:
        async with sip_center(tmp_path) as calls:
            phone = talking(calls, "alice", agent_with_record_route(tmp_path))
            customer = talking(calls, CUSTOMER,
                               phone_xml(tmp_path, "customer", ear_port=port_of(customer_ear)))
            bob_phone = calls.phone("bob", SIPP_DIR / "agent_noanswer.xml")  # rings until CANCEL
            alice = await calls.center.agent_socket("alice")
            bob = None
            try:
                interaction_id = await dialled(calls)
                status, body = await calls.center.api(
                    "alice", "POST", f"/api/interactions/{interaction_id}/transfer", {"queue": "support"})
                assert status == 200, body
                assert await asyncio.to_thread(phone.wait, 10) == 0
                moved = await calls.center.services.context.interaction(interaction_id)
                assert moved.state in (InteractionState.QUEUED, InteractionState.OFFERED), moved.state
                assert moved.queue == "support"
                assert abs(await tone_at(customer_ear) - 400) <= 8  # on the hold audio
                await until(lambda: calls.kamailio.dialogs().get("all") == 1, 5, "only the customer's dialog")
                bob = await calls.center.agent_socket("bob")  # the router offers the customer to bob
                await until(lambda: bool(phone_received(bob_phone, "INVITE")), 15, "bob's phone to ring")
                live = calls.adapter.call_for(interaction_id)
                assert live is not None and live.agent_id == "bob" and not live.ended
                no_route_refusals(calls.kamailio)
            finally:
                phone.kill()
                customer.kill()
                bob_phone.kill()
                await alice.close()
                if bob is not None:
                    await bob.close()


async def test_controls_before_the_customer_answers_are_a_conflict(tmp_path: Path) -> None:
    async with sip_center(tmp_path) as calls:
        phone = talking(calls, "alice", agent_with_record_route(tmp_path))
        customer = calls.phone(CUSTOMER, SIPP_DIR / "agent_noanswer.xml")  # rings until CANCEL
        alice = await calls.center.agent_socket("alice")
        try:
            status, body = await calls.center.api("alice", "POST", "/api/calls", {"number": CUSTOMER})
            assert status == 201, body
            await until(lambda: bool(phone_received(customer, "INVITE")), 15, "the customer's phone to ring")
            base = f"/api/interactions/{body['id']}"
            for path, data in (("/hold", {"hold": True}), ("/recording", {"action": "start"}),
                               ("/transfer", {"queue": "support"})):
                status, refused = await calls.center.api("alice", "POST", base + path, data)
                assert (status, refused["error_id"]) == (409, "call-not-connected"), (path, refused)
            status, _ = await calls.center.api("alice", "POST", base + "/hangup")
            assert status == 202
            assert await asyncio.to_thread(customer.wait, 10) == 0  # CANCELled
            assert await asyncio.to_thread(phone.wait, 10) == 0
            await all_dialogs_ended(calls.kamailio)
        finally:
            phone.kill()
            customer.kill()
            await alice.close()



async def test_a_supervisor_listens_and_whispers_on_a_dialled_call(tmp_path: Path) -> None:
    with ear() as agent_ear, ear() as customer_ear, ear() as sup_ear:
        async with sip_center(tmp_path) as calls:
            phone = talking(calls, "alice", phone_xml(tmp_path, "alice", hz=AGENT_HZ,
                                                      ear_port=port_of(agent_ear)))
            customer = talking(calls, CUSTOMER, phone_xml(tmp_path, "customer", hz=CALLER_HZ,
                                                          ear_port=port_of(customer_ear)))
            sam_phone = talking(calls, "sam", phone_playing(tmp_path, "sam", SUPERVISOR_HZ, port_of(sup_ear),
                                                            g711.PCMU))
            alice = await calls.center.agent_socket("alice")
            sam = await calls.center.agent_socket("sam", available=False)
            try:
                interaction_id = await dialled(calls)
                assert await tones(agent_ear) == {CALLER_HZ}  # no supervisor yet: the two of them

                status, body = await monitor(calls, "sam", "listen")
                assert (status, body) == (202, {"agent_id": "alice", "mode": "listen",
                                                "supervisor_id": "sam"})
                on = await sam.expect("supervision.changed")
                assert (on["active"], on["mode"], on["interaction_id"]) == (True, "listen", interaction_id)
                assert phone_received(sam_phone, "INVITE")[0].startswith("INVITE sip:sam@")
                assert await tones(sup_ear) == {CALLER_HZ, AGENT_HZ}  # sam hears both sides
                assert await tones(customer_ear) == {AGENT_HZ}  # and neither hears him
                assert await tones(agent_ear) == {CALLER_HZ}

                status, _ = await monitor(calls, "sam", "whisper")
                assert status == 202
                assert (await sam.expect("supervision.changed"))["mode"] == "whisper"
                assert await tones(agent_ear) == {CALLER_HZ, SUPERVISOR_HZ}
                assert await tones(customer_ear) == {AGENT_HZ}
                audit = await calls.center.services.context.audit_log(target="alice")
                assert sorted((a.action, a.details.get("interaction_id")) for a in audit) == [
                    ("call.listen", interaction_id), ("call.whisper", interaction_id)]

                # the dialled call ending ends sam's leg with a BYE through the route set
                status, _ = await calls.center.api("alice", "POST",
                                                   f"/api/interactions/{interaction_id}/hangup")
                assert status == 202
                assert await asyncio.to_thread(sam_phone.wait, 10) == 0
                assert len(phone_received(sam_phone, "BYE")) == 1
                off = await sam.expect(lambda m: m.get("type") == "supervision.changed" and not m["active"])
                assert off["interaction_id"] == interaction_id
                assert await asyncio.to_thread(customer.wait, 10) == 0
                no_route_refusals(calls.kamailio)
                await all_dialogs_ended(calls.kamailio)
            finally:
                phone.kill()
                customer.kill()
                sam_phone.kill()
                await alice.close()
                await sam.close()
