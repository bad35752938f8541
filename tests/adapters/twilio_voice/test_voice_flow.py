"""Twilio voice end to end: the whole server on a real port, Twilio's webhooks signed with the
SDK's own validator and followed as Twilio follows them (the TwiML's action URLs), its REST API
played by a local server, and agents on the real socket."""

from __future__ import annotations

import asyncio
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.twilio_voice import twiml
from adapters.twilio_voice.adapter import TwilioVoiceAdapter
from cti.app import ServerSettings
from cti.domain import Channel, Identity, IdentityKind, Interaction, InteractionState
from cti.eventlog import EntryKind
from cti.events import DomainEvent
from cti.tasks import stop_tasks
from tests.adapters.center import AGENTS, Center, running_center
from tests.adapters.sms.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, post_webhook, sign
from tests.adapters.twilio_voice.fake_voice import FakeTwilioVoice, Request

pytestmark = pytest.mark.slow

ANN = "+15551230001"
ALICE_PHONE = "+15550100001"
QUEUES = [
    {"name": "support", "skills": {"english": 1}, "service_targets": {"voice": 20}},
    {"name": "sales", "skills": {"english": 1}, "service_targets": {"voice": 20}},
]


def agents(**endpoints: str) -> list[dict[str, Any]]:
    return [{**a, "endpoints": {"twilio": endpoints[a["id"]]}} if a["id"] in endpoints else a for a in AGENTS]


@dataclass
class Voice:
    center: Center
    adapter: TwilioVoiceAdapter
    twilio: FakeTwilioVoice
    events: list[DomainEvent]

    def count(self, kind: str, interaction_id: str) -> int:
        return sum(1 for e in self.events
                   if e.type == kind and getattr(e, "interaction_id", None) == interaction_id)

    async def interaction(self, interaction_id: str) -> Interaction:
        return await self.center.services.context.interaction(interaction_id)

    async def state(self, interaction_id: str, state: InteractionState, *,
                    timeout: float = 10.0) -> Interaction:
        async with asyncio.timeout(timeout):
            while True:
                found = await self.interaction(interaction_id)
                if found.state is state:
                    return found
                await asyncio.sleep(0.02)


def section(fake: FakeTwilioVoice, **overrides: Any) -> dict[str, Any]:
    return {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL,
            "api_base_url": fake.url, "timeout_seconds": 5, "numbers": {OUR_NUMBER: "support"},
            "reasons": {"1": "billing", "2": "a fault"}, "record": True, **overrides}


@contextlib.asynccontextmanager
async def voice_center(tmp_path: Path, fake: FakeTwilioVoice, settings: ServerSettings | None = None,
                       **overrides: Any) -> AsyncIterator[Voice]:
    async with running_center(tmp_path, {"twilio_voice": section(fake, **overrides)}, settings,
                              queues=QUEUES, agents=agents(alice=ALICE_PHONE, bob="client:bob",
                                                            sam="client:sam")) as center:
        adapter = center.adapters[Channel.VOICE]
        assert isinstance(adapter, TwilioVoiceAdapter)
        events: list[DomainEvent] = []
        sub = center.services.hub.subscribe(maxsize=10_000)

        async def record() -> None:
            while True:
                events.append(await sub.get())

        recorder = asyncio.create_task(record())
        try:
            yield Voice(center=center, adapter=adapter, twilio=fake, events=events)
        finally:
            await stop_tasks([recorder])
            sub.close()
    assert fake.problems == []


# ----- Twilio's side, as it would drive our webhooks ----------------------------------------

def path_of(url: str) -> str:
    assert url.startswith(PUBLIC_URL + "/"), url
    return url[len(PUBLIC_URL):]


async def webhook(voice: Voice, path: str, form: dict[str, str], *, expect: int = 200) -> ET.Element:
    status, content_type, body = await post_webhook(voice.center.http, voice.center.url, path, form)
    assert status == expect, body
    assert content_type == "text/xml"
    return ET.fromstring(body)


def call_form(sid: str, *, from_: str = ANN, to: str = OUR_NUMBER, **extra: str) -> dict[str, str]:
    """The fields of Twilio's voice webhook for a call in progress."""
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid,
            "CallStatus": "in-progress", "Called": to, "Caller": from_, "Direction": "inbound",
            "From": from_, "FromCountry": "US", "To": to, "ToCountry": "US", **extra}


