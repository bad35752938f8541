"""The SMS channel through Twilio: see ``adapter`` and docs/channels/sms.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.channel import AdapterDeps
from adapters.sms.adapter import SmsAdapter
from adapters.sms.config import SmsConfig, parse_sms_config

__all__ = ["SmsAdapter", "SmsConfig", "from_config"]


def from_config(raw: Mapping[str, Any], deps: AdapterDeps) -> SmsAdapter:
    """The adapter for the ``channels: sms:`` section; ``ConfigError`` if it cannot be used."""
    return SmsAdapter(parse_sms_config(raw, deps.config), deps)
