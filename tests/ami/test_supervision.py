"""A supervisor's session (listen, whisper, barge) starts once and ends once on the desks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ami.center import phases, running_center

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("scenario", "mode"), [
    ("chanspy_listen", "listen"), ("chanspy_whisper", "whisper"), ("chanspy_barge", "barge")])
async def test_a_monitoring_session_ends_once_though_chanspy_stops_before_the_spy_hangs_up(
        tmp_path: Path, scenario: str, mode: str) -> None:
    first, talking, spying = phases(scenario)
    async with running_center(tmp_path) as center:
        call, _, _ = await center.ring(first.frames)
        await center.play(talking.frames)
        await center.wait_state(call.id, "active")
        await center.bridge.monitor("sam", "alice", mode)
        await center.ami.wait_action("Originate", count=2)
        # ChanSpyStop, then the spy's own Hangup: two ends of one session in the recording.
        assert any(f.startswith("Event: ChanSpyStop") for f in spying.frames)
        assert any(f.startswith("Event: Hangup") and "PJSIP/super1-" in f for f in spying.frames)
        await center.play(spying.frames)
        await center.settle()
        await center.wait_state(call.id, "wrap_up")
        changes = [(e["active"], e["supervisor_id"], e["mode"])
                   for e in center.events_of("supervision.changed")]
        assert changes == [(True, "sam", mode), (False, "sam", mode)]
