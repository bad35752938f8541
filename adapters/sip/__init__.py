"""Voice on a direct SIP line: see ``adapter`` and docs/channels/sip.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.channel import AdapterDeps
from adapters.sip import g711
from adapters.sip.adapter import SipLineAdapter
from adapters.sip.config import WHERE, SipConfig, parse_sip_config
from adapters.sip.line import Prompts
from cti.config import ConfigError

__all__ = ["SipConfig", "SipLineAdapter", "from_config"]


def from_config(raw: Mapping[str, Any], deps: AdapterDeps) -> SipLineAdapter:
    """The adapter for the ``channels: sip:`` section; ``ConfigError`` if it cannot be used (the
    WAV prompts are read here, once, at start)."""
    config = parse_sip_config(raw, deps.config)
    return SipLineAdapter(config, deps, Prompts(greeting=_prompt("greeting_wav", config.greeting_wav),
                                                hold=_prompt("hold_wav", config.hold_wav)))


def _prompt(key: str, path: str | None) -> g711.Prompt | None:
    if path is None:
        return None
    try:
        return g711.load_wav(path)
    except g711.CodecError as exc:
        raise ConfigError(f"{WHERE}.{key}: {exc}") from exc
