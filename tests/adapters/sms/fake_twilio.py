"""A local HTTP server playing Twilio's REST API for the Messages resource, and webhook signing.

It checks each request as Twilio would (path, HTTP basic auth with the account SID and auth
token, form-encoded To/From/Body) and answers with the JSON Twilio documents: the created
Message (201, with its ``sid``) or an error object (``code``, ``message``, ``more_info``, ``status``).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-" + "9" * 16
PUBLIC_URL = "https://cti.example.test"  # what Twilio would call: not the test server's own URL
OUR_NUMBER = "+15550001111"
SALES_NUMBER = "+15550002222"


@dataclass
class Refusal:
    status: int
    code: int
    message: str


@dataclass
class FakeTwilioApi:
    """What every fake Twilio REST resource shares: the local server, Twilio's error body, and
    the checks Twilio makes of every request (basic auth with the account, a form body)."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    problems: list[str] = field(default_factory=list)  # requests the real Twilio would refuse
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    _server: TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.url = str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message, "status": status,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status=status)

    def _refuse(self, problem: str, status: int, code: int, message: str) -> web.Response:
        self.problems.append(problem)
        return self._error(status, code, message)

    def _unauthenticated(self, request: web.Request) -> web.Response | None:
        """Twilio's answer to a request without the account's basic auth or a form body."""
        wanted = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != wanted:
            return self._refuse("bad basic auth", 401, 20003, "Authenticate")
        if request.content_type != "application/x-www-form-urlencoded":
            return self._refuse(f"content type {request.content_type}", 400, 20001, "Invalid content type")
        return None


@dataclass
class FakeTwilio(FakeTwilioApi):
    sent: list[dict[str, str]] = field(default_factory=list)  # the Messages Twilio accepted
    refuse: dict[str, Refusal] = field(default_factory=dict)  # by To number
    delay: float = 0.0  # seconds each Messages request takes (a slow Twilio)

    async def wait_sent(self, count: int, *, timeout: float = 10.0) -> dict[str, str]:
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.sent[count - 1]

    async def _handle(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != expected_path:
            return self._refuse(f"unexpected {request.method} {request.path}", 404, 20404,
                                "The requested resource was not found")
        refused = self._unauthenticated(request)
        if refused is not None:
            return refused
        form = {k: str(v) for k, v in (await request.post()).items()}
        missing = [k for k in ("To", "From", "Body") if not form.get(k)]
        if missing:
            self.problems.append(f"missing {missing}")
            return self._error(400, 21602, "Message body is required")
        refusal = self.refuse.get(form["To"])
        if refusal is not None:
            return self._error(refusal.status, refusal.code, refusal.message)
        sid = "SM" + secrets.token_hex(16)
        self.sent.append({**form, "Sid": sid})
        self.arrived.set()
        return web.json_response(message_resource(self.account_sid, sid, form), status=201)


def message_resource(account_sid: str, sid: str, form: Mapping[str, str]) -> dict[str, Any]:
    """A Message as Twilio's ``POST /Messages.json`` answers it."""
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"
    return {
        "account_sid": account_sid, "api_version": "2010-04-01", "body": form["Body"],
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000", "date_sent": None,
        "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000", "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": form["From"], "messaging_service_sid": None,
        "num_media": "0", "num_segments": "1", "price": None, "price_unit": None, "sid": sid,
        "status": "queued", "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": form["To"], "uri": uri,
    }


def sign(path: str, params: Mapping[str, str], *, token: str = AUTH_TOKEN,
         public_url: str = PUBLIC_URL) -> str:
    """The X-Twilio-Signature Twilio would send for a POST of ``params`` to ``public_url + path``."""
    return str(RequestValidator(token).compute_signature(public_url + path, dict(params)))


async def post_webhook(http: aiohttp.ClientSession, base_url: str, path: str, params: Mapping[str, str], *,
                       signature: str | None = "sign") -> tuple[int, str, str]:
    """POST a form as Twilio does; ``signature`` "sign" signs it properly, None sends no header."""
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = sign(path, params)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    async with http.post(base_url + path, data=dict(params), headers=headers) as r:
        return r.status, r.content_type, await r.text()


def inbound_sms(sid: str, from_: str, body: str, *, to: str = OUR_NUMBER, **extra: str) -> dict[str, str]:
    """The form of Twilio's incoming-message webhook."""
    return {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
            "FromZip": "", "SmsSid": sid, "FromState": "NY", "SmsStatus": "received", "FromCity": "",
            "Body": body, "FromCountry": "US", "To": to, "ToZip": "", "NumSegments": "1",
            "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": from_, "ApiVersion": "2010-04-01",
            **extra}


def sms_section(fake: FakeTwilio, **overrides: Any) -> dict[str, Any]:
    return {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL,
            "from_number": OUR_NUMBER, "api_base_url": fake.url, "timeout_seconds": 5, **overrides}
