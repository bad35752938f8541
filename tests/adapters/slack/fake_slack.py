"""Slack on loopback: the Web API the adapter calls, and the Events API deliveries it receives.

``FakeSlack`` answers ``chat.postMessage`` and ``users.info`` as Slack documents them (HTTP 200
with ``ok``, an ``error`` code when not ok, HTTP 429 with ``Retry-After`` when rate-limited),
after checking the bearer token and each call's fields; anything a real Slack would refuse is
also recorded in ``problems``, which every test expects to stay empty. The event helpers sign
bodies with the SDK's own ``SignatureVerifier``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier

TOKEN = "xoxb-test-0000-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_USER = "U0BOT0001"
BOT_ID = "B0BOT0001"
OUR_TEAM = "T0OURS001"
CUSTOMER_TEAM = "T0ACME001"


@dataclass
class FakeSlack:
    token: str = TOKEN
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # channel -> (HTTP status, body, headers) answered instead of posting
    post_errors: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    user_delay: float = 0.0
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_route("*", "/api/users.info", self._users_info)
        return app

    def _authorized(self, request: web.Request, method: str) -> bool:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.problems.append(f"{method}: missing or wrong bearer token")
            return False
        return True

    async def _post_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "chat.postMessage"):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if request.content_type == "application/json":
            args = await request.json()
        else:
            args = dict(await request.post())
        channel, text, thread_ts = args.get("channel"), args.get("text"), args.get("thread_ts")
        if not isinstance(channel, str) or not channel:
            self.problems.append("chat.postMessage without a channel")
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if not isinstance(text, str) or not text:
            self.problems.append("chat.postMessage without text")
            return web.json_response({"ok": False, "error": "no_text"})
        if thread_ts is not None and not isinstance(thread_ts, str):
            self.problems.append("chat.postMessage with a non-string thread_ts")
        if channel in self.post_errors:
            status, body, headers = self.post_errors[channel]
            self.posts.append({**args, "refused": body.get("error")})
            return web.json_response(body, status=status, headers=headers)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.posts.append({**args, "ts": ts})
        message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": text, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": message})

    async def _users_info(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "users.info"):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        form = await request.post() if request.method == "POST" else {}
        user = request.query.get("user") or form.get("user")
        if not isinstance(user, str) or not user:
            self.problems.append("users.info without a user")
            return web.json_response({"ok": False, "error": "user_not_found"})
        self.lookups.append(user)
        if self.user_delay:
            await asyncio.sleep(self.user_delay)
        profile = self.users.get(user)
        if profile is None:
            return web.json_response({"ok": False, "error": "user_not_found"})
        return web.json_response({"ok": True, "user": profile})


def slack_user(user_id: str, display_name: str, real_name: str, team: str = CUSTOMER_TEAM) -> dict[str, Any]:
    """A ``users.info`` user object, trimmed to what the adapter reads plus a few neighbours."""
    return {"id": user_id, "team_id": team, "name": real_name.lower().replace(" ", "."),
            "real_name": real_name, "is_bot": False, "deleted": False,
            "profile": {"display_name": display_name, "real_name": real_name,
                        "display_name_normalized": display_name, "real_name_normalized": real_name,
                        "team": team}}


@contextlib.asynccontextmanager
async def serve(fake: FakeSlack) -> AsyncIterator[str]:
    """Run ``fake`` on a free loopback port; yields its Web API base URL (``…/api/``)."""
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/api/"))
    finally:
        await server.close()


# ----- Events API deliveries ------------------------------------------------------------------

_event_ids = itertools.count(1)


def new_event_id() -> str:
    return f"Ev{next(_event_ids):08d}TEST"


def message_event(channel: str, user: str, text: str, ts: str, *, thread_ts: str | None = None,
                  event_id: str | None = None, team: str = CUSTOMER_TEAM,
                  **extra: Any) -> dict[str, Any]:
    """An ``event_callback`` envelope around a ``message`` event, as Slack posts it."""
    event: dict[str, Any] = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                             "event_ts": ts, "channel_type": "channel", "team": team, "user_team": team,
                             "source_team": team, **extra}
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return {"token": "legacy-verification-token", "team_id": OUR_TEAM, "api_app_id": "A0APP0001",
            "event": event, "type": "event_callback", "event_id": event_id or new_event_id(),
            "event_time": int(float(ts)), "is_ext_shared_channel": True,
            "authorizations": [{"enterprise_id": None, "team_id": OUR_TEAM, "user_id": BOT_USER,
                                "is_bot": True, "is_enterprise_install": False}],
            "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ"}


def url_verification(challenge: str) -> dict[str, Any]:
    return {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}


def body_of(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: float | None = None,
                   retry: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if timestamp is None else timestamp))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": signature}
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers
