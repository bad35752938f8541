"""Polling mode: read new mentions and DM events every ``poll_seconds``, within X's rate limits.

Mentions are read with ``since_id`` (the newest tweet id seen), all pages of them; DM events
have no ``since_id``, so pages are read newest first until one reaches the newest event seen.
The cursors are kept in the database (``cursors``) once events up to them are stored, so a
restart, or another node taking the polling over, goes on from there: mentions that arrived
meanwhile are read with ``since_id``, DMs back to the newest one seen. Only the very first poll
of an account reads just the newest page. ``deliver`` stores nothing twice either way: every
event's ref is its dedupe key.

A 429 or an exhausted window (``x-rate-limit-remaining: 0``) closes that endpoint until
``x-rate-limit-reset``; the other endpoint goes on. Other errors (X down, a 403 because the app
may not read DMs) close that endpoint too, for twice as long at each failure in a row, to a cap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from adapters.x.api import Page, RateLimited, XApi, XApiError
from adapters.x.config import XConfig
from adapters.x.events import XEvent, dms_from_v2, id_key, mentions_from_v2, oldest_first
from cti.clock import Clock

log = logging.getLogger(__name__)

MENTIONS = "mentions"
DMS = "dm_events"
MAX_PAGES = 10  # per endpoint per poll: a huge backlog is read over several polls, not at once
RESET_MARGIN = 1.0  # X's reset is whole seconds: wait past it, not onto it
MAX_RATE_WAIT = 15 * 60.0  # X's windows are 15 minutes; a reset further out is not believed
FALLBACK_RATE_WAIT = 60.0  # a 429 without a reset header

# Stores the events; False when any failed for a reason worth retrying (the cursor then stays).
Deliver = Callable[[Sequence[XEvent]], Awaitable[bool]]


class CursorStore(Protocol):
    async def cursor(self, name: str) -> str | None: ...
    async def set_cursor(self, name: str, value: str) -> None: ...


def rate_wait(reset_at: float | None, now: float) -> float:
    """How long to leave an endpoint alone after a 429 or an exhausted window (pure)."""
    if reset_at is None:
        return FALLBACK_RATE_WAIT
    return min(max(reset_at - now + RESET_MARGIN, RESET_MARGIN), MAX_RATE_WAIT)


def error_wait(failures: int, poll_seconds: float) -> float:
    """How long to leave an endpoint alone after ``failures`` errors in a row (pure)."""
    return min(poll_seconds * 2.0 ** min(failures, 20), MAX_RATE_WAIT)


def newest(current: str | None, events: Sequence[XEvent]) -> str | None:
    ids = [e.id for e in events] + ([current] if current else [])
    return max(ids, key=id_key) if ids else None


@dataclass
class PollState:
    mention_since: str | None = None  # since_id of the next mentions read
    dm_newest: str | None = None  # the newest DM event already read
    closed_until: dict[str, float] = field(default_factory=dict)  # endpoint -> epoch seconds
    failures: dict[str, int] = field(default_factory=dict)  # endpoint -> errors in a row


class Poller:
    def __init__(self, *, api: XApi, config: XConfig, clock: Clock, deliver: Deliver,
                 cursors: CursorStore | None = None) -> None:
        self._api = api
        self._config = config
        self._clock = clock
        self._deliver = deliver
        self._cursors = cursors
        self._loaded = False
        self.state = PollState()

    def _cursor_name(self, endpoint: str) -> str:
        return f"x:{self._config.account_user_id}:{endpoint}"

    async def _load_cursors(self) -> None:
        """Once per start (a node taking over starts again): where the last poller got to."""
        if self._loaded or self._cursors is None:
            return
        self.state.mention_since = await self._cursors.cursor(self._cursor_name(MENTIONS))
        self.state.dm_newest = await self._cursors.cursor(self._cursor_name(DMS))
        self._loaded = True

    async def _save_cursor(self, endpoint: str, before: str | None, after: str | None) -> None:
        if self._cursors is not None and after is not None and after != before:
            await self._cursors.set_cursor(self._cursor_name(endpoint), after)

    async def run(self) -> None:
        self._loaded = False  # (re)started, maybe after another node polled: read the cursors again
        while True:
            try:
                await self.poll_once()
            except Exception:  # a bug must not end polling for good
                log.exception("x poll failed")
            await asyncio.sleep(self.next_delay())

    def next_delay(self) -> float:
        """The poll interval, or longer when every endpoint is closed: until the first opens."""
        base = self._config.poll_seconds
        now = self._clock.now()
        waits = [until - now for until in self.state.closed_until.values() if until > now]
        if waits and len(waits) == len(self._endpoints()):
            return max(min(waits), base)
        return base

    def _endpoints(self) -> list[str]:
        return [MENTIONS, DMS] if self._config.poll_dms else [MENTIONS]

    async def poll_once(self) -> None:
        await self._load_cursors()
        for endpoint in self._endpoints():
            if self.state.closed_until.get(endpoint, 0.0) > self._clock.now():
                continue
            self.state.closed_until.pop(endpoint, None)
            try:
                if endpoint == MENTIONS:
                    await self._mentions()
                else:
                    await self._dms()
                self.state.failures.pop(endpoint, None)
            except RateLimited as exc:
                wait = rate_wait(exc.reset_at, self._clock.now())
                self.state.closed_until[endpoint] = self._clock.now() + wait
                log.info("x %s rate-limited: next read in %.0fs", endpoint, wait)
            except XApiError as exc:
                failures = self.state.failures[endpoint] = self.state.failures.get(endpoint, 0) + 1
                wait = error_wait(failures, self._config.poll_seconds)
                self.state.closed_until[endpoint] = self._clock.now() + wait
                log.warning("x %s read failed (%d in a row, next in %.0fs): %s", endpoint, failures,
                            wait, exc)

    def _note(self, endpoint: str, page: Page) -> None:
        if page.remaining == 0:  # the last call of the window: do not spend a request on a 429
            self.state.closed_until[endpoint] = self._clock.now() + rate_wait(page.reset_at,
                                                                              self._clock.now())

    async def _mentions(self) -> None:
        since = self.state.mention_since
        found: list[XEvent] = []
        token: str | None = None
        for _ in range(MAX_PAGES if since else 1):  # first read: the newest page only, no backlog
            page = await self._api.mentions(since_id=since, pagination_token=token,
                                            max_results=self._config.poll_page_size)
            self._note(MENTIONS, page)
            found.extend(mentions_from_v2(page.body))
            token = _next_token(page)
            if token is None or MENTIONS in self.state.closed_until:
                break
        # The cursor moves only past what was stored: a failed event is read again next poll.
        if not found or await self._deliver(oldest_first(found)):
            self.state.mention_since = newest(since, found) or since
            await self._save_cursor(MENTIONS, since, self.state.mention_since)

    async def _dms(self) -> None:
        seen = self.state.dm_newest
        found: list[XEvent] = []
        token: str | None = None
        for _ in range(MAX_PAGES if seen else 1):
            page = await self._api.dm_events(pagination_token=token, max_results=self._config.poll_page_size)
            self._note(DMS, page)
            events = dms_from_v2(page.body)
            fresh = [e for e in events if seen is None or id_key(e.id) > id_key(seen)]
            found.extend(fresh)
            token = _next_token(page)
            if token is None or len(fresh) < len(events) or DMS in self.state.closed_until:
                break
        if not found or await self._deliver(oldest_first(found)):
            self.state.dm_newest = newest(seen, found) or seen
            await self._save_cursor(DMS, seen, self.state.dm_newest)


def _next_token(page: Page) -> str | None:
    meta = page.body.get("meta")
    token = meta.get("next_token") if isinstance(meta, Mapping) else None
    return token if isinstance(token, str) and token else None
