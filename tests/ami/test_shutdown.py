"""A clean stop sends every caller waiting for the server to the fallback queue (live2 recording)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ami.center import live2, running_center
from tests.ami.fake_ami import header

pytestmark = pytest.mark.integration


async def test_a_clean_stop_redirects_the_waiting_caller_to_the_fallback_queue(tmp_path: Path) -> None:
    waiting, redirected = live2("clean_stop_redirects_waiting_caller")
    async with running_center(tmp_path) as center:
        await center.play(waiting.frames)
        await center.settle()
        call = await center.only_call()
        assert call.state.value == "queued"

        await center.bridge.going_offline()
        redirect = await center.ami.wait_action("Redirect")
        assert waiting.action is not None
        for key in ("Channel", "Context", "Exten", "Priority"):
            assert header(redirect, key) == header(waiting.action, key), key
        # The dial plan is told first: a caller arriving meanwhile is not held for us.
        kinds = [(header(a, "Action"), header(a, "Variable"), header(a, "Value"))
                 for a in center.ami.actions]
        assert kinds.index(("Setvar", "CTI_ONLINE", "0")) < kinds.index(("Redirect", None, None))

        # Asterisk's answer: the caller is in the fallback queue with the IVR answers kept.
        await center.play(redirected.frames)
        await center.settle()
        fallback = [f for f in redirected.frames if "UserEvent: CtiFallback" in f]
        assert fallback and "Account: 32002" in fallback[0] and "Why: server" in fallback[0]
        after = await center.context.interaction(call.id)
        assert after.context["ivr.account"] == "32002" and after.context["voice.fallback"] == "fallback"


async def test_a_stop_with_nobody_waiting_sends_no_redirect(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        await center.bridge.going_offline()
        assert center.ami.actions_named("Redirect") == []


async def test_queue_pauses_follow_the_agents_states_after_every_reconnect(tmp_path: Path) -> None:
    """An agent whose state changed while the link was down (or whom a crashed server left
    paused) is paused or unpaused in the fallback queue as soon as the link is back."""
    async with running_center(tmp_path) as center:
        await center.agents.set_state("bob", "away", reason="lunch", actor_id="bob")
        await center.ami.wait_for(lambda: paused(center, "PJSIP/agent2") == "true")
        logins = center.ami.logins
        center.ami.refuse = 1  # the link stays down a moment
        await center.ami.drop()
        await center.available("bob")  # while nobody can tell Asterisk
        await center.ami.wait_logins(logins + 1, timeout=5)
        await center.ami.wait_for(lambda: paused(center, "PJSIP/agent2") == "false", timeout=3)
        # Each agent's QueuePause is its own action after the log-in: wait for the last one too.
        await center.ami.wait_for(lambda: paused(center, "PJSIP/agent3") is not None, timeout=3)
        assert paused(center, "PJSIP/agent1") == "true"  # alice never logged in: offline
        assert paused(center, "PJSIP/agent3") == "true"


def paused(center: object, interface: str) -> str | None:
    from tests.ami.center import Center
    assert isinstance(center, Center)
    last = [a for a in center.ami.actions_named("QueuePause") if header(a, "Interface") == interface]
    return header(last[-1], "Paused") if last else None
