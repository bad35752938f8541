"""The fallback queue is part of the center: its calls are interactions, its agents are busy.

``live2/agent_busy_on_fallback_call``: the server was offline for the dial plan, the caller went
straight to app_queue ``fallback`` (``CtiFallback Why: offline``, no ``CtiQueued``), agent1
answered there and talked 5 s. The first set's ``fallback_queue_answered`` / ``_abandon``: a
caller held for the server whose hold timed out, answered in the fallback queue or not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.domain import Channel, InteractionState
from tests.ami.center import Center, live2, phases, running_center

pytestmark = pytest.mark.integration


def queued_elsewhere() -> tuple[str, ...]:
    """A second caller, queued for the server (clean_stop's caller up to its CtiQueued)."""
    return live2("clean_stop_redirects_waiting_caller")[0].frames


def device_states(scenario: str, device: str) -> dict[str, str]:
    """State -> a recorded DeviceStateChange frame of ``device`` in that state."""
    out: dict[str, str] = {}
    for phase in live2(scenario):
        for frame in phase.frames:
            if frame.startswith("Event: DeviceStateChange") and f"Device: {device}\r\n" in frame:
                state = next(v for v in frame.split("\r\n") if v.startswith("State: "))[7:]
                out.setdefault(state, frame)
    return out


async def voice_load(center: Center, agent_id: str) -> int:
    agent = await center.routing.agent(agent_id)
    assert agent is not None
    return agent.load.get(Channel.VOICE, 0)


async def test_a_call_answered_in_the_fallback_queue_is_the_members_interaction(tmp_path: Path) -> None:
    talking, ended = live2("agent_busy_on_fallback_call")
    async with running_center(tmp_path) as center:
        await center.available("alice")  # agent1, the member who answers
        await center.play(talking.frames)
        await center.settle()
        call = await center.only_call()
        assert (call.state, call.agent_id) == (InteractionState.ACTIVE, "alice")
        assert call.answered_at is not None and call.queued_at is not None
        assert call.context["ivr.account"] == "33003" and call.context["voice.fallback"] == "fallback"
        assert call.context["voice.fallback_why"] == "offline"
        assert call.channel_refs["asterisk_agent_channel"] == "PJSIP/agent1-00000006"
        assert await voice_load(center, "alice") == 1
        accepted = await center.wait_event("interaction.accepted", interaction_id=call.id)
        assert accepted["agent_id"] == "alice"

        # A second caller waits for the server: alice is on the phone, nobody gets it.
        await center.play(queued_elsewhere())
        await center.settle()
        assert await center.route() == []
        assert center.ami.actions_named("Originate") == []

        await center.play(ended.frames)
        await center.settle()
        done = await center.wait_state(call.id, "wrap_up")
        assert done.agent_id == "alice" and not done.customer_left
        assert center.events_of("interaction.abandoned") == []


async def test_a_held_caller_answered_in_the_fallback_queue_is_not_abandoned(tmp_path: Path) -> None:
    [whole] = phases("fallback_queue_answered")
    async with running_center(tmp_path) as center:
        await center.play(whole.frames)
        await center.settle()
        call = await center.only_call()
        assert (call.state, call.agent_id) == (InteractionState.WRAP_UP, "alice")
        assert call.answered_at is not None and call.context["voice.fallback"] == "fallback"
        assert center.events_of("interaction.abandoned") == []
        assert (await center.wait_event("call.updated", what="fallback"))["interaction_id"] == call.id
        assert (await center.routing.snapshot()).waiting == []


async def test_a_caller_who_gives_up_in_the_fallback_queue_is_abandoned(tmp_path: Path) -> None:
    [whole] = phases("fallback_queue_abandon")
    async with running_center(tmp_path) as center:
        await center.play(whole.frames)
        await center.settle()
        call = await center.only_call()
        assert call.state is InteractionState.ABANDONED and call.agent_id is None
        assert call.context["voice.fallback"] == "fallback"
        assert (await center.routing.snapshot()).waiting == []


async def test_a_caller_offered_by_us_and_taken_by_the_fallback_queue_is_withdrawn_from_the_agent(
        tmp_path: Path) -> None:
    [whole] = phases("fallback_queue_answered")
    queued = tuple(f for f in whole.frames[:next(i for i, f in enumerate(whole.frames)
                                                  if "CtiFallback" in f)])
    rest = whole.frames[len(queued):]
    async with running_center(tmp_path) as center:
        await center.available("bob")
        await center.play(queued)
        await center.settle()
        call = await center.only_call()
        [offer] = await center.route()
        assert offer.agent_id == "bob"
        await center.play(rest)  # the hold timed out before bob answered; agent1 took it there
        await center.settle()
        withdrawn = await center.wait_event("interaction.offer_withdrawn", interaction_id=call.id)
        assert withdrawn["agent_id"] == "bob"
        done = await center.wait_state(call.id, "wrap_up")
        assert done.agent_id == "alice"
        assert await voice_load(center, "bob") == 0


@pytest.mark.parametrize("state", ["INUSE", "RINGING", "BUSY", "ONHOLD"])
async def test_a_phone_on_a_call_of_no_interaction_takes_no_offer(tmp_path: Path, state: str) -> None:
    """Whatever put the phone on a call (a consult, a call dialled by hand, the fallback queue)."""
    recorded = device_states("agent_busy_on_fallback_call", "PJSIP/agent1")
    busy = recorded["INUSE"].replace("State: INUSE", f"State: {state}")
    async with running_center(tmp_path) as center:
        await center.available("alice")
        await center.play((busy,))
        await center.play(queued_elsewhere())
        await center.settle()
        assert await center.route() == []
        await center.play((recorded["NOT_INUSE"],))
        await center.settle()
        [offer] = await center.route()
        assert offer.agent_id == "alice"


async def test_a_caller_waiting_in_the_fallback_queue_is_never_offered_by_the_server(
        tmp_path: Path) -> None:
    talking, _ = live2("agent_busy_on_fallback_call")
    joined = talking.frames[:next(i for i, f in enumerate(talking.frames)
                                  if f.startswith("Event: QueueCallerJoin")) + 1]
    async with running_center(tmp_path) as center:
        await center.available("bob")
        await center.play(joined)
        await center.settle()
        call = await center.only_call()
        assert call.state is InteractionState.QUEUED and call.context["voice.fallback"] == "fallback"
        assert await center.route() == []
        # A restarted server recovers its waiting work: not this one, app_queue has it.
        assert await center.interactions.recover([call]) == 0
        assert (await center.routing.snapshot()).waiting == []
        assert await center.route() == []
