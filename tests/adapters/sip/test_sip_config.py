"""``channels: sip:`` through the channel registry, as the server reads it at start (no sockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.channel import AdapterDeps
from adapters.registry import build_adapters
from adapters.sip import g711
from adapters.sip.adapter import SipLineAdapter
from adapters.sip.ivr import account_of
from cti.clock import ManualClock, SequentialIds
from cti.config import ConfigError, parse_config
from cti.domain import Channel
from cti.live_config import LiveConfig
from tests.adapters.center import center_config
from tests.adapters.sip.test_g711 import tone, write_wav

SECTION: dict[str, Any] = {"server": "127.0.0.1", "port": 5060, "user": "line", "password": "secret",
                           "sip_port": 5070, "queue": "support"}


def deps() -> AdapterDeps:
    nothing: Any = None  # constructing the adapter does no I/O: the services are not touched
    return AdapterDeps(live=LiveConfig(parse_config(center_config({}))), interactions=nothing,
                       context=nothing, hub=nothing, clock=ManualClock(), ids=SequentialIds())


def test_channels_sip_builds_the_sip_line() -> None:
    adapters = build_adapters({"sip": dict(SECTION)}, deps())
    assert isinstance(adapters[Channel.VOICE], SipLineAdapter)


def test_the_greeting_and_hold_audio_are_read_from_16bit_wavs(tmp_path: Path) -> None:
    greeting = write_wav(tmp_path / "greeting.wav", tone(1000, 0.5))
    hold = write_wav(tmp_path / "hold.wav", tone(500, 1.0))
    adapter = build_adapters({"sip": {**SECTION, "greeting_wav": str(greeting), "hold_wav": str(hold)}},
                             deps())[Channel.VOICE]
    assert isinstance(adapter, SipLineAdapter)
    assert adapter.prompts.greeting is not None and adapter.prompts.greeting.seconds == pytest.approx(0.5)
    assert adapter.prompts.hold is not None and len(adapter.prompts.hold.frames(g711.PCMA)) == 50


def test_an_8bit_greeting_is_refused_at_start_with_the_key_and_the_file(tmp_path: Path) -> None:
    old = write_wav(tmp_path / "old.wav", np.full(800, 128, np.uint8), width=1)
    with pytest.raises(ConfigError, match=r"channels\.sip\.greeting_wav: .*old\.wav.*16-bit"):
        build_adapters({"sip": {**SECTION, "greeting_wav": str(old)}}, deps())


def test_a_missing_hold_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"channels\.sip\.hold_wav: .*missing\.wav"):
        build_adapters({"sip": {**SECTION, "hold_wav": str(tmp_path / "missing.wav")}}, deps())


def test_sip_and_twilio_voice_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="second voice channel"):
        build_adapters({"sip": dict(SECTION), "twilio_voice": {}}, deps())


@pytest.mark.parametrize(("keys", "limit", "expected"), [
    ("4711#2", 12, ("4711", 5, True)), ("4711", 4, ("4711", 4, True)), ("47", 12, ("47", 2, False)),
    ("#", 12, ("", 1, True)), ("12*3#", 12, ("123", 5, True)), ("9", 0, ("", 0, True))])
def test_the_account_is_the_keys_before_hash_or_the_limit(keys: str, limit: int,
                                                          expected: tuple[str, int, bool]) -> None:
    assert account_of(keys, limit) == expected


def test_reasons_map_one_key_each() -> None:
    adapter = build_adapters({"sip": {**SECTION, "reasons": {"1": "billing", 2: "a fault"}}},
                             deps())[Channel.VOICE]
    assert isinstance(adapter, SipLineAdapter)
    assert dict(adapter.config.reasons) == {"1": "billing", "2": "a fault"}
    with pytest.raises(ConfigError, match="one phone key"):
        build_adapters({"sip": {**SECTION, "reasons": {"12": "billing"}}}, deps())


def test_the_pickup_delay_is_seconds_from_0_to_60() -> None:
    adapter = build_adapters({"sip": {**SECTION, "pickup_seconds": 1.5}}, deps())[Channel.VOICE]
    assert isinstance(adapter, SipLineAdapter) and adapter.config.pickup_seconds == 1.5
    with pytest.raises(ConfigError, match="'pickup_seconds' must be a number from 0 to 60"):
        build_adapters({"sip": {**SECTION, "pickup_seconds": 61}}, deps())
