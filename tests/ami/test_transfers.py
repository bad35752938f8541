"""Transfers on the live Asterisk 22 recordings (``live2/``): each handled once, whoever saw it first.

``desk_blind_transfer_to_queue``: the desk's ``BlindTransfer`` to ``support@cti-hold`` is answered
"Transfer succeeded", and at once the dial plan sends ``UserEvent CtiQueued … Requeued: yes`` for
the same caller. Which of the two the bridge sees first depends on the socket and the event loop;
the interaction must be transferred exactly once either way and the desk must get its answer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cti.domain import Channel, InteractionState
from tests.ami.center import Center, Phase, live2, running_center
from tests.ami.fake_ami import header

pytestmark = pytest.mark.integration

SCENARIO = "desk_blind_transfer_to_queue"


async def talking(center: Center, scenario: str) -> tuple[str, list[Phase]]:
    """Alice takes the recording's caller; the interaction id and the phases after the bridge."""
    queued, connected, *rest = live2(scenario)
    call, [offer], sent = await center.ring(queued.frames)
    assert offer.agent_id == "alice"
    assert header(sent, "Channel") == "PJSIP/agent1"
    await center.play(connected.frames)
    await center.wait_state(call.id, "active")
    return call.id, [connected, *rest]


def transferred(center: Center, call_id: str) -> list[dict[str, object]]:
    return [e for e in center.events_of("interaction.transferred") if e["interaction_id"] == call_id]


async def then_bob_takes_it(center: Center, call_id: str, requeued: Phase, answered: Phase) -> None:
    """The rest of the recording: the router offers the caller again, agent2 answers and hangs up."""
    await center.available("bob")
    [offer] = await center.route()
    assert offer.agent_id == "bob"  # never straight back to alice, who transferred it away
    again = await center.ami.wait_action("Originate", count=2)
    assert requeued.action is not None
    assert header(again, "Channel") == header(requeued.action, "Channel") == "PJSIP/agent2"
    await center.play(answered.frames)
    await center.wait_event("interaction.accepted", interaction_id=call_id, agent_id="bob")
    done = await center.wait_state(call_id, "wrap_up")
    assert done.agent_id == "bob" and done.context["ivr.account"] == "31001"


