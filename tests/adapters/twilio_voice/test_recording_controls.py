"""The desk's recording button on Twilio calls (the same API as on Asterisk and SIP-line calls):
start, pause, resume and stop through the Recordings API of the caller's call. The local fake
Twilio API checks every request the SDK sends; the recording's status callback is signed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.twilio_voice import twiml
from tests.adapters.sms.fake_twilio import ACCOUNT_SID, PUBLIC_URL, post_webhook
from tests.adapters.twilio_voice.fake_voice import FakeTwilioVoice, Request
from tests.adapters.twilio_voice.test_conference_controls import participant_callback, participant_request
from tests.adapters.twilio_voice.test_voice_flow import (
    Queued,
    Voice,
    agent_callback,
    conference_event,
    connected,
    path_of,
    voice_center,
    webhook,
)

pytestmark = pytest.mark.slow

STEPS = {"start": "recording-started", "pause": "recording-paused", "resume": "recording-resumed",
         "stop": "recording-stopped"}


async def recording_request(voice: Voice, count: int) -> Request:
    async with asyncio.timeout(10):
        while len(voice.twilio.recording_requests) < count:
            voice.twilio.arrived.clear()
            await voice.twilio.arrived.wait()
    return voice.twilio.recording_requests[count - 1]


async def record(voice: Voice, who: str, interaction_id: str, action: str) -> tuple[int, dict[str, object]]:
    status, body = await voice.center.api(who, "POST", f"/api/interactions/{interaction_id}/recording",
                                          {"action": action})
    return status, body


def updated(what: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == "call.updated" and m.get("what") == what


def completed(request: Request, sid: str) -> dict[str, str]:
    """Twilio's recording status callback for the finished recording ``sid``."""
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"
    return {"AccountSid": ACCOUNT_SID, "CallSid": request.call_sid or "", "RecordingSid": sid,
            "RecordingUrl": url, "RecordingStatus": "completed", "RecordingDuration": "7",
            "RecordingChannels": "2", "RecordingSource": "StartCallRecordingAPI",
            "RecordingStartTime": "Mon, 07 Dec 2026 15:00:00 +0000", "RecordingTrack": "both"}


