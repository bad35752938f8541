"""A local HTTP server playing Twilio's REST API for the Calls resource.

It checks each request as Twilio would (method, path, HTTP basic auth with the account SID and
auth token, form encoding, the fields a call needs: ``To``, ``From``, exactly one of ``Url`` or
``Twiml``, a ``StatusCallback`` on our public URL with known ``StatusCallbackEvent`` values) and
answers with the JSON Twilio documents: the Call resource (201 on create, 200 on update) or an
error object (``code``, ``message``, ``more_info``, ``status``). Webhook signing is the SMS fake's.
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.adapters.sms.fake_twilio import PUBLIC_URL, FakeTwilioApi

CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
UPDATE_STATUSES = frozenset({"canceled", "completed"})


@dataclass
class Request:
    method: str
    path: str
    call_sid: str | None  # None: a create
    form: dict[str, str]
    events: list[str]  # the repeated StatusCallbackEvent fields
    created_sid: str = ""  # a create: the CallSid Twilio gave the new call


@dataclass
class FakeTwilioVoice(FakeTwilioApi):
    calls: dict[str, dict[str, str]] = field(default_factory=dict)  # CallSid -> To, From, Status
    requests: list[Request] = field(default_factory=list)  # every request Twilio accepted

    def inbound(self, sid: str, from_: str, to: str) -> None:
        """A call Twilio received (its webhook is what the test posts next)."""
        self.calls[sid] = {"To": to, "From": from_, "Status": "in-progress", "Direction": "inbound"}

    @property
    def created(self) -> list[Request]:
        return [r for r in self.requests if r.call_sid is None]

    @property
    def updates(self) -> list[Request]:
        return [r for r in self.requests if r.call_sid is not None]

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
