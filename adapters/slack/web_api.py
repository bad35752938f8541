"""The two Web API calls we make, through the SDK's ``AsyncWebClient``.

``chat.postMessage`` carries an agent's reply into the customer's thread; ``users.info`` gives a
customer's display name for the screen pop. Failures become ``SlackSendError`` (a reply) or
no name (a lookup): a Slack outage must never take the server down. After a rate limit, the
channel is left alone for the ``Retry-After`` Slack asked for, failing replies at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.channel import SendFailed
from adapters.slack.cache import TtlCache
from adapters.slack.config import SlackConfig
from cti.clock import Clock

log = logging.getLogger(__name__)

NAME_TTL = 3600.0
NAME_FAILURE_TTL = 300.0  # a missing scope or unknown user: do not ask again for every message
NAME_TIMEOUT = 2.0  # a slow lookup must not hold up the customer's message
MAX_NAMES = 10_000
DEFAULT_RETRY_AFTER = 30.0  # when Slack rate-limits without saying for how long


class SlackSendError(SendFailed):
    """A reply did not reach Slack; ``code`` is Slack's error (``not_in_channel``, ``ratelimited``)."""

    def __init__(self, code: str, *, retry_after: float | None = None) -> None:
        wait = f", retry after {retry_after:.0f} s" if retry_after is not None else ""
        super().__init__(f"slack-{code}", f"slack refused the reply: {code}{wait}")
        self.code = code
        self.retry_after = retry_after


def pick_display_name(data: Mapping[str, Any]) -> str | None:
    """The name Slack shows for a ``users.info`` answer: display name, else real name, else handle."""
    user = data.get("user")
    if not isinstance(user, Mapping):
        return None
    profile = user.get("profile")
    profile = profile if isinstance(profile, Mapping) else {}
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"),
                  user.get("name")):
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    raw = (headers or {}).get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return DEFAULT_RETRY_AFTER


class SlackWebApi:
    def __init__(self, cfg: SlackConfig, clock: Clock) -> None:
        self._cfg = cfg
        self._clock = clock
        self._names: TtlCache[str, str | None] = TtlCache(clock, max_entries=MAX_NAMES)
        self._throttled_until: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    async def start(self) -> None:
        if self._session is None:
            # One pooled session instead of the SDK's session per call; its timeout is the one
            # that applies when a session is given.
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._cfg.timeout))
            self._client = AsyncWebClient(token=self._cfg.bot_token, base_url=self._cfg.api_base_url,
                                          session=self._session, timeout=int(self._cfg.timeout))

    async def aclose(self) -> None:
        session, self._session, self._client = self._session, None, None
        if session is not None:
            await session.close()

    def _api(self) -> AsyncWebClient:
        if self._client is None:
            raise SlackSendError("not-started")
        return self._client

    async def post_reply(self, *, channel: str, thread_ts: str, text: str) -> str:
        """Post ``text`` in the thread; returns the new message's ``ts``."""
        api = self._api()
        now = self._clock.now()
        until = self._throttled_until.get(channel)
        if until is not None:
            if now < until:
                raise SlackSendError("ratelimited", retry_after=until - now)
            del self._throttled_until[channel]
        try:
            response = await api.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            code, wait = _error_of(exc)
            if code == "ratelimited" or exc.response.status_code == 429:
                wait = DEFAULT_RETRY_AFTER if wait is None else wait
                self._throttled_until[channel] = now + wait
            raise SlackSendError(code, retry_after=wait) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackSendError(f"unreachable ({type(exc).__name__})") from exc
        ts = response.get("ts")
        if not isinstance(ts, str) or not ts:
            raise SlackSendError("no-ts-in-answer")
        return ts

    async def display_name(self, user: str) -> str | None:
        """The user's name as Slack shows it, or None when Slack cannot tell us now."""
        hit, cached = self._names.get(user)
        if hit:
            return cached
        try:
            async with asyncio.timeout(NAME_TIMEOUT):
                response = await self._api().users_info(user=user)
        except (SlackApiError, SlackSendError, aiohttp.ClientError, TimeoutError) as exc:
            why = _error_of(exc)[0] if isinstance(exc, SlackApiError) else type(exc).__name__
            log.info("slack users.info failed user=%s: %s", user, why)
            self._names.put(user, None, ttl=NAME_FAILURE_TTL)
            return None
        data = response.data if isinstance(response.data, Mapping) else {}
        name = pick_display_name(data)
        self._names.put(user, name, ttl=NAME_TTL)
        return name


def _error_of(exc: SlackApiError) -> tuple[str, float | None]:
    """Slack's error code (never the whole answer) and its ``Retry-After``, if any."""
    response = exc.response
    data = response.data if isinstance(response.data, Mapping) else {}
    code = data.get("error")
    code = code[:60] if isinstance(code, str) and code else f"http-{response.status_code}"
    return code, retry_after(response.headers)