async def test_start_pause_resume_stop_through_the_recordings_api(tmp_path: Path,
                                                                  twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        await voice.center.agent_socket("bob", available=False)
        queued, _ = await connected(voice, "CA" + "5" * 32)
        iid = queued.interaction_id
        assert (await record(voice, "bob", iid, "start"))[1]["error_id"] == "not-your-interaction"
        status, body = await record(voice, "alice", iid, "pause")
        assert (status, body["error_id"]) == (409, "not-recording")
        status, body = await record(voice, "alice", iid, "rewind")
        assert (status, body["error_id"]) == (400, "bad-recording-action")
        assert twilio.recording_requests == []  # nothing reached Twilio

        calls = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{queued.call_sid}/Recordings"
        status, body = await record(voice, "alice", iid, "start")
        assert (status, body) == (202, {"interaction_id": iid, "recording": "start"})
        started = await recording_request(voice, 1)
        assert started.path == f"{calls}.json"  # the caller's call: both directions, two channels
        assert started.form == {
            "RecordingChannels": "dual", "RecordingStatusCallbackMethod": "POST",
            "RecordingStatusCallback": f"{PUBLIC_URL}{twiml.RECORDING_PATH}?interaction={iid}",
            "RecordingStatusCallbackEvent": "completed"}
        sid = started.recording
        assert twilio.recordings[sid]["Status"] == "in-progress"
        await alice.expect(updated(STEPS["start"]))
        status, body = await record(voice, "alice", iid, "start")
        assert (status, body["error_id"]) == (409, "recording-in-progress")

        for n, (action, form, state) in enumerate((
                ("pause", {"Status": "paused", "PauseBehavior": "silence"}, "paused"),
                ("resume", {"Status": "in-progress"}, "in-progress"),
                ("stop", {"Status": "stopped"}, "stopped")), start=2):
            status, body = await record(voice, "alice", iid, action)
            assert (status, body) == (202, {"interaction_id": iid, "recording": action})
            sent = await recording_request(voice, n)
            assert (sent.path, sent.form) == (f"{calls}/{sid}.json", form)
            assert twilio.recordings[sid]["Status"] == state
            await alice.expect(updated(STEPS[action]))
        status, body = await record(voice, "alice", iid, "pause")  # stopped: nothing to pause
        assert (status, body["error_id"]) == (409, "not-recording")

        # The finished recording, signed as Twilio signs it: its URL lands on the interaction.
        callback = path_of(started.form["RecordingStatusCallback"])
        forged = await post_webhook(voice.center.http, voice.center.url, callback, completed(started, sid),
                                    signature="forged")
        assert forged[0] == 403
        assert "voice.recording" not in (await voice.interaction(iid)).context
        await webhook(voice, callback, completed(started, sid))
        ready = await alice.expect(updated("recording-ready"))
        assert ready["details"]["recording_sid"] == sid
        found = await voice.interaction(iid)
        assert found.context["voice.recording_sid"] == sid

        # A second recording may start once the first is over.
        status, _ = await record(voice, "alice", iid, "start")
        assert status == 202
        again = await recording_request(voice, 5)
        assert again.recording != sid and again.path == f"{calls}.json"
        assert twilio.problems == []


async def test_the_call_ending_completes_the_recording(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    """The call hangs up while recording: Twilio's completed callback clears it, so the interaction
    no longer claims a recording under way."""
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued, _ = await connected(voice, "CA" + "6" * 32)
        assert (await record(voice, "alice", queued.interaction_id, "start"))[0] == 202
        started = await recording_request(voice, 1)
        assert (await voice.interaction(queued.interaction_id)).channel_refs["twilio_recording_sid"] \
            == started.recording
        await webhook(voice, path_of(started.form["RecordingStatusCallback"]),
                      completed(started, started.recording))
        found = await voice.interaction(queued.interaction_id)
        assert found.channel_refs["twilio_recording_sid"] == ""
        assert found.context["voice.recording_sid"] == started.recording


async def test_a_refused_start_leaves_no_recording_behind(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued, _ = await connected(voice, "CA" + "7" * 32)
        twilio.calls[queued.call_sid]["Status"] = "completed"  # the caller hung up a moment ago
        status, body = await record(voice, "alice", queued.interaction_id, "start")
        assert (status, body["error_id"]) == (503, "voice-unavailable")
        assert twilio.recordings == {}
        assert twilio.problems == [f"recording a call completed {queued.call_sid}"]  # as Twilio refuses it
        twilio.problems.clear()
        assert not (await voice.interaction(queued.interaction_id)).channel_refs.get("twilio_recording_sid")


async def test_recording_a_dialled_call_records_the_customer_once_connected(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice", available=False)
        status, body = await voice.center.api("alice", "POST", "/api/calls", {"number": "(555) 123-0002"})
        assert status == 201, body
        iid = str(body["id"])
        agent_call = await twilio.wait_for("created", 1)
        status, refused = await record(voice, "alice", iid, "start")  # alice's phone is ringing
        assert (status, refused["error_id"]) == (409, "call-not-connected")
        await agent_callback(voice, agent_call, "in-progress")
        customer = await participant_request(voice, 1)
        twilio.calls[customer.created_sid]["Status"] = "in-progress"
        await participant_callback(voice, customer, "in-progress")
        conference = twilio.conferences[iid]
        queued = Queued(iid, customer.created_sid, "", "", conference_sid=conference,
                        conference_path=f"{twiml.CONFERENCE_PATH}?interaction={iid}")
        await conference_event(voice, queued, "conference-start")
        await conference_event(voice, queued, "participant-join", customer.created_sid)
        assert (await record(voice, "alice", iid, "start"))[0] == 202
        started = await recording_request(voice, 1)
        assert started.call_sid == customer.created_sid  # the customer's leg: both directions
        assert (await record(voice, "alice", iid, "pause"))[0] == 202
        assert twilio.recordings[started.recording]["Status"] == "paused"
        assert twilio.problems == []