@dataclass
class Queued:
    interaction_id: str
    call_sid: str
    left_path: str  # the Enqueue's action
    wait_path: str
    done_path: str = ""  # the caller's <Dial><Conference> action, once moved into the conference
    conference_path: str = ""  # the conference's status callback
    conference_sid: str = ""
    sequence: int = 0

    def next_sequence(self) -> str:
        self.sequence += 1
        return str(self.sequence)


async def call_in(voice: Voice, sid: str, *, from_: str = ANN, account: str = "40021",
                  key: str = "2") -> Queued:
    """A caller rings our number, keys an account number and a reason, and is queued."""
    voice.twilio.inbound(sid, from_, OUR_NUMBER)
    answer = await webhook(voice, twiml.VOICE_PATH, call_form(sid, from_=from_))
    gather = answer.find("Gather")
    assert gather is not None and gather.get("input") == "dtmf" and gather.get("finishOnKey") == "#"
    answer = await webhook(voice, path_of(gather.get("action", "")),
                           call_form(sid, from_=from_, Digits=account))
    gather = answer.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    say = gather.find("Say")
    assert say is not None and "For a fault, press 2." in (say.text or "")
    answer = await webhook(voice, path_of(gather.get("action", "")), call_form(sid, from_=from_, Digits=key))
    enqueue = answer.find("Enqueue")
    assert enqueue is not None, ET.tostring(answer)
    found = await voice.center.services.context.find_interaction_by_ref("twilio_call_sid", sid)
    assert found is not None and found.state in (InteractionState.QUEUED, InteractionState.OFFERED)
    assert enqueue.text == found.channel_refs["twilio_queue"] == found.id
    wait = await webhook(voice, path_of(enqueue.get("waitUrl", "")), {
        "AccountSid": ACCOUNT_SID, "CallSid": sid, "QueueSid": "QU" + "1" * 32, "QueuePosition": "1",
        "QueueTime": "0", "AvgQueueTime": "0", "CurrentQueueSize": "1", "MaxQueueSize": "100"})
    play = wait.find("Play")
    assert play is not None and play.text and play.text.startswith("https://")
    return Queued(found.id, sid, path_of(enqueue.get("action", "")), path_of(enqueue.get("waitUrl", "")))


async def agent_callback(voice: Voice, created: Request, status: str, *, expect: int = 200) -> None:
    """Twilio's status callback for the call it placed to an agent."""
    call_sid = created.created_sid
    await webhook(voice, path_of(created.form["StatusCallback"]), {
        "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": call_sid, "CallStatus": status,
        "Direction": "outbound-api", "From": created.form["From"], "To": created.form["To"],
        "CallbackSource": "call-progress-events", "SequenceNumber": "0"}, expect=expect)


