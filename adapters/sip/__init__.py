"""Voice on a direct SIP line (pyVoIP): see ``adapter`` and docs/channels/sip.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.channel import AdapterDeps
from adapters.sip.adapter import SipLineAdapter
from adapters.sip.config import SipConfig, parse_sip_config

__all__ = ["SipConfig", "SipLineAdapter", "from_config"]


def from_config(raw: Mapping[str, Any], deps: AdapterDeps) -> SipLineAdapter:
    """The adapter for the ``channels: sip:`` section; ``ConfigError`` if it cannot be used."""
    return SipLineAdapter(parse_sip_config(raw, deps.config), deps)
