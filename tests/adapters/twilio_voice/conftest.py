"""The local fake Twilio API every voice test talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.adapters.twilio_voice.fake_voice import FakeTwilioVoice


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilioVoice]:
    fake = FakeTwilioVoice()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