def check_agent_call(created: Request, queued: Queued, *, to: str, agent: str) -> None:
    form = created.form
    assert created.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert form["To"] == to
    assert form["From"] == (ANN if to.startswith("client:") else OUR_NUMBER)
    assert created.events == ["initiated", "ringing", "answered", "completed"]
    assert form["StatusCallbackMethod"] == "POST"
    assert form["Timeout"] == "19"  # within the 20 s offer
    callback = urlsplit(form["StatusCallback"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == PUBLIC_URL + twiml.AGENT_PATH
    query = parse_qs(callback.query)
    assert query["interaction"] == [queued.interaction_id] and query["agent"] == [agent]
    conference = ET.fromstring(form["Twiml"]).find("Dial/Conference")
    assert conference is not None and conference.text == queued.interaction_id
    assert conference.get("endConferenceOnExit") == "true"
    assert path_of(conference.get("statusCallback", "")) == (
        f"{twiml.CONFERENCE_PATH}?interaction={queued.interaction_id}")
    assert conference.get("record") == "record-from-start"
    assert path_of(conference.get("recordingStatusCallback", "")).startswith(twiml.RECORDING_PATH)


async def conference_event(voice: Voice, queued: Queued, event: str, call_sid: str = "", *,
                           expect: int = 200, **extra: str) -> None:
    """Twilio's status callback of the call's conference."""
    await webhook(voice, queued.conference_path, {
        "AccountSid": ACCOUNT_SID, "ConferenceSid": queued.conference_sid,
        "FriendlyName": queued.interaction_id,
        "StatusCallbackEvent": event, "SequenceNumber": queued.next_sequence(), "Timestamp":
        "Mon, 07 Dec 2026 15:00:00 +0000", **({"CallSid": call_sid} if call_sid else {}), **extra},
        expect=expect)


async def caller_moved(voice: Voice, queued: Queued, *, count: int = 1) -> Request:
    """The ``count``-th redirect of the caller into the conference (as the agent answers)."""
    async with asyncio.timeout(10):
        while True:
            moves = [u for u in voice.twilio.updates if u.call_sid == queued.call_sid
                     and "<Conference" in u.form.get("Twiml", "")]
            if len(moves) >= count:
                return moves[count - 1]
            voice.twilio.arrived.clear()
            await voice.twilio.arrived.wait()


def moves(twilio: FakeTwilioVoice) -> list[tuple[str, str]]:
    """Each call update as (CallSid, what it did): "conference", "queue" or the new Status."""
    return [(u.call_sid or "", "conference" if "<Conference" in u.form.get("Twiml", "")
             else "queue" if "<Enqueue" in u.form.get("Twiml", "") else u.form.get("Status", "?"))
            for u in twilio.updates]


async def in_conference(voice: Voice, queued: Queued, agent_call: str, *, move: int = 1) -> None:
    """Twilio runs the agent's and then the caller's <Dial><Conference>: both are in it."""
    moved = await caller_moved(voice, queued, count=move)
    dial = ET.fromstring(moved.form["Twiml"]).find("Dial")
    assert dial is not None
    conference = dial.find("Conference")
    assert conference is not None and conference.text == queued.interaction_id
    queued.done_path = path_of(dial.get("action", ""))
    queued.conference_path = path_of(conference.get("statusCallback", ""))
    queued.conference_sid = voice.twilio.join(queued.interaction_id, agent_call)
    await conference_event(voice, queued, "conference-start")
    await conference_event(voice, queued, "participant-join", agent_call)
    voice.twilio.join(queued.interaction_id, queued.call_sid)
    # The Enqueue's action: the caller was taken out of the Twilio queue by the redirect.
    left = await webhook(voice, queued.left_path, call_form(queued.call_sid, QueueResult="redirected"))
    assert len(left) == 0
    await conference_event(voice, queued, "participant-join", queued.call_sid)
    found = await voice.interaction(queued.interaction_id)
    assert found.channel_refs["twilio_conference_sid"] == queued.conference_sid


async def connected(voice: Voice, sid: str, *, agent: str = "alice") -> tuple[Queued, Request]:
    """A call queued, rung to ``agent`` (the only one available) and answered."""
    queued = await call_in(voice, sid)
    created = await voice.twilio.wait_for("created", len(voice.twilio.created) + 1)
    await agent_callback(voice, created, "ringing")
    await agent_callback(voice, created, "in-progress")
    found = await voice.state(queued.interaction_id, InteractionState.ACTIVE)
    assert found.agent_id == agent
    await in_conference(voice, queued, created.created_sid)
    return queued, created


# ----- the tests ----------------------------------------------------------------------------

async def test_one_call_from_ring_to_wrap_up(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        # The caller's number is a known customer: the call is theirs.
        ann = await voice.center.services.context.resolve_customer(
            [Identity(IdentityKind.PHONE, ANN)], display_name="Ann Lee", actor="test", reason="an sms")
        alice = await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "a" * 32, account="40021", key="2")

        offer = await alice.expect("interaction.offered")
        assert offer["interaction_id"] == queued.interaction_id
        pop = offer["screen_pop"]
        assert pop["interaction"]["channel"] == "voice"
        assert pop["interaction"]["customer_id"] == ann.id
        assert pop["context"] == {"ivr.account": "40021", "ivr.reason": "a fault", "voice.did": OUR_NUMBER}

        created = await twilio.wait_for("created", 1)
        check_agent_call(created, queued, to=ALICE_PHONE, agent="alice")
        await agent_callback(voice, created, "initiated")
        await agent_callback(voice, created, "ringing")
        ringing = await alice.expect(
            lambda m: m.get("type") == "call.updated" and m.get("what") == "ringing-agent")
        assert ringing["interaction_id"] == queued.interaction_id
        await agent_callback(voice, created, "in-progress")
        active = await voice.state(queued.interaction_id, InteractionState.ACTIVE)
        assert active.agent_id == "alice" and active.channel_refs["twilio_agent_call_sid"].startswith("CA")
        # Alice is in the call's conference: the caller is moved out of the Twilio queue into it.
        moved = await caller_moved(voice, queued)
        assert set(moved.form) == {"Twiml"}
        await in_conference(voice, queued, created.created_sid)

        # The two talk; the agent hangs up: the conference ends, the caller's <Dial> with it.
        await agent_callback(voice, created, "completed")
        ended = await voice.state(queued.interaction_id, InteractionState.WRAP_UP)
        assert not ended.customer_left
        await conference_event(voice, queued, "participant-leave", created.created_sid)
        await conference_event(voice, queued, "conference-end")
        answer = await webhook(voice, queued.done_path, call_form(queued.call_sid, DialCallStatus="completed",
                                                                   ConferenceSid=queued.conference_sid))
        assert answer.find("Hangup") is not None
        status, closed = await voice.center.api(
            "alice", "POST", f"/api/interactions/{queued.interaction_id}/complete",
            {"disposition": "resolved"})
        assert status == 200, closed
        assert closed["state"] == "closed"
        assert voice.count("interaction.accepted", queued.interaction_id) == 1
        assert voice.count("interaction.wrap_up", queued.interaction_id) == 1
        # One move of the caller; nothing to cancel or hang up: Twilio ended the calls itself.
        assert [u.call_sid for u in twilio.updates] == [queued.call_sid]
        assert not (await voice.interaction(queued.interaction_id)).customer_left


async def test_caller_abandons_while_waiting(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "b" * 32)
        created = await twilio.wait_for("created", 1)
        await agent_callback(voice, created, "ringing")

        # The caller hangs up while alice's phone rings: Twilio posts the Enqueue's action.
        answer = await webhook(voice, queued.left_path, call_form(queued.call_sid, QueueResult="hangup",
                                                                   QueueTime="9", CallStatus="completed"))
        assert len(answer) == 0
        gone = await voice.state(queued.interaction_id, InteractionState.ABANDONED)
        assert gone.customer_left
        # Alice's phone stops ringing.
        cancel = await twilio.wait_for("updates", 1)
        assert cancel.call_sid == created.created_sid
        assert cancel.form == {"Status": "canceled"}
        # The number's own status callback for the caller, and the agent leg's cancel, change nothing.
        await webhook(voice, twiml.STATUS_PATH, call_form(queued.call_sid, CallStatus="completed"))
        await agent_callback(voice, created, "canceled")
        await asyncio.sleep(0.1)
        assert (await voice.interaction(queued.interaction_id)).state is InteractionState.ABANDONED
        assert voice.count("interaction.abandoned", queued.interaction_id) == 1
        assert voice.count("interaction.offer_withdrawn", queued.interaction_id) == 0


async def test_caller_hangs_up_before_an_offer_by_status_callback(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        queued = await call_in(voice, "CA" + "c" * 32)  # nobody is available: it waits
        await webhook(voice, twiml.STATUS_PATH, call_form(queued.call_sid, CallStatus="completed"))
        await voice.state(queued.interaction_id, InteractionState.ABANDONED)
        assert twilio.requests == []


async def test_agent_no_answer_back_to_queue_with_wait_kept_then_another_agent(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "d" * 32)
        await alice.expect("interaction.offered")
        first = await twilio.wait_for("created", 1)
        check_agent_call(first, queued, to=ALICE_PHONE, agent="alice")
        before = await voice.interaction(queued.interaction_id)

        bob = await voice.center.agent_socket("bob")
        await agent_callback(voice, first, "ringing")
        await agent_callback(voice, first, "no-answer")
        withdrawn = await alice.expect("interaction.offer_withdrawn")
        assert withdrawn["why"] == "no-answer"

        # Offered to bob (alice is excluded), rung on his Twilio Client; the wait is the same.
        offer = await bob.expect("interaction.offered")
        assert offer["interaction_id"] == queued.interaction_id
        second = await twilio.wait_for("created", 2)
        check_agent_call(second, queued, to="client:bob", agent="bob")
        again = await voice.interaction(queued.interaction_id)
        assert again.queued_at == before.queued_at and again.arrived_at == before.arrived_at
        # A late callback of alice's leg does nothing to bob's offer.
        await agent_callback(voice, first, "completed")
        await agent_callback(voice, second, "in-progress")
        active = await voice.state(queued.interaction_id, InteractionState.ACTIVE)
        assert active.agent_id == "bob"
        # The caller moved to bob's conference; the unanswered leg had ended by itself.
        assert moves(twilio) == [(queued.call_sid, "conference")]


@pytest.mark.parametrize("busy", ["busy", "failed"])
async def test_agent_busy_or_failed_requeues(tmp_path: Path, twilio: FakeTwilioVoice, busy: str) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "e" * 32)
        created = await twilio.wait_for("created", 1)
        await agent_callback(voice, created, busy)
        withdrawn = await alice.expect("interaction.offer_withdrawn")
        assert withdrawn["interaction_id"] == queued.interaction_id and withdrawn["why"] == "no-answer"
        await voice.state(queued.interaction_id, InteractionState.QUEUED)


async def test_forged_or_missing_signature_is_refused_and_changes_nothing(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "f" * 32)
        created = await twilio.wait_for("created", 1)
        leg_query = urlsplit(created.form["StatusCallback"]).query
        agent_sid = created.created_sid
        attempts = [
            (twiml.VOICE_PATH, call_form("CA" + "9" * 32)),
            (twiml.REASON_PATH + "?account=1", call_form("CA" + "9" * 32, Digits="1")),
            (queued.left_path, call_form(queued.call_sid, QueueResult="hangup")),
            (twiml.STATUS_PATH, call_form(queued.call_sid, CallStatus="completed")),
            (f"{twiml.AGENT_PATH}?{leg_query}", {"CallSid": agent_sid, "CallStatus": "in-progress",
                                                  "AccountSid": ACCOUNT_SID}),
            (f"{twiml.RECORDING_PATH}?interaction={queued.interaction_id}", {
                "CallSid": agent_sid, "RecordingSid": "RE" + "1" * 32, "RecordingStatus": "completed",
                "RecordingUrl": "https://evil.example/x", "AccountSid": ACCOUNT_SID}),
        ]
        for path, form in attempts:
            for signature in (None, "bm90IGEgc2lnbmF0dXJl", sign(path, form, token="not-the-auth-token"),
                              sign(path, {**form, "CallSid": "CA" + "0" * 32})):
                status, _, body = await post_webhook(voice.center.http, voice.center.url, path, form,
                                                     signature=signature)
                assert status == 403, (path, signature, body)
        # Signed for the path without its query (what a proxy rewriting URLs would make of it).
        bare = {"CallSid": agent_sid, "CallStatus": "in-progress", "AccountSid": ACCOUNT_SID}
        status, _, _ = await post_webhook(voice.center.http, voice.center.url,
                                          f"{twiml.AGENT_PATH}?{leg_query}", bare,
                                          signature=sign(twiml.AGENT_PATH, bare))
        assert status == 403
        await asyncio.sleep(0.1)
        still = await voice.interaction(queued.interaction_id)
        assert still.state is InteractionState.OFFERED and "voice.recording" not in still.context
        assert await voice.center.services.context.find_interaction_by_ref(
            "twilio_call_sid", "CA" + "9" * 32) is None
        assert len(twilio.requests) == 1  # alice's call, nothing since


async def test_duplicate_status_callbacks_change_state_once(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "1" * 32)
        await agent_callback(voice, created, "in-progress")  # redelivered
        await agent_callback(voice, created, "completed")
        await voice.state(queued.interaction_id, InteractionState.WRAP_UP)
        await agent_callback(voice, created, "completed")  # redelivered
        for _ in range(2):  # the caller's <Dial> ends with the conference (redelivered)
            await webhook(voice, queued.done_path, call_form(queued.call_sid, DialCallStatus="completed"))
        await asyncio.sleep(0.1)
        assert voice.count("interaction.accepted", queued.interaction_id) == 1
        assert voice.count("interaction.wrap_up", queued.interaction_id) == 1
        assert sum(1 for e in voice.events if e.type == "call.updated"
                   and getattr(e, "what", "") == "ringing-agent") == 1
        assert not (await voice.interaction(queued.interaction_id)).customer_left


async def test_recording_callback_attaches_the_recording(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "2" * 32)
        dial = ET.fromstring(created.form["Twiml"]).find("Dial/Conference")
        assert dial is not None
        recording_path = path_of(dial.get("recordingStatusCallback", ""))
        url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'3' * 32}"
        form = {"AccountSid": ACCOUNT_SID, "CallSid": created.created_sid, "RecordingSid": "RE" + "3" * 32,
                "RecordingUrl": url, "RecordingStatus": "completed", "RecordingDuration": "42",
                "RecordingChannels": "2", "RecordingSource": "DialVerb", "RecordingStartTime":
                "Mon, 22 Aug 2011 12:00:00 +0000", "RecordingTrack": "both"}
        await webhook(voice, recording_path, form)
        await webhook(voice, recording_path, form)  # redelivered
        ready = await alice.expect(
            lambda m: m.get("type") == "call.updated" and m.get("what") == "recording-ready")
        assert ready["details"]["url"] == url
        found = await voice.interaction(queued.interaction_id)
        assert found.context["voice.recording"] == url
        assert found.context["voice.recording_sid"] == "RE" + "3" * 32
        assert found.context["voice.recording_seconds"] == "42"
        assert found.context["ivr.account"] == "40021"  # the collected context stays
        assert voice.count("call.updated", queued.interaction_id) == 2  # ringing-agent, recording-ready


async def test_desktop_hang_up(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "4" * 32)
        # Over the desktop API, as the agent's page does it.
        path = f"/api/interactions/{queued.interaction_id}/hangup"
        status, body = await voice.center.api("bob", "POST", path)
        assert (status, body["error_id"]) == (403, "not-your-interaction")
        status, body = await voice.center.api("alice", "POST", path)
        assert status == 202, body
        update = await twilio.wait_for("updates", 2)  # after the caller's move into the conference
        assert update.call_sid == queued.call_sid and update.form == {"Status": "completed"}
        assert update.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{queued.call_sid}.json"
        await voice.state(queued.interaction_id, InteractionState.WRAP_UP)
        # Twilio then reports the agent's leg ending: already in wrap-up, once.
        await agent_callback(voice, created, "completed")
        await webhook(voice, twiml.STATUS_PATH, call_form(queued.call_sid, CallStatus="completed"))
        await asyncio.sleep(0.1)
        assert voice.count("interaction.wrap_up", queued.interaction_id) == 1


async def test_desktop_transfer_to_a_queue(tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "5" * 32)
        bob = await voice.center.agent_socket("bob")
        # Alice takes no new calls after this one, so the router offers it to bob.
        ack = await alice.command({"type": "set_state", "state": "away"})
        assert ack["type"] == "ack", ack
        moved = await voice.adapter.transfer(queued.interaction_id, "alice", to_queue="sales",
                                             note="wants a quote")
        assert moved.queue == "sales"
        redirect = await twilio.wait_for("updates", 2)
        assert redirect.call_sid == queued.call_sid and set(redirect.form) == {"Twiml"}
        enqueue = ET.fromstring(redirect.form["Twiml"]).find("Enqueue")
        assert enqueue is not None and enqueue.text == queued.interaction_id
        assert path_of(enqueue.get("waitUrl", "")) == queued.wait_path
        # Alice's leg ends as the caller leaves it: not the end of the call.
        await agent_callback(voice, created, "completed")
        await conference_event(voice, queued, "conference-end")
        answer = await webhook(voice, queued.done_path,
                               call_form(queued.call_sid, DialCallStatus="completed"))
        assert len(answer) == 0  # no <Hangup/>: the caller waits in the queue again
        assert (await voice.interaction(queued.interaction_id)).channel_refs["twilio_conference_sid"] == ""

        offer = await bob.expect("interaction.offered")
        assert offer["interaction_id"] == queued.interaction_id
        second = await twilio.wait_for("created", 2)
        check_agent_call(second, queued, to="client:bob", agent="bob")
        await agent_callback(voice, second, "in-progress")
        active = await voice.state(queued.interaction_id, InteractionState.ACTIVE)
        assert active.agent_id == "bob" and active.queue == "sales"
        assert active.context["ivr.reason"] == "a fault"
        assert voice.count("interaction.wrap_up", queued.interaction_id) == 0
        # Bob's conference is a new one of the same name; the first one's end, redelivered late,
        # does not forget it.
        first_conference = queued.conference_sid
        twilio.end(queued.interaction_id)
        await in_conference(voice, queued, second.created_sid, move=2)
        assert queued.conference_sid != first_conference
        await conference_event(voice, replace(queued, conference_sid=first_conference), "conference-end")
        found = await voice.interaction(queued.interaction_id)
        assert found.channel_refs["twilio_conference_sid"] == queued.conference_sid
        # One redirect to the queue, not two; then into bob's conference.
        assert moves(twilio) == [(queued.call_sid, "conference"), (queued.call_sid, "queue"),
                                 (queued.call_sid, "conference")]


async def test_transfer_through_the_desktop_api_moves_the_caller(
        tmp_path: Path, twilio: FakeTwilioVoice) -> None:
    """The core's own transfer endpoint knows nothing of Twilio: the channel follows it."""
    async with voice_center(tmp_path, twilio) as voice:
        alice = await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "6" * 32)
        ack = await alice.command({"type": "set_state", "state": "away"})
        assert ack["type"] == "ack", ack
        status, body = await voice.center.api(
            "alice", "POST", f"/api/interactions/{queued.interaction_id}/transfer", {"queue": "sales"})
        assert status == 200, body
        redirect = await twilio.wait_for("updates", 2)
        assert redirect.call_sid == queued.call_sid
        enqueue = ET.fromstring(redirect.form["Twiml"]).find("Enqueue")
        assert enqueue is not None and enqueue.text == queued.interaction_id
        await agent_callback(voice, created, "completed")
        await asyncio.sleep(0.1)
        found = await voice.interaction(queued.interaction_id)
        assert found.state is InteractionState.QUEUED and found.queue == "sales"


