"""Twilio calls with the desk's controls, through the call's conference: hold and resume, consult
(hand over or back to the caller), a supervisor's listen, whisper and barge, and click-to-dial.
Every request Twilio gets is checked by the local fake (Participants create and update, Calls
create and update); every callback is signed as Twilio signs it."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.twilio_voice import twiml
from cti.domain import InteractionState
from cti.eventlog import EntryKind, LogEntry
from tests.adapters.sms.fake_twilio import ACCOUNT_SID, OUR_NUMBER, PUBLIC_URL, post_webhook, sign
from tests.adapters.twilio_voice.fake_voice import FakeTwilioVoice, Request
from tests.adapters.twilio_voice.test_voice_flow import (
    ALICE_PHONE,
    Queued,
    Voice,
    agent_callback,
    call_in,
    conference_event,
    connected,
    in_conference,
    path_of,
    voice_center,
    webhook,
)

pytestmark = pytest.mark.slow

PARTICIPANTS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Conferences"


async def participant_request(voice: Voice, count: int) -> Request:
    async with asyncio.timeout(10):
        while len(voice.twilio.participants) < count:
            voice.twilio.arrived.clear()
            await voice.twilio.arrived.wait()
    return voice.twilio.participants[count - 1]


async def participant_callback(voice: Voice, created: Request, status: str, *, expect: int = 200) -> None:
    """Twilio's call progress callback of a participant we added."""
    await webhook(voice, path_of(created.form["StatusCallback"]), {
        "AccountSid": ACCOUNT_SID, "CallSid": created.created_sid, "CallStatus": status,
        "Direction": "outbound-api", "From": created.form["From"], "To": created.form["To"],
        "SequenceNumber": "0", "CallbackSource": "call-progress-events"}, expect=expect)


