"""Webhook mode: the Account Activity API's CRC challenge (GET) and event deliveries (POST).

A delivery whose signature does not match the body is refused with 403 before it is parsed.
Its events are then checked for age: the signature covers the body but no delivery time, so a
captured delivery could be played again later; events older than ``webhook_max_age`` are
dropped (403 when that leaves nothing), and one played again within the window is a duplicate
that ``deliver`` stores once. Any other failure answers 500, so X retries, harmlessly.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from adapters.x import signing
from adapters.x.config import XConfig
from adapters.x.events import XEvent, from_activity, oldest_first
from adapters.x.ingest import Outcome
from cti.clock import Clock
from cti.observe.metrics import count_webhook_refusal

log = logging.getLogger(__name__)

# X sends a short random token (base64url alphabet; documented only as "challenge_string").
# The CRC answer is HMAC(consumer secret, token), the very MAC that signs deliveries: signing
# anything longer or of another alphabet would sign a JSON body an attacker then posts as a
# delivery. A delivery is a JSON object, which cannot be written in this alphabet.
MAX_CRC_TOKEN = 64
_CRC_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CRC_TOKEN}}}={{0,2}}")


Ingest = Callable[[Sequence[XEvent]], Awaitable[Outcome]]


def fresh(events: Sequence[XEvent], *, now: float, max_age: float) -> list[XEvent]:
    """The events young enough to accept (pure); ``max_age`` 0 accepts any age."""
    if max_age <= 0:
        return list(events)
    return [e for e in events if e.created_at is None or now - e.created_at <= max_age]


class XWebhook:
    def __init__(self, *, config: XConfig, clock: Clock, ingest: Ingest) -> None:
        self._config = config
        self._clock = clock
        self._ingest = ingest

    def mount(self, app: web.Application) -> None:
        app.router.add_get(self._config.webhook_path, self.crc)
        app.router.add_post(self._config.webhook_path, self.deliveries)

    @property
    def _secret(self) -> str:
        return self._config.consumer_secret or ""  # the configuration requires it in webhook mode

    async def crc(self, request: web.Request) -> web.Response:
        token = request.query.get("crc_token", "")
        if not _CRC_TOKEN.fullmatch(token):
            count_webhook_refusal(request, "x", "bad-crc-token")
            log.warning("x webhook: crc_token of %d characters refused from %s", len(token), request.remote)
            return web.json_response(
                {"error_id": "bad-crc-token",
                 "message": f"crc_token must be 1 to {MAX_CRC_TOKEN} base64url characters"}, status=400)
        return web.json_response(signing.crc_response(self._secret, token))

    async def deliveries(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not signing.verify(self._secret, body, request.headers.get(signing.SIGNATURE_HEADER)):
            count_webhook_refusal(request, "x", "bad-signature")
            log.warning("x webhook: bad signature from %s, %d bytes refused", request.remote, len(body))
            return web.json_response({"error": "bad signature"}, status=403)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # a signature proves the sender, not a sane body
            payload = None
        if not isinstance(payload, dict):
            count_webhook_refusal(request, "x", "malformed-json")
            return web.json_response({"error": "malformed JSON"}, status=400)
        events = from_activity(payload, self._config.account_user_id)
        accepted = fresh(events, now=self._clock.now(), max_age=self._config.webhook_max_age)
        if events and not accepted:
            count_webhook_refusal(request, "x", "stale")
            log.warning("x webhook: %d stale event(s) refused", len(events))
            return web.json_response({"error": "stale events"}, status=403)
        outcome = await self._ingest(oldest_first(accepted))  # a reply after what it answers
        summary = {"stored": outcome.stored, "duplicates": outcome.duplicates,
                   "ignored": outcome.ignored + len(events) - len(accepted), "failed": outcome.failed}
        return web.json_response(summary, status=500 if outcome.failed else 200)
