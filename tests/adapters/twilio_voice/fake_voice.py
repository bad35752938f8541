"""A local HTTP server playing Twilio's REST API for the Calls, a call's Recordings and conference
Participants resources.

It checks each request as Twilio would (method, path, HTTP basic auth with the account SID and
auth token, form encoding, the fields a call needs: ``To``, ``From``, exactly one of ``Url`` or
``Twiml``, a ``StatusCallback`` on our public URL with known ``StatusCallbackEvent`` values) and
answers with the JSON Twilio documents: the Call resource (201 on create, 200 on update) or an
error object (``code``, ``message``, ``more_info``, ``status``). Webhook signing is the SMS fake's.

Conferences: a call joins one when Twilio runs its ``<Dial><Conference>`` (the test says when,
``join``). A participant is created in a conference named by its SID or its friendly name
(``From``, ``To``, a ``StatusCallback`` on our URL, known events, ``Coaching`` only with a
``CallSidToCoach`` in that conference) and updated by the conference's SID only (the call must be
in it; ``Hold=true`` with a ``HoldUrl`` on our URL; ``Coaching`` as on create).

Recordings: created on a call in progress (an added call is "queued" until the test says it
answered, ``calls[sid]["Status"]``), with only Twilio's fields (``RecordingChannels``,
``RecordingTrack``, ``Trim``, a ``RecordingStatusCallback`` on our URL with known events), then
updated by the SID Twilio gave, on the same call, from one state to another it allows
(``in-progress`` <-> ``paused``, either -> ``stopped``; ``PauseBehavior`` only with ``paused``).
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.adapters.sms.fake_twilio import PUBLIC_URL, FakeTwilioApi

CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
UPDATE_STATUSES = frozenset({"canceled", "completed"})
RECORDING_EVENTS = frozenset({"in-progress", "completed", "absent"})
RECORDING_FIELDS = frozenset({"RecordingStatusCallback", "RecordingStatusCallbackMethod",
                              "RecordingStatusCallbackEvent", "Trim", "RecordingChannels", "RecordingTrack",
                              "RecordingConfigurationId"})
# A recording's status -> the statuses an update may give it.
RECORDING_MOVES = {"in-progress": frozenset({"paused", "stopped"}),
                   "paused": frozenset({"in-progress", "stopped"}), "stopped": frozenset()}
CONFERENCE_EVENTS = frozenset({"start", "end", "join", "leave", "mute", "hold", "modify", "speaker",
                               "announcement"})
BOOLEAN = frozenset({"true", "false"})
PARTICIPANT_UPDATES = frozenset({"Muted", "Hold", "HoldUrl", "HoldMethod", "AnnounceUrl", "AnnounceMethod",
                                 "WaitUrl", "WaitMethod", "BeepOnExit", "EndConferenceOnExit", "Coaching",
                                 "CallSidToCoach"})


@dataclass
class Request:
    method: str
    path: str
    call_sid: str | None  # None: a create (of a call, or of a participant: ``conference`` set)
    form: dict[str, str]
    events: list[str]  # the repeated StatusCallbackEvent fields
    created_sid: str = ""  # a create: the CallSid Twilio gave the new call
    conference: str = ""  # a participants request: the conference's SID (or name, on a create)
    recording: str = ""  # a recordings request: the Recording's SID (the new one, on a create)

    @property
    def is_participant(self) -> bool:
        return bool(self.conference)


@dataclass
class FakeTwilioVoice(FakeTwilioApi):
    calls: dict[str, dict[str, str]] = field(default_factory=dict)  # CallSid -> To, From, Status
    requests: list[Request] = field(default_factory=list)  # every request Twilio accepted
    conferences: dict[str, str] = field(default_factory=dict)  # friendly name -> ConferenceSid
    members: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # CF sid -> CallSid -> state
    recordings: dict[str, dict[str, str]] = field(default_factory=dict)  # RE sid -> CallSid, Status

    def inbound(self, sid: str, from_: str, to: str) -> None:
        """A call Twilio received (its webhook is what the test posts next)."""
        self.calls[sid] = {"To": to, "From": from_, "Status": "in-progress", "Direction": "inbound"}

    def join(self, name: str, call_sid: str) -> str:
        """Twilio ran the call's ``<Dial><Conference>name``: it is in the conference (made on
        first use); returns the ConferenceSid."""
        sid = self.conferences.setdefault(name, "CF" + secrets.token_hex(16))
        self.members.setdefault(sid, {})[call_sid] = {"hold": "false", "muted": "false", "coaching": "false"}
        return sid

    def end(self, name: str) -> None:
        """The conference ended: the name makes a new one next time."""
        self.members.pop(self.conferences.pop(name, ""), None)

    def leave(self, name: str, call_sid: str) -> None:
        self.members.get(self.conferences.get(name, ""), {}).pop(call_sid, None)

    def member(self, name: str, call_sid: str) -> dict[str, str] | None:
        return self.members.get(self.conferences.get(name, ""), {}).get(call_sid)

    @property
    def created(self) -> list[Request]:
        """Calls placed (``calls.create``)."""
        return [r for r in self.requests if r.call_sid is None and not r.is_participant and not r.recording]

    @property
    def updates(self) -> list[Request]:
        """Calls updated (``calls(sid).update``)."""
        return [r for r in self.requests if r.call_sid is not None and not r.is_participant
                and not r.recording]

    @property
    def recording_requests(self) -> list[Request]:
        """Recordings created or updated (``calls(sid).recordings…``)."""
        return [r for r in self.requests if r.recording]

    @property
    def participants(self) -> list[Request]:
        """Participants added to a conference or updated."""
        return [r for r in self.requests if r.is_participant]

    async def wait_for(self, what: str, count: int, *, timeout: float = 10.0) -> Request:
        """The ``count``-th create ("created") or update ("updates") Twilio accepted."""
        async with asyncio.timeout(timeout):
            while len(getattr(self, what)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        found: Request = getattr(self, what)[count - 1]
        return found

    async def _handle(self, request: web.Request) -> web.Response:
        base = f"/2010-04-01/Accounts/{self.account_sid}/Calls"
        conferences = f"/2010-04-01/Accounts/{self.account_sid}/Conferences/"
        path = request.path
        if request.method == "POST" and path.startswith(conferences) and path.endswith(".json"):
            return await self._participants(request, path[len(conferences):-len(".json")].split("/"))
        if request.method != "POST" or not (request.path.startswith(base) and request.path.endswith(".json")):
            return self._refuse(f"unexpected {request.method} {request.path}", 404, 20404,
                                "The requested resource was not found")
        refused = self._unauthenticated(request)
        if refused is not None:
            return refused
        posted = await request.post()
        form = {k: str(v) for k, v in posted.items()}
        events = [str(v) for v in posted.getall("StatusCallbackEvent", [])]
        middle = request.path[len(base):-len(".json")]
        if middle == "":
            return self._create(request.path, form, events)
        sid = middle.lstrip("/")
        parts = sid.split("/")
        if middle.startswith("/") and len(parts) in (2, 3) and parts[1] == "Recordings":
            return self._recording(request.path, parts[0], parts[2] if len(parts) == 3 else "", form, posted)
        if not middle.startswith("/") or "/" in sid:
            return self._refuse(f"unexpected path {request.path}", 404, 20404, "Not found")
        return self._update(request.path, sid, form, events)

    def _twiml_ok(self, form: Mapping[str, str]) -> str | None:
        if "Twiml" not in form:
            return None
        try:
            root = ET.fromstring(form["Twiml"])
        except ET.ParseError:
            return "Twiml is not XML"
        return None if root.tag == "Response" else "Twiml's root is not <Response>"

    def _create(self, path: str, form: dict[str, str], events: list[str]) -> web.Response:
        missing = [k for k in ("To", "From") if not form.get(k)]
        if missing:
            return self._refuse(f"missing {missing}", 400, 21201, "No 'To' number is specified")
        if ("Url" in form) == ("Twiml" in form):
            return self._refuse("give exactly one of Url and Twiml", 400, 21205, "Url parameter is required")
        bad = self._twiml_ok(form)
        if bad:
            return self._refuse(bad, 400, 12100, "Document parse failure")
        callback = form.get("StatusCallback", "")
        if not callback.startswith(PUBLIC_URL + "/"):
            self.problems.append(f"status callback not on our public URL: {callback!r}")
        if form.get("StatusCallbackMethod", "POST") != "POST":
            self.problems.append("status callback method")
        if not set(events) <= CALL_EVENTS:
            return self._refuse(f"events {events}", 400, 21626, "Invalid StatusCallbackEvent")
        timeout = form.get("Timeout", "60")
        if not timeout.isdigit() or not 1 <= int(timeout) <= 600:
            return self._refuse(f"timeout {timeout}", 400, 21216, "Invalid Timeout")
        sid = "CA" + secrets.token_hex(16)
        self.calls[sid] = {"To": form["To"], "From": form["From"], "Status": "queued",
                           "Direction": "outbound-api"}
        self.requests.append(Request("POST", path, None, form, events, created_sid=sid))
        self.arrived.set()
        return web.json_response(call_resource(self.account_sid, sid, self.calls[sid]), status=201)

    def _update(self, path: str, sid: str, form: dict[str, str], events: list[str]) -> web.Response:
        call = self.calls.get(sid)
        if call is None:
            return self._refuse(f"unknown call {sid}", 404, 20404, "The requested resource was not found")
        status = form.get("Status")
        if status is not None and status not in UPDATE_STATUSES:
            return self._refuse(f"status {status}", 400, 21218, "Invalid value for Status")
        if status is None and not ("Url" in form or "Twiml" in form):
            return self._refuse("nothing to update", 400, 21205, "Url parameter is required")
        bad = self._twiml_ok(form)
        if bad:
            return self._refuse(bad, 400, 12100, "Document parse failure")
        if status is not None:
            call["Status"] = status
        self.requests.append(Request("POST", path, sid, form, events))
        self.arrived.set()
        return web.json_response(call_resource(self.account_sid, sid, call), status=200)

    def _recording(self, path: str, call_sid: str, recording_sid: str, form: dict[str, str],
                   posted: Any) -> web.Response:
        call = self.calls.get(call_sid)
        if call is None:
            return self._refuse(f"unknown call {call_sid}", 404, 20404, "Not found")
        if call["Status"] != "in-progress":  # ringing, or over
            return self._refuse(f"recording a call {call['Status']} {call_sid}", 400, 21220,
                                "Invalid call state")
        if not recording_sid:
            return self._start_recording(path, call_sid, form, posted)
        recording = self.recordings.get(recording_sid)
        if recording is None or recording["CallSid"] != call_sid:
            return self._refuse(f"unknown recording {recording_sid} of {call_sid}", 404, 20404, "Not found")
        status = form.get("Status", "")
        if not set(form) <= {"Status", "PauseBehavior"} or status not in RECORDING_MOVES:
            return self._refuse(f"recording update {form}", 400, 21218, "Invalid parameter")
        behaviour = form.get("PauseBehavior")
        if behaviour is not None and (status != "paused" or behaviour not in ("skip", "silence")):
            return self._refuse(f"PauseBehavior {form['PauseBehavior']!r} with {status}", 400, 21218,
                                "Invalid parameter")
        if status not in RECORDING_MOVES[recording["Status"]]:
            return self._refuse(f"recording {recording['Status']} -> {status}", 400, 21220, "Invalid state")
        recording["Status"] = status
        self.requests.append(Request("POST", path, call_sid, form, [], recording=recording_sid))
        self.arrived.set()
        return web.json_response(recording_resource(self.account_sid, recording_sid, recording))

    def _start_recording(self, path: str, call_sid: str, form: dict[str, str], posted: Any) -> web.Response:
        if not set(form) <= RECORDING_FIELDS:
            return self._refuse(f"recording fields {sorted(form)}", 400, 21218, "Invalid parameter")
        events = [str(v) for v in posted.getall("RecordingStatusCallbackEvent", [])]
        callback = form.get("RecordingStatusCallback", "")
        if callback and not callback.startswith(PUBLIC_URL + "/"):
            self.problems.append(f"recording callback not on our public URL: {callback!r}")
        if form.get("RecordingStatusCallbackMethod", "POST") != "POST" or not set(events) <= RECORDING_EVENTS:
            return self._refuse(f"recording callback {form} {events}", 400, 21626, "Invalid parameter")
        for key, allowed in (("RecordingChannels", ("mono", "dual")),
                             ("RecordingTrack", ("inbound", "outbound", "both")),
                             ("Trim", ("trim-silence", "do-not-trim"))):
            if key in form and form[key] not in allowed:
                return self._refuse(f"{key}={form[key]!r}", 400, 21218, "Invalid parameter")
        if any(r["CallSid"] == call_sid and r["Status"] != "stopped" for r in self.recordings.values()):
            self.problems.append(f"a second recording of {call_sid} while one runs")
        sid = "RE" + secrets.token_hex(16)
        self.recordings[sid] = {"CallSid": call_sid, "Status": "in-progress",
                                "Channels": "2" if form.get("RecordingChannels") == "dual" else "1",
                                "Track": form.get("RecordingTrack", "both")}
        self.requests.append(Request("POST", path, call_sid, form, events, recording=sid))
        self.arrived.set()
        return web.json_response(recording_resource(self.account_sid, sid, self.recordings[sid]), status=201)

    async def _participants(self, request: web.Request, parts: list[str]) -> web.Response:
        refused = self._unauthenticated(request)
        if refused is not None:
            return refused
        if len(parts) not in (2, 3) or parts[1] != "Participants" or not parts[0]:
            return self._refuse(f"unexpected path {request.path}", 404, 20404, "Not found")
        posted = await request.post()
        form = {k: str(v) for k, v in posted.items()}
        events = [str(v) for v in posted.getall("StatusCallbackEvent", [])]
        problem = self._participant_fields(form)
        if problem:
            return self._refuse(problem, 400, 21218, "Invalid parameter")
        if len(parts) == 2:
            return self._add(request.path, parts[0], form, events)
        conference, call_sid = parts[0], parts[2]
        if not conference.startswith("CF"):
            return self._refuse(f"participant update by name {conference}", 404, 20404, "Not found")
        member = self.members.get(conference, {}).get(call_sid)
        if member is None:
            return self._refuse(f"{call_sid} is not in {conference}", 404, 20404, "Not found")
        if not form or not set(form) <= PARTICIPANT_UPDATES:
            return self._refuse(f"participant update fields {sorted(form)}", 400, 21218, "Invalid parameter")
        coached = self._coached(conference, form)
        if coached:
            return self._refuse(coached, 400, 21218, "Invalid CallSidToCoach")
        for key in ("Hold", "Muted", "Coaching"):
            if key in form:
                member[key.lower()] = form[key]
        self.requests.append(Request("POST", request.path, call_sid, form, events, conference=conference))
        self.arrived.set()
        return web.json_response(participant_resource(self.account_sid, conference, call_sid, member))

    def _participant_fields(self, form: Mapping[str, str]) -> str | None:
        for key in ("Muted", "Hold", "Coaching", "EndConferenceOnExit", "StartConferenceOnEnter",
                    "EarlyMedia", "BeepOnExit"):
            if key in form and form[key] not in BOOLEAN:
                return f"{key}={form[key]!r} is not a boolean"
        if form.get("Hold") == "true" and not form.get("HoldUrl", "").startswith(PUBLIC_URL + "/"):
            return f"hold audio not on our public URL: {form.get('HoldUrl')!r}"
        for key in ("StatusCallback", "ConferenceStatusCallback"):
            if key in form and not form[key].startswith(PUBLIC_URL + "/"):
                return f"{key} not on our public URL: {form[key]!r}"
        return None

    def _coached(self, conference: str, form: Mapping[str, str]) -> str | None:
        if form.get("Coaching") != "true":
            return "CallSidToCoach without Coaching" if "CallSidToCoach" in form else None
        coach = form.get("CallSidToCoach", "")
        if coach not in self.members.get(conference, {}):
            return f"coaching a call not in the conference: {coach!r}"
        return None

    def _add(self, path: str, conference: str, form: dict[str, str], events: list[str]) -> web.Response:
        missing = [k for k in ("To", "From", "StatusCallback") if not form.get(k)]
        if missing:
            return self._refuse(f"participant missing {missing}", 400, 21201, "Missing parameter")
        if not set(events) <= CALL_EVENTS:
            return self._refuse(f"participant events {events}", 400, 21626, "Invalid StatusCallbackEvent")
        conference_events = set(form.get("ConferenceStatusCallbackEvent", "").split()) or set()
        if not conference_events <= CONFERENCE_EVENTS:
            return self._refuse(f"conference events {conference_events}", 400, 21626, "Invalid event")
        timeout = form.get("Timeout", "60")
        if not timeout.isdigit() or not 5 <= int(timeout) <= 600:
            return self._refuse(f"participant timeout {timeout}", 400, 21216, "Invalid Timeout")
        sid = conference if conference.startswith("CF") else self.conferences.get(conference)
        if conference.startswith("CF") and sid not in self.members:
            return self._refuse(f"unknown conference {conference}", 404, 20404, "Not found")
        coached = self._coached(sid or "", form)
        if coached:
            return self._refuse(coached, 400, 21218, "Invalid CallSidToCoach")
        call_sid = "CA" + secrets.token_hex(16)
        self.calls[call_sid] = {"To": form["To"], "From": form["From"], "Status": "queued",
                                "Direction": "outbound-api"}
        # Twilio makes the conference of a name on first use; the call is in it from now (ringing).
        sid = self.join(conference, call_sid) if not conference.startswith("CF") else conference
        member = self.members[sid].setdefault(call_sid, {})
        member.update({"hold": "false", "muted": form.get("Muted", "false"),
                       "coaching": form.get("Coaching", "false")})
        self.requests.append(Request("POST", path, None, form, events, created_sid=call_sid,
                                     conference=conference))
        self.arrived.set()
        return web.json_response(participant_resource(self.account_sid, sid, call_sid, member), status=201)


def participant_resource(account_sid: str, conference_sid: str, call_sid: str,
                         member: Mapping[str, str]) -> dict[str, Any]:
    """A Participant as Twilio's ``POST …/Participants.json`` and ``…/Participants/{CallSid}.json``
    answer it."""
    return {
        "account_sid": account_sid, "call_sid": call_sid, "label": None, "call_sid_ending_conference": None,
        "coaching": member.get("coaching") == "true", "conference_sid": conference_sid,
        "date_created": "Fri, 18 Feb 2011 21:07:19 +0000", "date_updated": "Fri, 18 Feb 2011 21:07:19 +0000",
        "end_conference_on_exit": False, "muted": member.get("muted") == "true",
        "hold": member.get("hold") == "true", "start_conference_on_enter": True, "status": "queued",
        "queue_time": "0",
        "uri": (f"/2010-04-01/Accounts/{account_sid}/Conferences/{conference_sid}"
                f"/Participants/{call_sid}.json"),
    }


def recording_resource(account_sid: str, sid: str, recording: Mapping[str, str]) -> dict[str, Any]:
    """A call's Recording as ``POST …/Calls/{CallSid}/Recordings.json`` and
    ``…/Recordings/{Sid}.json`` answer it."""
    call_sid = recording["CallSid"]
    return {
        "account_sid": account_sid, "api_version": "2010-04-01", "call_sid": call_sid,
        "conference_sid": None, "date_created": "Mon, 07 Dec 2026 15:00:00 +0000",
        "date_updated": "Mon, 07 Dec 2026 15:00:00 +0000", "start_time": "Mon, 07 Dec 2026 15:00:00 +0000",
        "duration": "-1", "sid": sid, "price": None, "price_unit": "USD", "status": recording["Status"],
        "channels": int(recording["Channels"]), "source": "StartCallRecordingAPI", "error_code": None,
        "track": recording["Track"], "encryption_details": None,
        "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}/Recordings/{sid}.json",
    }


def call_resource(account_sid: str, sid: str, call: Mapping[str, str]) -> dict[str, Any]:
    """A Call as Twilio's ``POST /Calls.json`` and ``POST /Calls/{Sid}.json`` answer it."""
    uri = f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}.json"
    return {
        "sid": sid, "account_sid": account_sid, "api_version": "2010-04-01", "annotation": None,
        "answered_by": None, "caller_name": None, "date_created": "Tue, 31 Aug 2010 20:36:28 +0000",
        "date_updated": "Tue, 31 Aug 2010 20:36:44 +0000", "direction": call["Direction"],
        "duration": None, "end_time": None, "forwarded_from": None, "from": call["From"],
        "from_formatted": call["From"], "group_sid": None, "parent_call_sid": None,
        "phone_number_sid": None, "price": None, "price_unit": "USD", "queue_time": "0",
        "start_time": None, "status": call["Status"], "to": call["To"], "to_formatted": call["To"],
        "trunk_sid": None, "uri": uri,
        "subresource_uris": {"notifications": uri.replace(".json", "/Notifications.json"),
                             "recordings": uri.replace(".json", "/Recordings.json")},
    }


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilioVoice]:
    """The local fake Twilio API, started for one test (the voice tests' fixture, shared)."""
    fake = FakeTwilioVoice()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
