"""The ``channels: sip:`` section, checked once at start (pure: no I/O). See docs/channels/sip.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.config import AppConfig, ConfigError
from cti.domain import Role

WHERE = "channels.sip"
ENDPOINT = "sip"  # the agent profile's endpoints key: "sip:agent1@127.0.0.1:5071"
KEYS = frozenset({"server", "port", "user", "password", "local_ip", "sip_port", "rtp_port_low",
                  "rtp_port_high", "max_calls", "register_expires", "queue", "account_digits",
                  "digits_seconds", "greeting_wav", "hold_wav", "agent_sip_port", "ring_seconds", "reasons",
                  "recording_dir", "pickup_seconds"})


@dataclass(frozen=True, slots=True)
class SipConfig:
    server: str  # the registrar / proxy (every SIP message of the line goes through it)
    port: int
    user: str
    password: str = field(repr=False)
    local_ip: str = "127.0.0.1"  # the address we bind and put in Via, Contact and SDP
    sip_port: int = 5060
    rtp_port_low: int = 10000
    rtp_port_high: int = 10999
    max_calls: int = 50
    register_expires: int = 300
    queue: str | None = None  # None: the chat queue
    account_digits: int = 12
    digits_seconds: float = 4.0  # how long the caller may key an account number ('#' ends it early)
    endpoints: Mapping[str, str] = field(default_factory=dict)  # agent id -> SIP URI
    greeting_wav: str | None = None  # played once on answer (16-bit PCM WAV)
    hold_wav: str | None = None  # looped while the caller waits (default: a 400 Hz tone)
    agent_sip_port: int = 0  # the agent legs' SIP port (sipcore, through the same proxy); 0: any
    ring_seconds: float = 20.0  # an agent's phone rings this long, then CANCEL and "no-answer"
    reasons: Mapping[str, str] = field(default_factory=dict)  # key after the account -> reason
    recording_dir: str | None = None  # the desk's recordings (<interaction id>.wav); None: refused
    pickup_seconds: float = 0.0  # a caller hears ringing (180) this long before the line answers


def _int(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{WHERE}: {key!r} must be a whole number from {low} to {high}")
    return value


def _text(raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{WHERE}: {key!r} is required (a string)")
    return value.strip()


def parse_sip_config(raw: Mapping[str, Any], app: AppConfig) -> SipConfig:
    unknown = set(raw) - KEYS
    if unknown:
        raise ConfigError(f"{WHERE}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(KEYS))})")
    low = _int(raw, "rtp_port_low", 10000, 1024, 65534)
    high = _int(raw, "rtp_port_high", max(low + 999, 10999), low, 65535)
    queue = raw.get("queue")
    if queue is not None and queue not in app.queues:
        raise ConfigError(f"{WHERE}: unknown queue {queue!r}")
    seconds = raw.get("digits_seconds", 4.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 60:
        raise ConfigError(f"{WHERE}: 'digits_seconds' must be a number from 0 to 60")
    ring = raw.get("ring_seconds", 20.0)
    if isinstance(ring, bool) or not isinstance(ring, int | float) or not 1 <= ring <= 300:
        raise ConfigError(f"{WHERE}: 'ring_seconds' must be a number from 1 to 300")
    pickup = raw.get("pickup_seconds", 0.0)
    if isinstance(pickup, bool) or not isinstance(pickup, int | float) or not 0 <= pickup <= 60:
        raise ConfigError(f"{WHERE}: 'pickup_seconds' must be a number from 0 to 60")
    reasons_raw = raw.get("reasons") or {}
    if not isinstance(reasons_raw, Mapping):
        raise ConfigError(f"{WHERE}: 'reasons' must map a phone key to a reason")
    reasons: dict[str, str] = {}
    for key, reason in reasons_raw.items():
        if not re.fullmatch(r"[0-9*#]", str(key)) or not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{WHERE}: reasons: {key!r} must be one phone key mapped to a reason")
        reasons[str(key)] = reason.strip()
    endpoints: dict[str, str] = {}
    for profile in app.agents.values():
        value = profile.endpoints.get(ENDPOINT)
        if isinstance(value, str) and value.startswith("sip:") and profile.role is not Role.ADMIN:
            endpoints[profile.id] = value
    return SipConfig(
        server=_text(raw, "server"), port=_int(raw, "port", 5060, 1, 65535), user=_text(raw, "user"),
        password=str(raw.get("password") or ""), local_ip=_text(raw, "local_ip", "127.0.0.1"),
        sip_port=_int(raw, "sip_port", 5060, 1, 65535), rtp_port_low=low, rtp_port_high=high,
        max_calls=_int(raw, "max_calls", 50, 1, 10000),
        register_expires=_int(raw, "register_expires", 300, 2, 86400), queue=queue,
        account_digits=_int(raw, "account_digits", 12, 0, 32), digits_seconds=float(seconds),
        agent_sip_port=_int(raw, "agent_sip_port", 0, 0, 65535), ring_seconds=float(ring), reasons=reasons,
        endpoints=endpoints, greeting_wav=_path(raw, "greeting_wav"), hold_wav=_path(raw, "hold_wav"),
        recording_dir=_path(raw, "recording_dir"), pickup_seconds=float(pickup))


def _path(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    return _text(raw, key)
