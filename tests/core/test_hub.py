"""The event hub's local fan-out: filters on the publisher's side, bounded queues."""

from __future__ import annotations

from cti.events import AgentStateChanged, DomainEvent
from cti.hub import EventHub


def state(agent: str) -> AgentStateChanged:
    return AgentStateChanged(at=1.0, agent_id=agent, state="available")


def drained(sub: object) -> list[DomainEvent]:
    queue = sub.queue  # type: ignore[attr-defined]
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_a_filtered_subscription_only_queues_what_it_wants() -> None:
    hub = EventHub(node_id="n")
    everything = hub.subscribe()
    alice = hub.subscribe(wants=lambda e: e.agent() == "alice")
    for agent in ("bob", "alice", "carol"):
        await hub.publish(state(agent))
    assert [e.agent() for e in drained(alice)] == ["alice"]
    assert len(drained(everything)) == 3


async def test_a_broken_filter_costs_only_its_own_subscriber() -> None:
    hub = EventHub(node_id="n")

    def broken(event: DomainEvent) -> bool:
        raise KeyError("unknown agent")

    bad = hub.subscribe(wants=broken)
    good = hub.subscribe()
    await hub.publish(state("alice"))
    assert drained(bad) == [] and len(drained(good)) == 1


async def test_a_full_subscriber_is_told_it_lagged_and_others_are_not_held_up() -> None:
    hub = EventHub(node_id="n")
    slow = hub.subscribe(maxsize=2)
    fast = hub.subscribe(maxsize=100)
    for n in range(5):
        await hub.publish(state(f"a{n}"))
    assert slow.lagged and len(drained(slow)) == 2
    assert not fast.lagged and len(drained(fast)) == 5
