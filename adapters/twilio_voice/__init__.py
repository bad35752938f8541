"""Voice calls through Twilio: see ``adapter`` and docs/channels/twilio-voice.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.channel import AdapterDeps
from adapters.twilio_voice.adapter import TwilioVoiceAdapter
from adapters.twilio_voice.config import TwilioVoiceConfig, parse_twilio_voice_config
from cti.config import AppConfig

__all__ = ["TwilioVoiceAdapter", "TwilioVoiceConfig", "from_config"]


def from_config(raw: Mapping[str, Any], deps: AdapterDeps) -> TwilioVoiceAdapter:
    """The adapter for the ``channels: twilio_voice:`` section; ``ConfigError`` if it cannot be used."""
    adapter = TwilioVoiceAdapter(parse_twilio_voice_config(raw, deps.config), deps)

    async def follow(_: AppConfig, new: AppConfig) -> None:
        # What Twilio dials for each agent lives on the agents, which an admin changes live.
        adapter.reconfigure(parse_twilio_voice_config(raw, new))

    deps.live.watch(follow)
    return adapter
