"""The waiting list from the router's queued items and the stored offers (pure)."""

from __future__ import annotations

from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.routing import WaitingItem
from cti.supervision import waiting_rows

NOW = 1_800_000_000.0


def queued(iid: str, queue: str, waited: float, priority: float = 1.0,
           also: tuple[str, ...] = ()) -> WaitingItem:
    return WaitingItem(interaction_id=iid, channel=Channel.EMAIL, queue=queue, customer_id="c",
                       enqueued_at=NOW - waited, service_target=60.0, priority=priority,
                       also={q: {} for q in also})


def offered(iid: str, queue: str, waited: float,
            state: InteractionState = InteractionState.OFFERED) -> Interaction:
    return Interaction(id=iid, channel=Channel.VOICE, direction=Direction.INBOUND, customer_id="c",
                       queue=queue, state=state, queued_at=NOW - waited, agent_id="alice")


def test_longest_wait_first_in_the_queues_shown_and_at_most_the_limit() -> None:
    rows = waiting_rows([queued("q1", "support", 10, priority=4.0), queued("q2", "sales", 500),
                         queued("q3", "support", 90)],
                        [offered("o1", "support", 30),
                         offered("o2", "support", 999, InteractionState.ACTIVE)],
                        queues={"support"}, now=NOW)
    assert [(r.interaction_id, r.state, r.waited, r.offered_to) for r in rows] == [
        ("q3", "queued", 90.0, None), ("o1", "offered", 30.0, "alice"), ("q1", "queued", 10.0, None)]
    assert (rows[0].channel, rows[1].channel, rows[2].priority) == ("email", "voice", 4.0)
    everything = waiting_rows([queued(f"q{n}", "support", n) for n in range(10)], [], queues=None, now=NOW,
                              limit=3)
    assert [r.interaction_id for r in everything] == ["q9", "q8", "q7"]  # the longest waits are kept


def test_work_overflowing_into_a_queue_is_on_that_queues_list_too() -> None:
    items = [queued("fr", "french", 40, also=("support", "sales")), queued("s", "sales", 5)]
    [row] = waiting_rows(items, [], queues={"support"}, now=NOW)
    assert (row.interaction_id, row.queue, row.also_queues) == ("fr", "french", ("sales", "support"))
    assert [r.interaction_id for r in waiting_rows(items, [], queues={"german"}, now=NOW)] == []
    assert [r.also_queues for r in waiting_rows(items, [], queues={"french", "sales"}, now=NOW)] == [
        ("sales", "support"), ()]
