"""The incremental ranking (router.ranking) picks exactly what the full sort (policy.decide) picks.

Random snapshots are drawn with few distinct values on purpose, so that ties (same wait,
same urgency across channels, same skill sum, same idle time), shared customers, target and
preferred agents, exclusions, full agents and voice exclusivity all occur often.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot, Assignment, LastServed, RoutingSettings, RoutingSnapshot, WaitingItem
from router.policy import decide
from router.ranking import RoutingIndex
from tests.router.builders import NOW

SETTINGS = RoutingSettings(preferred_window=600.0)
SKILLS = ("billing", "sales", "tech")
CHANNELS = (Channel.VOICE, Channel.CHAT, Channel.EMAIL)
AGENT_IDS = tuple(f"a{n}" for n in range(6))
STATES = (AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.AWAY,
          AgentState.WRAP_UP, AgentState.OFFLINE)

agent_id = st.sampled_from(AGENT_IDS)
skills = st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 3), max_size=3)


@st.composite
def agents(draw: st.DrawFn) -> AgentSnapshot:
    capacity = draw(st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 2), max_size=3))
    load = {c: draw(st.integers(0, n)) for c, n in capacity.items() if draw(st.booleans())}
    return AgentSnapshot(agent_id=draw(agent_id), state=draw(st.sampled_from(STATES)), skills=draw(skills),
                         capacity=capacity, load=load,
                         idle_since=NOW - draw(st.sampled_from((10.0, 20.0, 30.0))))


@st.composite
def items(draw: st.DrawFn, iid: str) -> WaitingItem:
    return WaitingItem(
        interaction_id=iid, channel=draw(st.sampled_from(CHANNELS)), queue="q",
        customer_id=f"c{draw(st.integers(0, 4))}",
        # 30 s of a 60 s target at priority 1 ties with 60 s of 120 s: urgency ties across classes.
        enqueued_at=NOW - draw(st.sampled_from((-5.0, 0.0, 10.0, 30.0, 60.0, 600.0))),
        service_target=draw(st.sampled_from((60.0, 120.0, 1e-12))),
        priority=draw(st.sampled_from((1.0, 1.0, 2.0, 0.0))),
        skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 2), max_size=2)),
        target_agent=draw(st.one_of(st.none(), st.none(), st.none(), agent_id)),
        excluded_agents=frozenset(draw(st.lists(agent_id, max_size=2))),
        working_agent=draw(st.one_of(st.none(), st.none(), agent_id)),
        # Overflowed work: also offered to other queues, with their skill sets.
        also=draw(st.one_of(st.just({}), st.just({}), st.dictionaries(
            st.sampled_from(("q2", "q3")),
            st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 2), max_size=2), max_size=2))))


@st.composite
def snapshots(draw: st.DrawFn) -> RoutingSnapshot:
    by_id = {a.agent_id: a for a in draw(st.lists(agents(), max_size=6))}
    n = draw(st.integers(0, 25))
    # Ids drawn out of order so that id tie-breaks do not follow insertion order.
    ids = draw(st.permutations([f"i{k:02d}" for k in range(n)]))
    waiting = [draw(items(iid)) for iid in ids]
    last = {f"c{c}": LastServed(agent_id=draw(agent_id), at=NOW - draw(st.sampled_from((60.0, 900.0))))
            for c in range(5) if draw(st.booleans())}
    return RoutingSnapshot(waiting=waiting, agents=list(by_id.values()), last_served=last)


def index_decide(index: RoutingIndex) -> list[Assignment]:
    return index.decide(now=NOW, settings=SETTINGS)


def full_sort(index: RoutingIndex) -> list[Assignment]:
    snap = RoutingSnapshot(waiting=list(index.items()), agents=list(index.agents()),
                           last_served=index.last_served)
    return decide(snap, now=NOW, settings=SETTINGS)


@pytest.mark.long
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_the_index_decides_like_the_full_sort(snapshot: RoutingSnapshot) -> None:
    assert index_decide(RoutingIndex.of(snapshot)) == decide(snapshot, now=NOW, settings=SETTINGS)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), st.data())
def test_the_index_stays_right_through_changes_and_passes(snapshot: RoutingSnapshot, data: st.DataObject
                                                          ) -> None:
    """Items come and go, agents change, passes are applied: every pass still matches."""
    index = RoutingIndex.of(snapshot)
    last = dict(snapshot.last_served)
    index.last_served = last
    fresh = 100
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(("add", "drop", "requeue", "agent", "pass", "pass", "last")))
        waiting = sorted(w.interaction_id for w in index.items())
        if op == "add":
            index.put_item(data.draw(items(f"i{fresh}")))
            fresh += 1
        elif op == "drop" and waiting:
            index.drop_item(data.draw(st.sampled_from(waiting)))
        elif op == "requeue" and waiting:
            # Back with an exclusion, or the same item again (same class, same age).
            chosen = data.draw(st.sampled_from(waiting))
            old = next(w for w in index.items() if w.interaction_id == chosen)
            if data.draw(st.booleans()):
                old = replace(old, excluded_agents=old.excluded_agents | {data.draw(agent_id)})
            index.drop_item(old.interaction_id)
            index.put_item(old)
        elif op == "agent":
            index.put_agent(data.draw(agents()))
        elif op == "last":
            last[f"c{data.draw(st.integers(0, 4))}"] = LastServed(agent_id=data.draw(agent_id), at=NOW - 1)
        elif op == "pass":
            got = index_decide(index)
            assert got == full_sort(index)
            apply(index, got)
        assert index_decide(index) == full_sort(index)


def apply(index: RoutingIndex, assignments: list[Assignment]) -> None:
    """What a store does when each offer succeeds: the item leaves, the agent's load grows."""
    by_id = {a.agent_id: a for a in index.agents()}
    for assignment in assignments:
        item = index.drop_item(assignment.interaction_id)
        assert item is not None
        agent = by_id[assignment.agent_id]
        load = dict(agent.load)
        load[item.channel] = load.get(item.channel, 0) + 1
        by_id[agent.agent_id] = agent = replace(agent, load=load)
        index.put_agent(agent)


