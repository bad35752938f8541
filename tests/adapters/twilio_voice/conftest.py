"""The local fake Twilio API every voice test talks to (the fixture lives beside the fake)."""

from __future__ import annotations

from tests.adapters.twilio_voice.fake_voice import twilio

__all__ = ["twilio"]
