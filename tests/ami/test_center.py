"""The test harness itself: ``settle`` must not return before the bridge handled what was played."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cti.ami.frames import AmiMessage
from tests.ami.center import phases, running_center

pytestmark = pytest.mark.integration


async def test_settle_waits_for_the_last_played_event_not_the_fakes_own_login_event(
        tmp_path: Path) -> None:
    [whole] = phases("inbound_ivr_hold_abandon")
    last = whole.frames[-1].split("\r\n")[0].removeprefix("Event: ")
    of_its_kind = sum(1 for f in whole.frames if f.split("\r\n")[0] == f"Event: {last}")
    async with running_center(tmp_path) as center:
        gate = asyncio.Event()
        handle = center.bridge.on_event
        seen = [0]

        async def slow_on_the_last(msg: AmiMessage) -> None:
            # Hold the last played event in the bridge until the test lets it go.
            seen[0] += msg.event == last
            if seen[0] == of_its_kind and msg.event == last:
                await gate.wait()
            await handle(msg)

        center.bridge.on_event = slow_on_the_last  # type: ignore[method-assign]
        await center.play(whole.frames)
        with pytest.raises(AssertionError, match="to handle"):
            await center.settle(timeout=0.5)
        gate.set()
        await center.settle()
        assert seen[0] == of_its_kind


async def test_settle_counts_the_fakes_own_originate_response(tmp_path: Path) -> None:
    """The fake's OriginateResponse is an event the bridge handles but no play wrote."""
    first, *_ = phases("inbound_hold_originate_bridge")
    async with running_center(tmp_path) as center:
        center.ami.originate_response = [("Event", "OriginateResponse"), ("Response", "Failure"),
                                         ("Channel", "PJSIP/agent1"), ("Reason", "3")]
        await center.available("alice")
        await center.play(first.frames)
        await center.settle()
        await center.route()
        await center.ami.wait_action("Originate")
        await center.wait_event("interaction.offer_withdrawn")
        # The bridge handled one event more than was played: settle still returns, at once.
        await center.settle(timeout=0.5)