def test_a_blocked_class_does_not_block_the_others() -> None:
    # The oldest e-mails need a skill nobody free has; the younger plain one still goes.
    waiting = [WaitingItem(interaction_id=f"m{n}", channel=Channel.EMAIL, queue="q", customer_id=f"c{n}",
                           enqueued_at=NOW - 100 + n, service_target=600.0, skills={"tech": 5})
               for n in range(50)]
    waiting.append(WaitingItem(interaction_id="plain", channel=Channel.EMAIL, queue="q", customer_id="c",
                               enqueued_at=NOW, service_target=600.0))
    agent = AgentSnapshot(agent_id="a1", state=AgentState.AVAILABLE, skills={"tech": 1},
                          capacity={Channel.EMAIL: 5}, load={}, idle_since=NOW)
    snapshot = RoutingSnapshot(waiting=waiting, agents=[agent], last_served={})
    got = index_decide(RoutingIndex.of(snapshot))
    assert [(a.interaction_id, a.agent_id) for a in got] == [("plain", "a1")]
    assert got == decide(snapshot, now=NOW, settings=SETTINGS)


def test_many_items_of_one_class_go_oldest_first() -> None:
    waiting = [WaitingItem(interaction_id=f"m{n:04d}", channel=Channel.EMAIL, queue="q", customer_id=f"c{n}",
                           enqueued_at=NOW - (n % 7), service_target=600.0) for n in range(1000)]
    agents = [AgentSnapshot(agent_id=f"a{n}", state=AgentState.AVAILABLE, skills={},
                            capacity={Channel.EMAIL: 2}, load={}, idle_since=NOW - n) for n in range(3)]
    snapshot = RoutingSnapshot(waiting=waiting, agents=agents, last_served={})
    index = RoutingIndex.of(snapshot)
    got = index_decide(index)
    assert got == decide(snapshot, now=NOW, settings=SETTINGS)
    assert len(got) == 6
    # Dropping most of the queue (dead entries, compaction) changes nothing for the rest.
    for n in range(0, 1000, 3):
        index.drop_item(f"m{n:04d}")
    assert index_decide(index) == full_sort(index)
