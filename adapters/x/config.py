"""The ``channels.x`` section: credentials, the company account, and how events come in.

Read once by ``from_config``; a section it cannot use is a ``ConfigError`` that names the key.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cti.config import ConfigError

DEFAULT_API_BASE_URL = "https://api.twitter.com"  # the host tweepy's Client builds every URL from
_OAUTH1_USER_KEYS = ("consumer_key", "access_token", "access_token_secret")
_KNOWN_KEYS = frozenset({
    "bearer_token", "consumer_key", "consumer_secret", "access_token", "access_token_secret",
    "account_user_id", "mode", "poll_seconds", "poll_page_size", "poll_dms",
    "webhook_path", "webhook_max_age", "api_base_url", "request_timeout", "queue",
    "mention_in_reply",
})


class Mode(enum.StrEnum):
    WEBHOOK = "webhook"  # the Account Activity API posts events to us
    POLLING = "polling"  # we read mentions and DM events ourselves


@dataclass(frozen=True, slots=True)
class XConfig:
    account_user_id: str
    mode: Mode
    bearer_token: str | None = field(default=None, repr=False)
    consumer_key: str | None = field(default=None, repr=False)
    consumer_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    access_token_secret: str | None = field(default=None, repr=False)
    poll_seconds: float = 60.0
    poll_page_size: int = 50
    poll_dms: bool = True
    webhook_path: str = "/webhooks/x"
    webhook_max_age: float = 1800.0  # 0: accept signed events of any age (Replay API jobs)
    api_base_url: str = DEFAULT_API_BASE_URL
    request_timeout: float = 30.0
    queue: str | None = None
    mention_in_reply: bool = False

    @property
    def user_auth(self) -> bool:
        """OAuth 1.0a user context (all four keys); otherwise the bearer token is used."""
        return self.access_token is not None

    def secrets(self) -> tuple[str, ...]:
        """Every credential, so logs can be scrubbed of them."""
        values = (self.bearer_token, self.consumer_key, self.consumer_secret, self.access_token,
                  self.access_token_secret)
        return tuple(v for v in values if v)


def _text(raw: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(f"channels.x: {key!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"channels.x: {key!r} must be a string")
    return str(value).strip()


def _number(raw: Mapping[str, Any], key: str, default: float, *, minimum: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"channels.x: {key!r} must be a number of at least {minimum:g}")
    return float(value)


def _flag(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"channels.x: {key!r} must be true or false")
    return value


def parse_x_config(raw: Mapping[str, Any], *, queues: Mapping[str, Any]) -> XConfig:
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"channels.x: unknown key(s) {', '.join(map(repr, unknown))}")
    account = _text(raw, "account_user_id", required=True) or ""
    if not account.isdigit():
        raise ConfigError("channels.x: 'account_user_id' is the numeric id of the company account")
    try:
        mode = Mode(raw.get("mode", Mode.POLLING.value))
    except ValueError as exc:
        raise ConfigError("channels.x: 'mode' must be 'webhook' or 'polling'") from exc

    creds = {k: _text(raw, k) for k in ("bearer_token", "consumer_key", "consumer_secret",
                                        "access_token", "access_token_secret")}
    user_keys = [k for k in _OAUTH1_USER_KEYS if creds[k]]
    if user_keys and (len(user_keys) < len(_OAUTH1_USER_KEYS) or not creds["consumer_secret"]):
        raise ConfigError("channels.x: OAuth 1.0a needs all of consumer_key, consumer_secret, "
                          "access_token and access_token_secret")
    if not user_keys and not creds["bearer_token"]:
        raise ConfigError("channels.x: give the four OAuth 1.0a keys or a 'bearer_token' "
                          "(an OAuth 2.0 user-context token, to post replies and read DMs)")
    if mode is Mode.WEBHOOK and not creds["consumer_secret"]:
        raise ConfigError("channels.x: webhook mode needs 'consumer_secret' (the CRC challenge "
                          "and the delivery signatures are keyed with it)")

    path = _text(raw, "webhook_path") or "/webhooks/x"
    if not path.startswith("/") or path.startswith("/api/"):
        raise ConfigError("channels.x: 'webhook_path' must start with '/' and be outside /api/")
    base = (_text(raw, "api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        raise ConfigError("channels.x: 'api_base_url' must be scheme://host[:port] with no path")
    queue = _text(raw, "queue")
    if queue is not None and queue not in queues:
        raise ConfigError(f"channels.x: unknown queue {queue!r}")
    page = _number(raw, "poll_page_size", 50, minimum=5)
    if page > 100 or page != int(page):
        raise ConfigError("channels.x: 'poll_page_size' must be a whole number from 5 to 100")
    return XConfig(
        account_user_id=account, mode=mode,
        bearer_token=creds["bearer_token"], consumer_key=creds["consumer_key"],
        consumer_secret=creds["consumer_secret"], access_token=creds["access_token"],
        access_token_secret=creds["access_token_secret"],
        poll_seconds=_number(raw, "poll_seconds", 60.0, minimum=0.1),
        poll_page_size=int(page),
        poll_dms=_flag(raw, "poll_dms", True),
        webhook_path=path,
        webhook_max_age=_number(raw, "webhook_max_age", 1800.0, minimum=0.0),
        api_base_url=base,
        request_timeout=_number(raw, "request_timeout", 30.0, minimum=1.0),
        queue=queue,
        mention_in_reply=_flag(raw, "mention_in_reply", False),
    )
