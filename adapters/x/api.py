"""The X API v2 calls the channel makes, through tweepy's ``Client``.

tweepy's ``Client`` is synchronous (``tweepy.asynchronous`` needs ``async_lru``, which the project
does not install), so each call runs in a worker thread. Two clients, one for the poller and one
for replies, because a ``requests.Session`` must not serve two threads at once.

tweepy builds every URL from ``https://api.twitter.com``; ``api_base_url`` (a local fake in the
tests, or ``https://api.x.com``) is honoured by a ``requests.Session`` that rewrites that prefix
before the request is prepared, so the OAuth 1.0a signature covers the URL actually called.
Responses are asked for raw (``return_type=requests.Response``) to read the rate-limit headers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import tweepy

from adapters.x.config import DEFAULT_API_BASE_URL, XConfig

log = logging.getLogger(__name__)

TWEET_FIELDS = ["id", "text", "author_id", "conversation_id", "created_at", "referenced_tweets",
                "in_reply_to_user_id"]
DM_EVENT_FIELDS = ["id", "text", "event_type", "dm_conversation_id", "sender_id", "created_at"]
USER_FIELDS = ["username", "name"]


class XApiError(Exception):
    """X answered with an error, or could not be reached (``status`` None)."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"{status or 'no answer'}: {message}")
        self.status = status
        self.message = message


class RateLimited(XApiError):
    """429: nothing more on this endpoint until ``reset_at`` (epoch seconds; None if X did not say)."""

    def __init__(self, message: str, reset_at: float | None) -> None:
        super().__init__(429, message)
        self.reset_at = reset_at


class XForbidden(XApiError):
    """403: X will not do it (the user does not accept our DMs, replies are restricted…)."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message)


@dataclass(frozen=True, slots=True)
class Page:
    body: Mapping[str, Any]
    remaining: int | None  # x-rate-limit-remaining: calls left in this window
    reset_at: float | None  # x-rate-limit-reset: when the window starts again (epoch seconds)


class _Redact(logging.Filter):
    """tweepy logs its request headers at DEBUG, bearer token included: never let it through."""

    _AUTH = re.compile(r"(Bearer|OAuth)\s+[^'\",}\s]+(?:,\s*oauth_\w+=\"[^\"]*\")*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and ("Bearer" in record.msg or "OAuth" in record.msg):
            record.msg = self._AUTH.sub(r"\1 [redacted]", record.msg)
        return True


_REDACT = _Redact()
logging.getLogger("tweepy.client").addFilter(_REDACT)


class _Rehosted(requests.Session):
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self._base_url = base_url
        self._timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, str) and url.startswith(DEFAULT_API_BASE_URL):
            url = self._base_url + url[len(DEFAULT_API_BASE_URL):]
        kwargs.setdefault("timeout", self._timeout)  # tweepy sets none: a stalled X would hang us
        return super().request(method, url, *args, **kwargs)


def _header_number(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    return int(value) if value is not None and value.strip().isdigit() else None


def _why(exc: tweepy.HTTPException) -> str:
    messages = [str(m) for m in exc.api_messages if m]
    return "; ".join(messages)[:300] or str(getattr(exc.response, "status_code", "error"))


class XApi:
    def __init__(self, config: XConfig) -> None:
        self._config = config
        self._reader: Any = self._client()
        self._writer: Any = self._client()

    def _client(self) -> Any:
        c = self._config
        client = tweepy.Client(
            bearer_token=c.bearer_token, consumer_key=c.consumer_key, consumer_secret=c.consumer_secret,
            access_token=c.access_token, access_token_secret=c.access_token_secret,
            return_type=requests.Response, wait_on_rate_limit=False)  # we wait, without a thread asleep
        client.session = _Rehosted(c.api_base_url, c.request_timeout)
        return client

    def close(self) -> None:
        self._reader.session.close()
        self._writer.session.close()

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> requests.Response:
        try:
            response: requests.Response = await asyncio.to_thread(fn, *args, **kwargs)
        except tweepy.TooManyRequests as exc:
            reset = getattr(exc, "reset_time", None)
            raise RateLimited(_why(exc), float(reset) if reset is not None else None) from exc
        except tweepy.Forbidden as exc:
            raise XForbidden(_why(exc)) from exc
        except tweepy.HTTPException as exc:
            raise XApiError(getattr(exc.response, "status_code", None), _why(exc)) from exc
        except requests.RequestException as exc:
            raise XApiError(None, type(exc).__name__) from exc
        return response

    @staticmethod
    def _page(response: requests.Response) -> Page:
        try:
            body = response.json()
        except ValueError as exc:
            raise XApiError(response.status_code, "the answer is not JSON") from exc
        if not isinstance(body, Mapping):
            raise XApiError(response.status_code, "the answer is not a JSON object")
        reset = _header_number(response.headers, "x-rate-limit-reset")
        return Page(body=body, remaining=_header_number(response.headers, "x-rate-limit-remaining"),
                    reset_at=float(reset) if reset is not None else None)

    async def mentions(self, *, since_id: str | None, pagination_token: str | None,
                       max_results: int) -> Page:
        params: dict[str, Any] = {"expansions": ["author_id"], "tweet_fields": TWEET_FIELDS,
                                  "user_fields": USER_FIELDS, "max_results": max_results}
        if since_id:
            params["since_id"] = since_id
        if pagination_token:
            params["pagination_token"] = pagination_token
        return self._page(await self._call(self._reader.get_users_mentions, self._config.account_user_id,
                                           user_auth=self._config.user_auth, **params))

    async def dm_events(self, *, pagination_token: str | None, max_results: int) -> Page:
        params: dict[str, Any] = {"dm_event_fields": DM_EVENT_FIELDS, "event_types": "MessageCreate",
                                  "expansions": ["sender_id"], "user_fields": USER_FIELDS,
                                  "max_results": max_results}
        if pagination_token:
            params["pagination_token"] = pagination_token
        return self._page(await self._call(self._reader.get_direct_message_events,
                                           user_auth=self._config.user_auth, **params))

    async def reply(self, text: str, in_reply_to: str) -> str:
        """Posts the reply tweet; returns its id."""
        page = self._page(await self._call(self._writer.create_tweet, text=text,
                                           in_reply_to_tweet_id=in_reply_to,
                                           user_auth=self._config.user_auth))
        return _created_id(page.body, "id")

    async def send_dm(self, participant_id: str, text: str) -> str:
        """Sends a one-to-one DM; returns the new DM event's id."""
        page = self._page(await self._call(self._writer.create_direct_message,
                                           participant_id=participant_id, text=text,
                                           user_auth=self._config.user_auth))
        return _created_id(page.body, "dm_event_id")


def _created_id(body: Mapping[str, Any], key: str) -> str:
    data = body.get("data")
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise XApiError(None, f"the answer has no data.{key}")
    return value
