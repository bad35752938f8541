"""The ``channels: twilio_voice:`` section, checked once at start (pure: no I/O).

See docs/channels/twilio-voice.md for every key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from adapters.twilio_common import config_phone, our_numbers
from cti.config import AppConfig, ConfigError
from cti.domain import Role

WHERE = "channels.twilio_voice"
ENDPOINT = "twilio"  # the agent profile's endpoints key: "+15550100001", "client:alice" or "sip:…"
DEFAULT_TIMEOUT = 15.0
DEFAULT_HOLD_MUSIC = "https://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
DEFAULT_ACCOUNT_PROMPT = "Please enter your account number, then press the pound key."
DEFAULT_REASON_PROMPT = "Please choose the reason for your call."
KEYS = frozenset({"account_sid", "auth_token", "public_url", "api_base_url", "timeout_seconds",
                  "numbers", "queue", "caller_id", "hold_music_url", "account_prompt",
                  "account_digits", "reason_prompt", "reasons", "gather_timeout_seconds",
                  "ring_seconds", "record"})
CLIENT = re.compile(r"client:[A-Za-z0-9_.@-]{1,121}")
SIP = re.compile(r"sip:[^\s<>\"]{3,250}")


@dataclass(frozen=True, slots=True)
class TwilioVoiceConfig:
    account_sid: str
    auth_token: str = field(repr=False)  # signs every webhook: never logged
    public_url: str  # how Twilio reaches us (behind a proxy the Host header differs)
    api_base_url: str | None = None  # tests: a local server playing api.twilio.com
    timeout_seconds: float = DEFAULT_TIMEOUT
    numbers: Mapping[str, str] = field(default_factory=dict)  # our E.164 number -> queue
    queue: str | None = None  # queue of a number not in ``numbers``; None: the chat queue
    caller_id: str | None = None  # E.164 the agents' phones see; None: the number the customer called
    hold_music_url: str = DEFAULT_HOLD_MUSIC
    account_prompt: str = DEFAULT_ACCOUNT_PROMPT
    account_digits: int = 12  # at most this many digits are collected for the account number
    reason_prompt: str = DEFAULT_REASON_PROMPT
    reasons: Mapping[str, str] = field(default_factory=dict)  # key pressed -> reason; empty: not asked
    gather_timeout_seconds: int = 6
    ring_seconds: int = 30  # an agent's phone rings at most this long (and never past the offer)
    record: bool = False  # record each answered call (both legs), the URL lands on the interaction
    endpoints: Mapping[str, str] = field(default_factory=dict)  # agent id -> what Twilio dials

    def queue_for(self, our_number: str | None) -> str | None:
        return self.numbers.get(our_number or "", self.queue)


def _str(raw: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(f"{WHERE}: {key!r} is required")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{WHERE}: {key!r} must be a string")
    return value.strip()


def _url(raw: Mapping[str, Any], key: str, *, required: bool, query: bool = False) -> str | None:
    value = _str(raw, key, required=required)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment \
            or (parts.query and not query):
        raise ConfigError(f"{WHERE}: {key!r} must be an http(s) URL without query, e.g. https://cti.example.com")
    return value if query else value.rstrip("/")


def _number(raw: Mapping[str, Any], key: str, default: float, *, low: float, high: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{WHERE}: {key!r} must be a number from {low:g} to {high:g}")
    return float(value)


def endpoint(value: Any, agent_id: str, country: str) -> str:
    """What Twilio dials for an agent: a phone number in E.164, a Client identity or a SIP URI."""
    where = f"agent {agent_id!r} endpoints.{ENDPOINT}"
    if isinstance(value, str) and value.strip().startswith(("client:", "sip:")):
        text = value.strip()
        if not (CLIENT.fullmatch(text) or SIP.fullmatch(text)):
            raise ConfigError(f"{WHERE}: {where}: not a valid client:<identity> or sip:<uri>")
        return text
    return config_phone(value, where, WHERE, country)


def parse_twilio_voice_config(raw: Mapping[str, Any], app: AppConfig) -> TwilioVoiceConfig:
    unknown = set(raw) - KEYS
    if unknown:
        raise ConfigError(f"{WHERE}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(KEYS))})")
    country = app.phone_region
    numbers = our_numbers(raw, app, WHERE)
    queue = _str(raw, "queue", required=False)
    if queue is not None and queue not in app.queues:
        raise ConfigError(f"{WHERE}: unknown queue {queue!r}")
    caller_raw = raw.get("caller_id")
    caller_id = (config_phone(caller_raw, "'caller_id'", WHERE, country)
                 if caller_raw not in (None, "") else None)
    reasons_raw = raw.get("reasons") or {}
    if not isinstance(reasons_raw, Mapping):
        raise ConfigError(f"{WHERE}: 'reasons' must map a key (1-9) to a reason")
    reasons: dict[str, str] = {}
    for key, reason in reasons_raw.items():
        key_text = str(key)
        if not re.fullmatch(r"[0-9*#]", key_text) or not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{WHERE}: reasons: {key!r} must be one phone key mapped to a reason")
        reasons[key_text] = reason.strip()
    endpoints: dict[str, str] = {}
    for profile in app.agents.values():
        value = profile.endpoints.get(ENDPOINT)
        if value not in (None, "") and profile.role is not Role.ADMIN:
            endpoints[profile.id] = endpoint(value, profile.id, country)
    record = raw.get("record", False)
    if not isinstance(record, bool):
        raise ConfigError(f"{WHERE}: 'record' must be true or false")
    return TwilioVoiceConfig(
        account_sid=_str(raw, "account_sid", required=True) or "",
        auth_token=_str(raw, "auth_token", required=True) or "",
        public_url=_url(raw, "public_url", required=True) or "",
        api_base_url=_url(raw, "api_base_url", required=False),
        timeout_seconds=_number(raw, "timeout_seconds", DEFAULT_TIMEOUT, low=0.1, high=120),
        numbers=numbers, queue=queue, caller_id=caller_id,
        hold_music_url=_url(raw, "hold_music_url", required=False, query=True) or DEFAULT_HOLD_MUSIC,
        account_prompt=_str(raw, "account_prompt", required=False) or DEFAULT_ACCOUNT_PROMPT,
        account_digits=int(_number(raw, "account_digits", 12, low=0, high=32)),
        reason_prompt=_str(raw, "reason_prompt", required=False) or DEFAULT_REASON_PROMPT,
        reasons=reasons,
        gather_timeout_seconds=int(_number(raw, "gather_timeout_seconds", 6, low=1, high=60)),
        ring_seconds=int(_number(raw, "ring_seconds", 30, low=5, high=600)),
        record=record, endpoints=endpoints,
    )
