"""The ``channels.slack`` section: which shared channels we watch and how we reach Slack (pure)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cti.config import ConfigError

DEFAULT_API_BASE_URL = "https://slack.com/api/"
KEYS = frozenset({"bot_token", "signing_secret", "bot_user_id", "channels", "team_id", "queue",
                  "api_base_url", "timeout"})
# Slack's ids are upper-case letters and digits (C…/G… channels, U…/W… users, T…/E… teams);
# checking the shape keeps a typo (a channel *name*) from silently watching nothing.
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,40}$")


@dataclass(frozen=True, slots=True)
class WatchedChannel:
    id: str
    queue: str | None = None  # None: the section's queue, else the server's default queue
    name: str | None = None  # a label for the agent's screen pop (channel names differ per workspace)


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    bot_user_id: str
    channels: Mapping[str, WatchedChannel]
    team_id: str | None = None  # our own workspace: its members' messages are not customers'
    queue: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    timeout: float = 10.0  # seconds per Web API call

    def queue_for(self, channel_id: str) -> str | None:
        watched = self.channels.get(channel_id)
        return (watched.queue if watched else None) or self.queue


def parse_slack_config(raw: Mapping[str, Any], *, queues: Collection[str]) -> SlackConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError("channels.slack: a mapping of settings")
    unknown = set(raw) - KEYS
    if unknown:
        raise ConfigError(f"channels.slack: unknown keys {sorted(unknown)}")
    queue = _optional_str(raw, "queue")
    if queue is not None and queue not in queues:
        raise ConfigError(f"channels.slack: unknown queue {queue!r}")
    timeout = raw.get("timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise ConfigError("channels.slack: timeout must be a number of seconds in (0, 120]")
    team_id = _optional_str(raw, "team_id")
    if team_id is not None:
        _check_id(team_id, "team_id")
    return SlackConfig(
        bot_token=_required_str(raw, "bot_token"),
        signing_secret=_required_str(raw, "signing_secret"),
        bot_user_id=_check_id(_required_str(raw, "bot_user_id"), "bot_user_id"),
        channels=_channels(raw.get("channels"), queues),
        team_id=team_id,
        queue=queue,
        api_base_url=_base_url(raw.get("api_base_url", DEFAULT_API_BASE_URL)),
        timeout=float(timeout),
    )


def _channels(raw: Any, queues: Collection[str]) -> dict[str, WatchedChannel]:
    """``[C1, C2]`` or ``{C1: {queue: …, name: …}, C2: null}``."""
    if isinstance(raw, list | tuple):
        raw = {item: None for item in raw}
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("channels.slack: channels must list at least one channel id")
    out: dict[str, WatchedChannel] = {}
    for channel_id, settings in raw.items():
        where = f"channels.slack: channel {channel_id!r}"
        if not isinstance(channel_id, str):
            raise ConfigError(f"{where}: the id must be a string")
        _check_id(channel_id, "channel id")
        settings = settings or {}
        if not isinstance(settings, Mapping) or set(settings) - {"queue", "name"}:
            raise ConfigError(f"{where}: settings are a mapping with 'queue' and/or 'name'")
        queue = _optional_str(settings, "queue", where)
        if queue is not None and queue not in queues:
            raise ConfigError(f"{where}: unknown queue {queue!r}")
        out[channel_id] = WatchedChannel(id=channel_id, queue=queue,
                                         name=_optional_str(settings, "name", where))
    return out


def _required_str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        # Never echo the value: it may be a token or a secret.
        raise ConfigError(f"channels.slack: {key} is required (a non-empty string)")
    return value.strip()


def _optional_str(raw: Mapping[str, Any], key: str, where: str = "channels.slack") -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _check_id(value: str, what: str) -> str:
    if not _SLACK_ID.match(value):
        raise ConfigError(f"channels.slack: {what} {value!r} is not a Slack id (like C0123ABCD)")
    return value


def _base_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError("channels.slack: api_base_url must be a URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"channels.slack: api_base_url {value!r} is not an http(s) URL")
    return value if value.endswith("/") else value + "/"