@pytest.mark.integration
async def test_two_nodes_ring_the_agent_once_and_move_a_transferred_caller_once(
        tmp_path: Path, twilio: FakeTwilioVoice, cluster_node: Callable[[str], ServerSettings]) -> None:
    async with voice_center(tmp_path, twilio, cluster_node("node-a")) as a, \
            voice_center(tmp_path, twilio, cluster_node("node-b")) as b:
        alice = await b.center.agent_socket("alice")
        queued = await call_in(a, "CA" + "8" * 32)  # the caller's webhooks reach node a
        await alice.expect("interaction.offered")
        created = await twilio.wait_for("created", 1)
        await asyncio.sleep(0.5)  # both nodes have heard the offer by now
        assert len(twilio.created) == 1  # Alice's phone rings once, not once per node
        await agent_callback(b, created, "in-progress")  # and its callback may reach the other node
        await b.state(queued.interaction_id, InteractionState.ACTIVE)

        # The core's transfer on node b: one node follows it with one redirect of the caller.
        ack = await alice.command({"type": "set_state", "state": "away"})
        assert ack["type"] == "ack", ack
        status, body = await b.center.api(
            "alice", "POST", f"/api/interactions/{queued.interaction_id}/transfer", {"queue": "sales"})
        assert status == 200, body
        await twilio.wait_for("updates", 2)
        await asyncio.sleep(0.5)
        assert moves(twilio) == [(queued.call_sid, "conference"), (queued.call_sid, "queue")]

        # Bob takes it; then the adapter's own transfer on node a: still one redirect, not two.
        bob = await a.center.agent_socket("bob")
        await bob.expect("interaction.offered")
        second = await twilio.wait_for("created", 2)
        await agent_callback(a, second, "in-progress")
        await a.state(queued.interaction_id, InteractionState.ACTIVE)
        await a.adapter.transfer(queued.interaction_id, "bob", to_queue="support")
        await twilio.wait_for("updates", 4)
        await asyncio.sleep(0.5)
        assert moves(twilio) == [(queued.call_sid, "conference"), (queued.call_sid, "queue")] * 2
        # Back in the queue it is offered again: still one agent call per offer.
        assert len(twilio.created) == a.count("interaction.offered", queued.interaction_id)
        found = await a.interaction(queued.interaction_id)
        assert "twilio_moved" not in found.channel_refs or found.channel_refs["twilio_moved"] == ""


