"""The reason a caller keys in the Twilio IVR sets the call's priority through the configuration's
mapping (``routing.priority.context``), on the real voice webhooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.twilio_voice.adapter import TwilioVoiceAdapter
from cti.domain import Channel
from tests.adapters.center import running_center
from tests.adapters.twilio_voice.fake_voice import FakeTwilioVoice, twilio
from tests.adapters.twilio_voice.test_voice_flow import QUEUES, Voice, call_in, section

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["twilio"]  # the fake Twilio fixture, used here as it is by the voice flow tests

ROUTING = {"offer_timeout": 20, "priority": {"context": {"ivr.reason": {"a fault": 6}}}}


@pytest.mark.parametrize(("key", "priority"), [("2", 6.0), ("1", 1.0)])
async def test_the_ivr_answer_sets_the_priority(tmp_path: Path, twilio: FakeTwilioVoice, key: str,
                                                priority: float) -> None:
    async with running_center(tmp_path, {"twilio_voice": section(twilio)}, queues=QUEUES,
                              routing=ROUTING) as center:
        adapter = center.adapters[Channel.VOICE]
        assert isinstance(adapter, TwilioVoiceAdapter)
        voice = Voice(center=center, adapter=adapter, twilio=twilio, events=[])
        queued = await call_in(voice, "CA" + key * 32, key=key)
        interaction = await voice.interaction(queued.interaction_id)
        assert interaction.priority == priority
        (waiting,) = (await center.services.routing.snapshot()).waiting
        assert waiting.priority == priority  # what the routing formula multiplies by
