"""Slack: shared customer channels (Slack Connect) through the Events API and the Web API.

``from_config`` is what ``adapters.registry`` calls for the ``channels.slack`` section; see
``docs/channels/slack.md`` for the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.channel import AdapterDeps, ChannelAdapter
from adapters.slack.adapter import SlackAdapter
from adapters.slack.config import SlackConfig, parse_slack_config

__all__ = ["SlackAdapter", "SlackConfig", "from_config"]


def from_config(raw: Mapping[str, Any], deps: AdapterDeps) -> ChannelAdapter:
    adapter: ChannelAdapter = SlackAdapter(parse_slack_config(raw, queues=deps.config.queues), deps)
    return adapter