@pytest.mark.integration
async def test_a_ringing_agent_call_is_stopped_even_when_the_node_that_placed_it_is_gone(
        tmp_path: Path, twilio: FakeTwilioVoice, cluster_node: Callable[[str], ServerSettings]) -> None:
    first_run = voice_center(tmp_path, twilio, cluster_node("node-a"))
    a = await first_run.__aenter__()
    a_open = True
    try:
        async with voice_center(tmp_path, twilio, cluster_node("node-b")) as b:
            alice = await b.center.agent_socket("alice")
            queued = await call_in(a, "CA" + "9" * 32)  # queued and offered by node a, which rings
            await alice.expect("interaction.offered")
            created = await twilio.wait_for("created", 1)
            await agent_callback(b, created, "ringing")
            await first_run.__aexit__(None, None, None)
            a_open = False

            # Alice declines on the desktop (node b): her phone must stop ringing all the same.
            ack = await alice.command({"type": "reject", "interaction_id": queued.interaction_id})
            assert ack["type"] == "ack", ack
            cancel = await twilio.wait_for("updates", 1)
            assert (cancel.call_sid, cancel.form) == (created.created_sid, {"Status": "canceled"})
            await asyncio.sleep(0.5)
            assert len(twilio.updates) == 1  # once
    finally:
        if a_open:
            await first_run.__aexit__(None, None, None)


