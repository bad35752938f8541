"""Which written channels run: one section each under ``channels:`` in the configuration.

Each channel package exposes ``from_config(raw, deps) -> ChannelAdapter`` and raises
``ConfigError`` for a section it cannot use; an unknown channel name is refused here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from adapters.channel import AdapterDeps, ChannelAdapter
from cti.config import ConfigError
from cti.domain import Channel

# The running adapters, on the application (benchmarks and tests reach a listener's address).
CHANNEL_ADAPTERS = web.AppKey("channel_adapters", dict[Channel, ChannelAdapter])

PACKAGES: Mapping[str, tuple[Channel, str]] = {
    "email": (Channel.EMAIL, "adapters.email"),
    "sms": (Channel.SMS, "adapters.sms"),
    "x": (Channel.X, "adapters.x"),
    "slack": (Channel.SLACK, "adapters.slack"),
    "twilio_voice": (Channel.VOICE, "adapters.twilio_voice"),  # calls through Twilio, not Asterisk
    "sip": (Channel.VOICE, "adapters.sip"),  # a direct SIP line to a trunk/proxy, not Asterisk
}


def build_adapters(channels: Mapping[str, Mapping[str, Any]],
                   deps: AdapterDeps) -> dict[Channel, ChannelAdapter]:
    adapters: dict[Channel, ChannelAdapter] = {}
    for name, raw in channels.items():
        if name not in PACKAGES:
            raise ConfigError(f"channels: unknown channel {name!r} (known: {', '.join(sorted(PACKAGES))})")
        channel, package = PACKAGES[name]
        if channel in adapters:
            raise ConfigError(f"channels: {name!r} is a second {channel.value} channel; configure one")
        module: Any = importlib.import_module(package)
        adapter: ChannelAdapter = module.from_config(raw or {}, deps)
        adapters[channel] = adapter
    return adapters