async def test_a_desk_transfer_to_a_queue_answered_before_the_requeue_event_is_done_once(
        tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (connected, requeued, answered) = await talking(center, SCENARIO)
        moved = await center.bridge.transfer(call_id, "alice", to_queue="support", to_agent=None,
                                             note=None)
        assert moved.state is InteractionState.QUEUED
        sent = await center.ami.wait_action("BlindTransfer")
        assert connected.action is not None
        for key in ("Channel", "Exten", "Context"):
            assert header(sent, key) == header(connected.action, key), key
        await center.play(requeued.frames)  # Requeued: yes, after the desk's transfer was done
        await center.settle()
        assert [e["agent_id"] for e in transferred(center, call_id)] == ["alice"]
        after = await center.context.interaction(call_id)
        assert (after.state, after.agent_id) == (InteractionState.QUEUED, None)
        alice = await center.routing.agent("alice")
        assert alice is not None and alice.load.get(Channel.VOICE, 0) == 0
        await then_bob_takes_it(center, call_id, requeued, answered)
        assert len(transferred(center, call_id)) == 1


async def test_a_desk_transfer_whose_requeue_event_comes_first_still_answers_the_desk(
        tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (_, requeued, answered) = await talking(center, SCENARIO)
        # Asterisk's events overtake its answer to the BlindTransfer (they did live, 3 of 3 runs).
        center.ami.never_answer("BlindTransfer")
        desk = asyncio.create_task(center.bridge.transfer(call_id, "alice", to_queue="support",
                                                          to_agent=None, note="billing question"))
        sent = await center.ami.wait_action("BlindTransfer")
        await center.play(requeued.frames)
        await asyncio.sleep(0.1)  # the bridge may handle them now, before the answer
        center.ami.inject(f"Response: Success\r\nActionID: {header(sent, 'ActionID')}\r\n"
                          "Message: Transfer succeeded\r\n\r\n")
        moved = await asyncio.wait_for(desk, 3)  # 200 to the desk, not 403 not-your-interaction
        assert moved.id == call_id and moved.state is InteractionState.QUEUED
        await center.settle()
        assert [e["agent_id"] for e in transferred(center, call_id)] == ["alice"]
        assert [n.body for n in await center.context.notes(call_id)] == ["billing question"]
        await then_bob_takes_it(center, call_id, requeued, answered)
        assert len(transferred(center, call_id)) == 1


async def test_a_desk_request_for_a_transfer_the_phone_already_made_is_answered_once(
        tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (_, requeued, answered) = await talking(center, SCENARIO)
        await center.play(requeued.frames)  # transferred before the desk's request was read
        await center.settle()
        moved = await center.bridge.transfer(call_id, "alice", to_queue="support", to_agent=None,
                                             note=None)
        assert moved.id == call_id and moved.state is InteractionState.QUEUED
        assert center.ami.actions_named("BlindTransfer") == []  # Asterisk has done it already
        await center.settle()
        assert [e["agent_id"] for e in transferred(center, call_id)] == ["alice"]
        await then_bob_takes_it(center, call_id, requeued, answered)


RINGS = "blind_transfer_target_rings"


def until_frame(frames: tuple[str, ...], marker: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Frames up to and including the first holding every line of ``marker``; the rest."""
    lines = marker.split("\n")
    at = next(i for i, f in enumerate(frames) if all(f"\r\n{m}\r\n" in f"\r\n{f}" for m in lines))
    return frames[:at + 1], frames[at + 1:]


async def test_the_target_of_a_desk_blind_transfer_gets_the_offer_while_the_phone_rings(
        tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (connected, rest) = await talking(center, RINGS)
        await center.available("bob")
        await center.bridge.transfer(call_id, "alice", to_queue=None, to_agent="bob", note="refund")
        sent = await center.ami.wait_action("BlindTransfer")
        assert connected.action is not None
        for key in ("Channel", "Exten", "Context"):
            assert header(sent, key) == header(connected.action, key), key
        ringing, answered = until_frame(rest.frames, "Event: DialState\nDialStatus: RINGING")
        await center.play(ringing)  # agent2 rings for 5 s in the recording
        await center.settle()
        offered = await center.wait_event("interaction.offered", interaction_id=call_id, agent_id="bob")
        assert offered["reason"]["rule"] == "transfer" and offered["reason"]["from_agent"] == "alice"
        assert offered["screen_pop"]["interaction"]["id"] == call_id
        assert offered["screen_pop"]["interaction"]["context"]["ivr.account"] == "34004"
        assert len(center.ami.actions_named("Originate")) == 1  # Asterisk rings bob, not us
        assert (await center.context.interaction(call_id)).agent_id == "alice"

        await center.play(answered)
        await center.wait_event("interaction.accepted", interaction_id=call_id, agent_id="bob")
        done = await center.wait_state(call_id, "wrap_up")
        assert done.agent_id == "bob"
        assert [(e["agent_id"], e["to_agent"]) for e in transferred(center, call_id)] == [("alice", "bob")]
        assert len(center.events_of("interaction.offered")) == 2  # alice's, then bob's


async def test_a_blind_transfer_made_on_the_phone_moves_the_interaction_with_its_pop(
        tmp_path: Path) -> None:
    """The same events with no desk request: a #1 feature code or the phone's transfer key."""
    async with running_center(tmp_path) as center:
        call_id, (_, rest) = await talking(center, RINGS)
        await center.available("bob")
        ringing, answered = until_frame(rest.frames, "Event: DialState\nDialStatus: RINGING")
        await center.play(ringing)
        await center.settle()
        offered = await center.wait_event("interaction.offered", interaction_id=call_id, agent_id="bob")
        assert offered["screen_pop"]["interaction"]["id"] == call_id
        assert [(e["agent_id"], e["to_agent"]) for e in transferred(center, call_id)] == [("alice", "bob")]
        await center.play(answered)
        await center.wait_event("interaction.accepted", interaction_id=call_id, agent_id="bob")
        done = await center.wait_state(call_id, "wrap_up")
        assert done.agent_id == "bob" and done.context["ivr.account"] == "34004"
        assert len(transferred(center, call_id)) == 1
        assert center.ami.actions_named("BlindTransfer") == []
        alice = await center.routing.agent("alice")
        assert alice is not None and alice.load.get(Channel.VOICE, 0) == 0