async def test_an_agents_number_changed_live_is_the_one_dialled(tmp_path: Path,
                                                                twilio: FakeTwilioVoice) -> None:
    from cti.config import with_live

    async with voice_center(tmp_path, twilio) as voice:
        live = voice.center.services.live
        document = dict(live.current.document)
        document["agents"] = [{**a, "endpoints": {"twilio": "+15550100009"}} if a["id"] == "alice" else a
                              for a in document["agents"]]
        await live.swap(with_live(live.current, document), version=live.version + 1)
        alice = await voice.center.agent_socket("alice")
        queued = await call_in(voice, "CA" + "c" * 32, account="40021", key="2")
        await alice.expect("interaction.offered")
        created = await twilio.wait_for("created", 1)
        check_agent_call(created, queued, to="+15550100009", agent="alice")
        await alice.close()


async def survey_gather(voice: Voice, queued: Queued) -> ET.Element:
    """The agent hung up: the conference ended under the caller, still on the line; their
    ``<Dial><Conference>`` action asks the survey."""
    assert queued.done_path, "the caller was never moved into the conference"
    answer = await webhook(voice, queued.done_path, call_form(queued.call_sid, DialCallStatus="completed"))
    gather = answer.find("Gather")
    assert gather is not None, ET.tostring(answer)
    assert (gather.get("input"), gather.get("numDigits")) == ("dtmf", "1")
    assert "1 to 5" in (gather.findtext("Say") or "")
    assert answer.find("Hangup") is not None  # no key: the call ends as before
    return gather