async def log_kinds(voice: Voice, interaction_id: str, *wanted: EntryKind) -> list[LogEntry]:
    """The interaction's log once it holds every kind wanted (call steps are written a moment after)."""
    records = voice.center.services.event_log
    assert records is not None
    async with asyncio.timeout(10):
        while True:
            entries = list(await records.of(interaction_id))
            if set(wanted) <= {e.kind for e in entries}:
                return entries
            await asyncio.sleep(0.05)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_hold_and_resume_with_the_participants_api(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        await voice.center.agent_socket("bob", available=False)
        queued, _ = await connected(voice, "CA" + "1" * 32)
        path = f"/api/interactions/{queued.interaction_id}/hold"
        status, body = await voice.center.api("bob", "POST", path, {"hold": True})
        assert (status, body["error_id"]) == (403, "not-your-interaction")
        status, body = await voice.center.api("alice", "POST", path, {"hold": True})
        assert (status, body) == (200, {"interaction_id": queued.interaction_id, "held": True})
        held = await participant_request(voice, 1)
        assert held.path == f"{PARTICIPANTS}/{queued.conference_sid}/Participants/{queued.call_sid}.json"
        assert held.form == {"Hold": "true", "HoldUrl": PUBLIC_URL + twiml.WAIT_PATH, "HoldMethod": "POST"}
        assert twilio.member(queued.interaction_id, queued.call_sid) == {
            "hold": "true", "muted": "false", "coaching": "false"}
        # What Twilio fetches for the held caller: our hold audio, from a signed request.
        music = await webhook(voice, twiml.WAIT_PATH, {"AccountSid": ACCOUNT_SID, "CallSid": queued.call_sid})
        assert music.find("Play") is not None
        await alice.expect(lambda m: m.get("type") == "call.updated" and m.get("what") == "held")

        status, body = await voice.center.api("alice", "POST", path, {"hold": False})
        assert (status, body["held"]) == (200, False)
        resumed = await participant_request(voice, 2)
        assert resumed.form == {"Hold": "false"}
        assert twilio.member(queued.interaction_id, queued.call_sid)["hold"] == "false"  # type: ignore[index]
        await alice.expect(lambda m: m.get("type") == "call.updated" and m.get("what") == "resumed")
        entries = await log_kinds(voice, queued.interaction_id, EntryKind.HELD, EntryKind.RESUMED)
        assert [e.agent_id for e in entries if e.kind in (EntryKind.HELD, EntryKind.RESUMED)] == ["alice"] * 2
        assert [e.channel for e in entries if e.kind is EntryKind.HELD] == ["voice"]


async def test_hold_before_the_conference_is_known_is_a_conflict(tmp_path: Path,
                                                                 twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "2" * 32)
        created = await twilio.wait_for("created", 1)
        await agent_callback(voice, created, "in-progress")
        await voice.state(queued.interaction_id, InteractionState.ACTIVE)
        status, body = await voice.center.api(
            "alice", "POST", f"/api/interactions/{queued.interaction_id}/hold", {"hold": True})
        assert (status, body["error_id"]) == (409, "call-not-connected")
        assert twilio.participants == []


async def test_consult_then_hand_over(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "3" * 32)
        bob = await voice.center.agent_socket("bob", available=False)
        base = f"/api/interactions/{queued.interaction_id}"
        status, body = await voice.center.api("alice", "POST", base + "/consult", {"agent_id": "nobody"})
        assert (status, body["error_id"]) == (404, "agent-not-found")
        status, body = await voice.center.api("alice", "POST", base + "/consult", {"agent_id": "bob"})
        assert status == 202, body
        hold = await participant_request(voice, 1)
        assert hold.call_sid == queued.call_sid and hold.form["Hold"] == "true"
        added = await participant_request(voice, 2)
        assert added.path == f"{PARTICIPANTS}/{queued.conference_sid}/Participants.json"
        assert added.form["To"] == "client:bob" and added.form["From"] == "+15551230001"
        assert added.form["EndConferenceOnExit"] == "false"  # bob leaving does not end the call
        assert added.events == ["initiated", "ringing", "answered", "completed"]
        assert path_of(added.form["StatusCallback"]).startswith(twiml.PARTICIPANT_PATH)
        assert query_of(added.form["StatusCallback"])["role"] == "consult"
        incoming = await bob.expect(lambda m: m.get("type") == "call.updated"
                                    and m.get("what") == "consult-incoming")
        assert incoming["details"]["from_agent"] == "alice"
        assert incoming["details"]["screen_pop"]["context"]["ivr.account"] == "40021"

        # Not answered yet: nothing to hand over.
        status, body = await voice.center.api("alice", "POST", base + "/consult/complete")
        assert (status, body["error_id"]) == (409, "consult-not-answered")
        await participant_callback(voice, added, "ringing")
        await participant_callback(voice, added, "in-progress")
        await participant_callback(voice, added, "in-progress")  # redelivered: once
        await alice.expect(lambda m: m.get("type") == "call.updated" and m.get("what") == "consult-answered")
        status, body = await voice.center.api("bob", "POST", base + "/consult/complete")
        assert (status, body["error_id"]) == (403, "not-your-interaction")
        status, body = await voice.center.api("alice", "POST", base + "/consult/complete")
        assert status == 202, body
        moved = await voice.state(queued.interaction_id, InteractionState.ACTIVE)
        async with asyncio.timeout(10):
            while moved.agent_id != "bob":
                await asyncio.sleep(0.02)
                moved = await voice.interaction(queued.interaction_id)
        changes = [(r.call_sid, r.form) for r in twilio.participants[2:]]
        assert changes == [(added.created_sid, {"EndConferenceOnExit": "true"}),
                           (created.created_sid, {"EndConferenceOnExit": "false"}),
                           (queued.call_sid, {"Hold": "false"})]
        hung_up = await twilio.wait_for("updates", 2)
        assert (hung_up.call_sid, hung_up.form) == (created.created_sid, {"Status": "completed"})
        entries = await log_kinds(voice, queued.interaction_id, EntryKind.CONSULTED, EntryKind.TRANSFERRED)
        consulted = [e for e in entries if e.kind is EntryKind.CONSULTED]
        assert [(e.agent_id, dict(e.details)) for e in consulted] == [("alice", {"to_agent": "bob"})]
        transferred = [e for e in entries if e.kind is EntryKind.TRANSFERRED]
        assert [(e.details.get("mode"), e.details.get("to_agent")) for e in transferred] == [("warm", "bob")]

        # Alice's leg ending is not the call's; bob's is.
        await agent_callback(voice, created, "completed")
        await asyncio.sleep(0.1)
        assert (await voice.interaction(queued.interaction_id)).state is InteractionState.ACTIVE
        await participant_callback(voice, added, "completed")
        ended = await voice.state(queued.interaction_id, InteractionState.WRAP_UP)
        assert ended.agent_id == "bob"


async def test_consult_cancelled_or_unanswered_goes_back_to_the_caller(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued, _ = await connected(voice, "CA" + "4" * 32)
        base = f"/api/interactions/{queued.interaction_id}"
        status, body = await voice.center.api("alice", "POST", base + "/consult/cancel")
        assert (status, body["error_id"]) == (409, "no-consult")
        status, body = await voice.center.api("alice", "POST", base + "/consult", {"agent_id": "bob"})
        assert status == 202, body
        first = await participant_request(voice, 2)
        status, body = await voice.center.api("alice", "POST", base + "/consult", {"agent_id": "bob"})
        assert (status, body["error_id"]) == (409, "consult-in-progress")
        status, body = await voice.center.api("alice", "POST", base + "/consult/cancel")
        assert status == 202, body
        stop = await twilio.wait_for("updates", 2)
        assert (stop.call_sid, stop.form) == (first.created_sid, {"Status": "completed"})
        unhold = await participant_request(voice, 3)
        assert (unhold.call_sid, unhold.form) == (queued.call_sid, {"Hold": "false"})
        ended = await alice.expect(
            lambda m: m.get("type") == "call.updated" and m.get("what") == "consult-ended")
        assert ended["details"] == {"why": "cancelled", "to_agent": "bob"}
        await participant_callback(voice, first, "completed")  # its end after the cancel: nothing more

        # Again; bob's phone does not answer: alice is back with the caller, off hold.
        status, body = await voice.center.api("alice", "POST", base + "/consult", {"agent_id": "bob"})
        assert status == 202, body
        second = await participant_request(voice, 5)
        await participant_callback(voice, second, "no-answer")
        ended = await alice.expect(
            lambda m: m.get("type") == "call.updated" and m.get("what") == "consult-ended")
        assert ended["details"] == {"why": "no-answer", "to_agent": "bob"}
        unhold = await participant_request(voice, 6)
        assert (unhold.call_sid, unhold.form) == (queued.call_sid, {"Hold": "false"})
        await asyncio.sleep(0.1)
        assert len(twilio.participants) == 6
        found = await voice.interaction(queued.interaction_id)
        assert found.agent_id == "alice" and found.state is InteractionState.ACTIVE


@pytest.mark.parametrize(("mode", "expected"), [
    ("listen", {"Muted": "true"}), ("whisper", {"Coaching": "true"}), ("barge", {})])
async def test_supervisor_listens_whispers_or_barges_on_their_own_phone(
        tmp_path: Path, twilio: FakeTwilioVoice, mode: str, expected: dict[str, str]) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        sam = await voice.center.agent_socket("sam", available=False)
        await voice.center.agent_socket("alice")
        status, body = await voice.center.api("sam", "POST", "/api/agents/alice/monitor", {"mode": mode})
        assert (status, body["error_id"]) == (409, "no-call")
        queued, created = await connected(voice, "CA" + "5" * 32)
        status, body = await voice.center.api("bob", "POST", "/api/agents/alice/monitor", {"mode": mode})
        assert status == 403, body
        status, body = await voice.center.api("sam", "POST", "/api/agents/alice/monitor", {"mode": "shout"})
        assert (status, body["error_id"]) == (400, "bad-mode")
        assert twilio.participants == []
        status, body = await voice.center.api("sam", "POST", "/api/agents/alice/monitor", {"mode": mode})
        assert status == 202, body
        added = await participant_request(voice, 1)
        assert added.path == f"{PARTICIPANTS}/{queued.conference_sid}/Participants.json"
        assert added.form["To"] == "client:sam" and added.form["EndConferenceOnExit"] == "false"
        flags = {k: added.form[k] for k in ("Muted", "Coaching") if k in added.form}
        assert flags == expected
        assert added.form.get("CallSidToCoach") == (created.created_sid if mode == "whisper" else None)
        audit = await voice.center.services.context.audit_log(target="alice")
        assert [(a.actor, a.action, a.details.get("interaction_id")) for a in audit] == [
            ("sam", f"call.{mode}", queued.interaction_id)]

        await participant_callback(voice, added, "ringing")
        await participant_callback(voice, added, "in-progress")
        on = await sam.expect("supervision.changed")
        assert (on["active"], on["mode"], on["agent_id"], on["interaction_id"]) == (
            True, mode, "alice", queued.interaction_id)
        await participant_callback(voice, added, "completed")
        await participant_callback(voice, added, "completed")  # redelivered
        off = await sam.expect("supervision.changed")
        assert off["active"] is False
        await asyncio.sleep(0.1)
        assert voice.count("supervision.changed", queued.interaction_id) == 2


async def test_click_to_dial_rings_the_agent_then_the_customer(tmp_path: Path,
                                                               twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice", available=False)
        status, body = await voice.center.api("alice", "POST", "/api/calls", {"number": "(555) 123-0002"})
        assert status == 201, body
        interaction_id = body["id"]
        assert body["state"] == "active" and body["agent_id"] == "alice"
        agent_call = await twilio.wait_for("created", 1)
        assert (agent_call.form["To"], agent_call.form["From"]) == (ALICE_PHONE, OUR_NUMBER)
        conference = ET.fromstring(agent_call.form["Twiml"]).find("Dial/Conference")
        assert conference is not None and conference.text == interaction_id
        assert twilio.participants == []  # the customer is dialled once alice answers
        await agent_callback(voice, agent_call, "ringing")
        await agent_callback(voice, agent_call, "in-progress")
        customer = await participant_request(voice, 1)
        assert customer.path == f"{PARTICIPANTS}/{interaction_id}/Participants.json"  # by name
        assert (customer.form["To"], customer.form["From"]) == ("+15551230002", OUR_NUMBER)
        assert customer.form["EndConferenceOnExit"] == "true"
        await agent_callback(voice, agent_call, "in-progress")  # redelivered: dialled once
        await asyncio.sleep(0.1)
        assert len(twilio.participants) == 1
        await participant_callback(voice, customer, "in-progress")
        answered = await alice.expect(
            lambda m: m.get("type") == "call.updated" and m.get("what") == "customer-answered")
        assert answered["details"] == {"number": "+15551230002"}

        # The conference is known: hold works on a dialled call too.
        queued = Queued(interaction_id, customer.created_sid, "", "",
                        conference_path=path_of(conference.get("statusCallback", "")),
                        conference_sid=twilio.conferences[interaction_id])
        await conference_event(voice, queued, "participant-join", customer.created_sid)
        status, body = await voice.center.api("alice", "POST", f"/api/interactions/{interaction_id}/hold",
                                              {"hold": True})
        assert status == 200, body
        held = await participant_request(voice, 2)
        assert held.call_sid == customer.created_sid and held.form["Hold"] == "true"
        await participant_callback(voice, customer, "completed")
        await voice.state(interaction_id, InteractionState.WRAP_UP)


async def test_click_to_dial_agent_or_customer_not_reached(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice", available=False)
        status, body = await voice.center.api("alice", "POST", "/api/calls", {"number": "5551230002"})
        assert status == 201, body
        agent_call = await twilio.wait_for("created", 1)
        await agent_callback(voice, agent_call, "no-answer")
        ended = await voice.state(body["id"], InteractionState.WRAP_UP)
        assert twilio.participants == [] and ended.agent_id == "alice"

        status, body = await voice.center.api("alice", "POST", "/api/calls", {"number": "5551230003"})
        assert status == 201, body
        agent_call = await twilio.wait_for("created", 2)
        await agent_callback(voice, agent_call, "in-progress")
        customer = await participant_request(voice, 1)
        await participant_callback(voice, customer, "busy")
        await voice.state(body["id"], InteractionState.WRAP_UP)
        hang_up = await twilio.wait_for("updates", 1)  # alice, alone in the conference, is hung up
        assert (hang_up.call_sid, hang_up.form) == (agent_call.created_sid, {"Status": "completed"})


async def test_conference_and_participant_callbacks_need_twilios_signature(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        sam = await voice.center.agent_socket("sam", available=False)
        await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "6" * 32)
        created = await twilio.wait_for("created", 1)
        await agent_callback(voice, created, "in-progress")
        await voice.state(queued.interaction_id, InteractionState.ACTIVE)
        conference_path = f"{twiml.CONFERENCE_PATH}?interaction={queued.interaction_id}"
        forged_conference = {"AccountSid": ACCOUNT_SID, "ConferenceSid": "CF" + "6" * 32,
                             "StatusCallbackEvent": "participant-join", "CallSid": queued.call_sid,
                             "SequenceNumber": "1"}
        participant_path = (f"{twiml.PARTICIPANT_PATH}?interaction={queued.interaction_id}"
                            "&role=listen&agent=alice&supervisor=sam")
        forged_participant = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "7" * 32,
                              "CallStatus": "in-progress"}
        for path, form in ((conference_path, forged_conference), (participant_path, forged_participant)):
            for signature in (None, "bm90IGEgc2lnbmF0dXJl", sign(path, form, token="not-the-auth-token"),
                              sign(path.split("?")[0], form)):
                status, _, _ = await post_webhook(voice.center.http, voice.center.url, path, form,
                                                  signature=signature)
                assert status == 403
        await asyncio.sleep(0.1)
        found = await voice.interaction(queued.interaction_id)
        assert not found.channel_refs.get("twilio_conference_sid")  # a forged conference is not taken
        assert voice.count("supervision.changed", queued.interaction_id) == 0
        # Signed, it is taken.
        await in_conference(voice, queued, created.created_sid)
        await sam.close()


async def test_a_consulted_agent_leaving_the_conference_ends_the_consult_once(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued, _ = await connected(voice, "CA" + "8" * 32)
        status, body = await voice.center.api(
            "alice", "POST", f"/api/interactions/{queued.interaction_id}/consult", {"agent_id": "bob"})
        assert status == 202, body
        added = await participant_request(voice, 2)
        await participant_callback(voice, added, "in-progress")
        # Bob hangs up: the conference reports him leaving (redelivered, the same callback twice).
        leave = {"AccountSid": ACCOUNT_SID, "ConferenceSid": queued.conference_sid,
                 "FriendlyName": queued.interaction_id, "StatusCallbackEvent": "participant-leave",
                 "CallSid": added.created_sid, "SequenceNumber": "40"}
        for _ in range(2):
            await webhook(voice, queued.conference_path, leave)
        ended = await alice.expect(
            lambda m: m.get("type") == "call.updated" and m.get("what") == "consult-ended")
        assert ended["details"] == {"why": "target-left", "to_agent": "bob"}
        unhold = await participant_request(voice, 3)
        assert (unhold.call_sid, unhold.form) == (queued.call_sid, {"Hold": "false"})
        await participant_callback(voice, added, "completed")  # his call's own end: nothing more
        await asyncio.sleep(0.2)
        assert len(twilio.participants) == 3
        assert sum(1 for e in voice.events if e.type == "call.updated"
                   and getattr(e, "what", "") == "consult-ended") == 2  # alice's and bob's, once
        found = await voice.interaction(queued.interaction_id)
        assert found.agent_id == "alice" and found.channel_refs.get("twilio_consult_agent") == ""
