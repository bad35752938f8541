"""The ``channels: sms:`` section, checked once at start (pure: no I/O).

See docs/channels/sms.md for every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from adapters.twilio_common import config_phone, our_numbers
from cti.config import AppConfig, ConfigError

DEFAULT_WINDOW = 24 * 3600.0
DEFAULT_TIMEOUT = 15.0
KEYS = frozenset({"account_sid", "auth_token", "public_url", "from_number", "numbers", "queue",
                  "window_seconds", "api_base_url", "timeout_seconds"})


@dataclass(frozen=True, slots=True)
class SmsConfig:
    account_sid: str
    auth_token: str = field(repr=False)  # signs every webhook: never logged
    public_url: str  # how Twilio reaches us (behind a proxy the Host header differs)
    from_number: str | None = None  # E.164; replies from it when the interaction has no number
    numbers: Mapping[str, str] = field(default_factory=dict)  # our E.164 number -> queue
    queue: str | None = None  # queue of a number not in ``numbers``; None: the chat queue
    window_seconds: float = DEFAULT_WINDOW
    api_base_url: str | None = None  # tests: a local server playing api.twilio.com
    timeout_seconds: float = DEFAULT_TIMEOUT

    def queue_for(self, our_number: str | None) -> str | None:
        return self.numbers.get(our_number or "", self.queue)

    def sender_for(self, queue: str) -> str | None:
        """The number a reply goes out from when the interaction does not say (a queue's own)."""
        for number, name in self.numbers.items():
            if name == queue:
                return number
        return self.from_number


def _str(raw: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(f"channels.sms: {key!r} is required")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"channels.sms: {key!r} must be a string")
    return value.strip()


def _url(raw: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = _str(raw, key, required=required)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"channels.sms: {key!r} must be an http(s) URL without query, "
                          f"e.g. https://cti.example.com")
    return value.rstrip("/")


def _seconds(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"channels.sms: {key!r} must be a positive number of seconds")
    return float(value)


def parse_sms_config(raw: Mapping[str, Any], app: AppConfig) -> SmsConfig:
    unknown = set(raw) - KEYS
    if unknown:
        raise ConfigError(f"channels.sms: unknown keys {sorted(unknown)} (known: {', '.join(sorted(KEYS))})")
    country = app.phone_region
    numbers = our_numbers(raw, app, "channels.sms")
    queue = _str(raw, "queue", required=False)
    if queue is not None and queue not in app.queues:
        raise ConfigError(f"channels.sms: unknown queue {queue!r}")
    from_raw = raw.get("from_number")
    from_number = (config_phone(from_raw, "'from_number'", "channels.sms", country)
                   if from_raw not in (None, "") else None)
    if from_number is None and not numbers:
        raise ConfigError("channels.sms: 'from_number' or 'numbers' is required, to send replies from")
    return SmsConfig(
        account_sid=_str(raw, "account_sid", required=True) or "",
        auth_token=_str(raw, "auth_token", required=True) or "",
        public_url=_url(raw, "public_url", required=True) or "",
        from_number=from_number, numbers=numbers, queue=queue,
        window_seconds=_seconds(raw, "window_seconds", DEFAULT_WINDOW),
        api_base_url=_url(raw, "api_base_url", required=False),
        timeout_seconds=_seconds(raw, "timeout_seconds", DEFAULT_TIMEOUT),
    )