async def test_the_caller_rates_the_call_after_the_agent_hangs_up(tmp_path: Path,
                                                                  twilio: FakeTwilioVoice) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "c" * 32)
        await agent_callback(voice, created, "completed")
        gather = await survey_gather(voice, queued)
        action = path_of(gather.get("action", ""))
        assert action.startswith(twiml.SURVEY_PATH)

        # Unsigned, forged, or signed for other digits: refused, nothing recorded.
        form = call_form(queued.call_sid, Digits="1")
        for signature in (None, sign(action, form, token="not-the-auth-token"),
                          sign(action, {**form, "Digits": "5"})):
            status, _, _ = await post_webhook(voice.center.http, voice.center.url, action, form,
                                              signature=signature)
            assert status == 403
        thanks = await webhook(voice, action, call_form(queued.call_sid, Digits="4"))
        assert "Thank you" in (thanks.findtext("Say") or "") and thanks.find("Hangup") is not None
        log = await voice.center.services.context.event_log.of(queued.interaction_id)
        [entry] = [e for e in log if e.kind is EntryKind.SURVEY_ANSWERED]
        assert dict(entry.details) == {"rating": 4, "comment": None, "agent": "alice", "via": "gather"}
        # Twilio retrying the same request, or a second answer: still one.
        again = await webhook(voice, action, call_form(queued.call_sid, Digits="1"))
        assert again.find("Hangup") is not None
        log = await voice.center.services.context.event_log.of(queued.interaction_id)
        assert len([e for e in log if e.kind is EntryKind.SURVEY_ANSWERED]) == 1


@pytest.mark.parametrize("keyed", ["0", "6", "9", "*", ""])
async def test_a_survey_key_outside_one_to_five_records_nothing(tmp_path: Path, twilio: FakeTwilioVoice,
                                                                keyed: str) -> None:
    async with voice_center(tmp_path, twilio) as voice:
        await voice.center.agent_socket("alice")
        queued, created = await connected(voice, "CA" + "d" * 32)
        # The conference may end before the agent's call reports completed: still asked.
        gather = await survey_gather(voice, queued)
        action = path_of(gather.get("action", ""))
        answer = await webhook(voice, action, call_form(queued.call_sid, Digits=keyed))
        assert answer.find("Hangup") is not None
        log = await voice.center.services.context.event_log.of(queued.interaction_id)
        assert not [e for e in log if e.kind is EntryKind.SURVEY_ANSWERED]
        await agent_callback(voice, created, "completed")
        await voice.state(queued.interaction_id, InteractionState.WRAP_UP)
