"""``POST /webhooks/slack/events``: checked, answered within Slack's three seconds, stored once.

Every request is checked against the signing secret before its body is even parsed (the URL
verification too). A customer's message is stored in a task: the request waits for it up to
``ack_budget`` seconds, so a normal delivery is stored before Slack hears "200", and a slow
one is acknowledged anyway, before Slack's three-second timeout would make it deliver again.
An ``event_id`` is claimed when first accepted, so a retry that arrives while the first
delivery is still being stored is acknowledged and dropped; if storing fails the claim is
released and the request answers 500, so Slack's next retry gets a fresh chance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from adapters.slack.cache import RecentEvents
from adapters.slack.config import SlackConfig
from adapters.slack.payloads import (
    CustomerPost,
    EventCallback,
    Ignored,
    OtherEnvelope,
    PayloadError,
    UrlVerification,
    classify,
    parse_envelope,
    retry_of,
)
from adapters.slack.signature import make_verifier, refusal
from cti.clock import Clock
from cti.observe.metrics import count_webhook_refusal

log = logging.getLogger(__name__)

EVENTS_PATH = "/webhooks/slack/events"
ACK_BUDGET = 2.0  # seconds; Slack gives up after three and delivers again
CLOSE_GRACE = 5.0
# The server's 64 KiB request limit is for the desktop API; a Slack message may hold 40,000
# characters, sent twice (text and blocks), so an event can be well over it. Refusing it would
# only make Slack retry it into the same wall; it is stored cut to the server's message limit.
MAX_EVENT_BODY = 1024 * 1024

Process = Callable[[CustomerPost], Coroutine[Any, Any, None]]


class EventsEndpoint:
    def __init__(self, cfg: SlackConfig, clock: Clock, process: Process, *,
                 ack_budget: float = ACK_BUDGET, recent: RecentEvents | None = None) -> None:
        self._cfg = cfg
        self._verifier = make_verifier(cfg.signing_secret, clock)
        self._process = process
        self._ack_budget = ack_budget
        self._recent = recent or RecentEvents(clock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def mount(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if self._closing:
            return _error(503, "shutting-down")  # Slack retries later, on a node that is up
        body = await request.clone(client_max_size=MAX_EVENT_BODY).read()
        why = refusal(self._verifier, body, request.headers)
        if why is not None:
            count_webhook_refusal(request, "slack", "bad-signature")
            log.warning("slack event refused: %s (from %s)", why, request.remote)
            return _error(401, "invalid-signature")
        try:
            envelope = parse_envelope(body)
        except PayloadError as exc:
            count_webhook_refusal(request, "slack", "bad-payload")
            log.warning("slack event unreadable: %s", exc)
            return _error(400, "bad-payload")
        if isinstance(envelope, OtherEnvelope):
            log.info("slack envelope %s acknowledged", envelope.type)
            return web.Response(status=200)
        if isinstance(envelope, UrlVerification):
            return web.json_response({"challenge": envelope.challenge})
        return await self._event(envelope, retry_of(request.headers))

    async def _event(self, callback: EventCallback, retry: tuple[int, str] | None) -> web.Response:
        if retry is not None:
            log.info("slack redelivery event=%s num=%d reason=%s", callback.event_id, *retry)
        outcome = classify(callback, self._cfg)
        if isinstance(outcome, Ignored):
            log.debug("slack event=%s ignored: %s", callback.event_id, outcome.reason)
            return web.Response(status=200)
        if not self._recent.claim(callback.event_id):
            log.info("slack event=%s already accepted", callback.event_id)
            return web.Response(status=200)
        task = asyncio.create_task(self._process(outcome), name=f"slack-event-{callback.event_id}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, callback.event_id))
        done, _ = await asyncio.wait({task}, timeout=self._ack_budget)
        if task in done and (task.cancelled() or task.exception() is not None):
            return _error(500, "not-stored")
        return web.Response(status=200)

    def _finished(self, task: asyncio.Task[None], event_id: str) -> None:
        self._tasks.discard(task)
        failure = None if task.cancelled() else task.exception()
        if task.cancelled() or failure is not None:
            self._recent.release(event_id)
        if failure is not None:
            log.error("slack event=%s not stored: %s", event_id, type(failure).__name__,
                      exc_info=failure)

    async def aclose(self, grace: float = CLOSE_GRACE) -> None:
        """Refuse new deliveries, let the ones in hand finish (briefly), cancel the rest."""
        self._closing = True
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            # Those already acknowledged are lost: Slack will not deliver them again.
            log.warning("slack: %d event(s) still being stored were cancelled at shutdown", len(late))


def _error(status: int, error_id: str) -> web.Response:
    return web.json_response({"error": error_id}, status=status)
