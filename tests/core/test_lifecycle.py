"""The interaction life cycle on plain data."""

from __future__ import annotations

import pytest

from cti import lifecycle
from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.errors import Conflict

S = InteractionState


def new() -> Interaction:
    return Interaction(id="int-1", channel=Channel.CHAT, direction=Direction.INBOUND,
                       customer_id="cus-1", queue="support", state=S.NEW, arrived_at=100.0)


def test_happy_path_records_each_timestamp() -> None:
    i = lifecycle.apply(new(), "enqueue", now=101)
    i = lifecycle.apply(i, "offer", now=105, agent_id="alice")
    i = lifecycle.apply(i, "accept", now=107, agent_id="alice")
    i = lifecycle.apply(i, "end", now=200)
    i = lifecycle.apply(i, "close", now=230)
    assert (i.state, i.queued_at, i.offered_at, i.answered_at, i.ended_at, i.agent_id) == (
        S.CLOSED, 101, 105, 107, 200, "alice")


def test_requeue_keeps_the_original_wait_start() -> None:
    i = lifecycle.apply(new(), "enqueue", now=101)
    i = lifecycle.apply(i, "offer", now=105, agent_id="alice")
    i = lifecycle.apply(i, "requeue", now=125)
    assert i.state is S.QUEUED and i.queued_at == 101 and i.agent_id is None


def test_transfer_keeps_context_and_moves_queue() -> None:
    i = lifecycle.apply(new(), "enqueue", now=101)
    i = lifecycle.apply(i, "offer", now=105, agent_id="alice")
    i = lifecycle.apply(i, "accept", now=107, agent_id="alice")
    from dataclasses import replace
    i = replace(i, context={"ivr.account": "42"})
    i = lifecycle.apply(i, "transfer", now=150, queue="billing")
    assert i.state is S.QUEUED and i.queue == "billing" and i.context == {"ivr.account": "42"}
    assert i.id == "int-1" and i.agent_id is None


@pytest.mark.parametrize("state", [S.QUEUED, S.OFFERED])
def test_abandon_while_waiting(state: InteractionState) -> None:
    from dataclasses import replace
    i = lifecycle.apply(replace(new(), state=state), "abandon", now=300)
    assert i.state is S.ABANDONED and i.customer_left and i.ended_at == 300


@pytest.mark.parametrize(("state", "transition"), [
    (S.NEW, "accept"), (S.QUEUED, "accept"), (S.ACTIVE, "abandon"), (S.CLOSED, "close"),
    (S.CLOSED, "enqueue"), (S.ABANDONED, "offer"), (S.WRAP_UP, "end"),
])
def test_forbidden_transitions_raise_conflict(state: InteractionState, transition: str) -> None:
    from dataclasses import replace
    with pytest.raises(Conflict) as info:
        lifecycle.apply(replace(new(), state=state), transition, now=1)
    assert info.value.error_id == "invalid-transition"
    assert info.value.details["state"] == state.value


def test_an_outbound_call_starts_active_with_its_agent_and_can_change_hands() -> None:
    from dataclasses import replace
    i = lifecycle.apply(new(), "dial", now=10, agent_id="alice")
    assert (i.state, i.agent_id, i.queued_at) == (S.ACTIVE, "alice", None)
    i = lifecycle.apply(i, "reassign", now=20, agent_id="bob")
    assert (i.state, i.agent_id) == (S.ACTIVE, "bob")
    with pytest.raises(Conflict):
        lifecycle.apply(i, "reassign", now=30)
    with pytest.raises(Conflict):
        lifecycle.apply(replace(i, state=S.QUEUED), "dial", now=30, agent_id="carol")


def test_each_transition_makes_its_log_entries() -> None:
    i = lifecycle.apply(new(), "enqueue", now=101)
    i = lifecycle.apply(i, "offer", now=105, agent_id="alice", details={"rule": "skills"})
    i = lifecycle.apply(i, "requeue", now=125, details={"why": "timeout"})
    i = lifecycle.apply(i, "offer", now=126, agent_id="bob")
    i = lifecycle.apply(i, "accept", now=127, agent_id="bob")
    i = lifecycle.apply(i, "transfer", now=150, queue="billing", details={"to_agent": None})
    kinds = [(e.kind.value, e.at, e.queue, e.agent_id, dict(e.details)) for e in i.log]
    assert kinds == [
        ("queued", 101, "support", None, {"why": "arrival"}),
        ("offered", 105, "support", "alice", {"rule": "skills"}),
        ("queued", 125, "support", None, {"why": "requeue-after-missed-offer", "agent": "alice"}),
        ("offered", 126, "support", "bob", {}),
        ("accepted", 127, "support", "bob", {}),
        ("transferred", 150, "support", "bob", {"mode": "blind", "to_queue": "billing"}),
        ("queued", 150, "billing", None, {"why": "transfer"}),
    ]
    assert all(e.channel == "chat" and e.interaction_id == "int-1" for e in i.log)
