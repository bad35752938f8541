"""A consult (attended transfer) always ends visibly, and keeps both agents from other calls.

``attended_transfer_complete``: alice consults bob (AMI Atxfer to 202@cti-agents), bob answers,
alice hangs up, which completes it. The other endings replay the same real frames cut short, with
the recording's own Hangup of the caller or of bob's leg where that party leaves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ami.center import Center, Phase, live2, phases, running_center
from tests.ami.fake_ami import header

pytestmark = pytest.mark.integration

SCENARIO = "attended_transfer_complete"


async def consulting(center: Center) -> tuple[str, Phase]:
    """Alice talks to the recording's caller and starts a consult with bob."""
    first, talking, consult = phases(SCENARIO)
    call, [offer], _ = await center.ring(first.frames, "alice", "bob")
    assert offer.agent_id == "alice"
    await center.play(talking.frames)
    await center.wait_state(call.id, "active")
    await center.bridge.consult(call.id, "alice", "bob")
    sent = await center.ami.wait_action("Atxfer")
    assert talking.action is not None and header(sent, "Exten") == header(talking.action, "Exten")
    return call.id, consult


def bob_answered(consult: Phase) -> tuple[tuple[str, ...], tuple[str, ...]]:
    at = next(i for i, f in enumerate(consult.frames)
              if f.startswith("Event: BridgeEnter") and "Channel: PJSIP/agent2-" in f)
    return consult.frames[:at + 1], consult.frames[at + 1:]


def last_hangup_of(consult: Phase, channel_prefix: str) -> str:
    return [f for f in consult.frames if f.startswith("Event: Hangup\r\n")
            and f"Channel: {channel_prefix}" in f][-1]


def ends(center: Center, call_id: str) -> list[tuple[str | None, str]]:
    return [(e["agent_id"], e["details"]["why"]) for e in center.events_of("call.updated")
            if e["interaction_id"] == call_id and e["what"] == "consult-ended"]


async def test_a_completed_consult_ends_once_for_both_agents(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, consult = await consulting(center)
        await center.play(consult.frames)
        await center.wait_event("interaction.accepted", interaction_id=call_id, agent_id="bob")
        await center.wait_state(call_id, "wrap_up")
        await center.settle()
        assert sorted(ends(center, call_id)) == [("alice", "completed"), ("bob", "completed")]


@pytest.mark.parametrize(("who", "why"), [("PJSIP/sipp-", "caller-left"), ("PJSIP/agent2-", "target-left"),
                                          ("PJSIP/agent1-", "agent-left")])
async def test_a_consult_ends_when_a_party_leaves(tmp_path: Path, who: str, why: str) -> None:
    async with running_center(tmp_path) as center:
        call_id, consult = await consulting(center)
        answered, _ = bob_answered(consult)
        await center.play(answered)
        await center.settle()
        assert ends(center, call_id) == []
        await center.play((last_hangup_of(consult, who),))
        await center.settle()
        assert sorted(ends(center, call_id)) == [("alice", why), ("bob", why)]


async def test_a_cancelled_consult_ends_once(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, consult = await consulting(center)
        answered, _ = bob_answered(consult)
        await center.play(answered)
        await center.settle()
        await center.bridge.cancel_consult(call_id, "alice")
        await center.ami.wait_action("CancelAtxfer")
        await center.settle()
        assert sorted(ends(center, call_id)) == [("alice", "cancelled"), ("bob", "cancelled")]


async def test_agents_on_a_consult_are_offered_no_call(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        _, consult = await consulting(center)
        answered, _ = bob_answered(consult)
        await center.play(answered)  # bob's phone rang and is on the consult now
        await center.play(live2("clean_stop_redirects_waiting_caller")[0].frames)  # another caller
        await center.settle()
        assert len(await center.voice_calls()) == 2
        assert await center.route() == []  # alice and bob are available, but on the phone
        assert len(center.ami.actions_named("Originate")) == 1
