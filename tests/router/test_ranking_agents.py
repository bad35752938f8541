"""The index keeps free agents ranked between passes: after any change it answers as the full sort.

Agents come, go and change one thing at a time (state, load, skills, idle time, capacity)
while items come and go and passes run; after every step ``RoutingIndex.decide`` must equal
``policy.decide`` on a snapshot of the same state. Values are few on purpose so that skill
sums, idle times and urgencies tie often.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot, Assignment, RoutingSettings, RoutingSnapshot, WaitingItem
from router import open_agents, pool
from router.policy import decide
from router.ranking import RoutingIndex
from tests.router.builders import NOW

SETTINGS = RoutingSettings(preferred_window=600.0)
SKILLS = ("billing", "sales", "tech")
CHANNELS = (Channel.VOICE, Channel.CHAT, Channel.EMAIL)
AGENT_IDS = tuple(f"a{n}" for n in range(10))
STATES = (AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.AWAY,
          AgentState.OFFLINE)
IDLE = (NOW - 10.0, NOW - 20.0, NOW - 30.0)

agent_id = st.sampled_from(AGENT_IDS)
skill_sets = st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 3), max_size=3)


@st.composite
def agents(draw: st.DrawFn, aid: str | None = None) -> AgentSnapshot:
    capacity = draw(st.dictionaries(st.sampled_from(CHANNELS), st.sampled_from((0, 1, 2, 2)), max_size=3))
    load = {c: draw(st.integers(0, n)) for c, n in capacity.items() if draw(st.booleans())}
    return AgentSnapshot(agent_id=aid or draw(agent_id), state=draw(st.sampled_from(STATES)),
                         skills=draw(skill_sets), capacity=capacity, load=load,
                         idle_since=draw(st.sampled_from(IDLE)))


@st.composite
def changed(draw: st.DrawFn, agent: AgentSnapshot) -> AgentSnapshot:
    """The same agent with one thing changed, as a store reports it."""
    what = draw(st.sampled_from(("state", "load", "load", "skills", "level", "idle", "capacity")))
    if what == "state":
        return replace(agent, state=draw(st.sampled_from(STATES)))
    if what == "load":
        channel = draw(st.sampled_from(CHANNELS))
        load = dict(agent.load)
        load[channel] = max(0, load.get(channel, 0) + draw(st.sampled_from((-1, 1))))
        return replace(agent, load=load)
    if what == "skills":
        return replace(agent, skills=draw(skill_sets))
    if what == "level" and agent.skills:
        # One level moves: the agent's place changes in some ranked lists and not in others.
        name = draw(st.sampled_from(sorted(agent.skills)))
        return replace(agent, skills={**agent.skills, name: draw(st.integers(0, 3))})
    if what == "capacity":
        channel = draw(st.sampled_from(CHANNELS))
        return replace(agent, capacity={**agent.capacity, channel: draw(st.integers(0, 2))})
    return replace(agent, idle_since=draw(st.sampled_from(IDLE)))


@st.composite
def items(draw: st.DrawFn, iid: str) -> WaitingItem:
    return WaitingItem(
        interaction_id=iid, channel=draw(st.sampled_from(CHANNELS)), queue="q",
        customer_id=f"c{draw(st.integers(0, 3))}",
        enqueued_at=NOW - draw(st.sampled_from((0.0, 10.0, 30.0, 60.0))),
        service_target=draw(st.sampled_from((60.0, 120.0))),
        priority=draw(st.sampled_from((1.0, 1.0, 2.0))),
        skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 3), max_size=2)),
        target_agent=draw(st.one_of(st.none(), st.none(), st.none(), agent_id)),
        excluded_agents=frozenset(draw(st.lists(agent_id, max_size=2))),
        working_agent=draw(st.one_of(st.none(), st.none(), agent_id)))


def assert_ranked_as_if_built_now(index: RoutingIndex) -> None:
    """Every list the index keeps (in use or spare) is what sorting its agents now would give."""
    # Private on purpose: the invariant every pass relies on, checked directly.
    kept = index._open._lists
    for channel, by_names in kept.items():
        for names, ranked in by_names.items():
            want = sorted((-sum(a.skills[n] for n in names), a.idle_since, a.agent_id)
                          for a in index.agents()
                          if channel in pool.open_channels(a) and all(n in a.skills for n in names))
            assert ranked == want, (channel, names)


def full_sort(index: RoutingIndex) -> list[Assignment]:
    snap = RoutingSnapshot(waiting=list(index.items()), agents=list(index.agents()),
                           last_served=index.last_served)
    return decide(snap, now=NOW, settings=SETTINGS)


def apply(index: RoutingIndex, assignments: list[Assignment]) -> None:
    """What a store does when each offer succeeds: the item leaves, the agent's load grows."""
    by_id = {a.agent_id: a for a in index.agents()}
    for assignment in assignments:
        item = index.drop_item(assignment.interaction_id)
        assert item is not None
        agent = by_id[assignment.agent_id]
        load = {**agent.load, item.channel: agent.load.get(item.channel, 0) + 1}
        by_id[agent.agent_id] = agent = replace(agent, load=load)
        index.put_agent(agent)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from((0, 1, 32)))
def test_every_kind_of_change_keeps_the_full_sorts_answer(data: st.DataObject, spare: int) -> None:
    """put_agent, drop_agent, put_item, drop_item and passes in any order."""
    with mock.patch.object(open_agents, "_SPARE_LISTS", spare):
        index = RoutingIndex()
        # A populated start, so that most changes move someone among others of the same lists.
        for agent in data.draw(st.lists(agents(), min_size=2, max_size=8)):
            index.put_agent(agent)
        fresh = data.draw(st.integers(0, 8))
        for n in range(fresh):
            index.put_item(data.draw(items(f"i{n:03d}")))
        for _ in range(data.draw(st.integers(1, 30))):
            op = data.draw(st.sampled_from(("agent", "change", "change", "change", "leave", "item",
                                            "item", "replace", "drop", "pass")))
            known = {a.agent_id: a for a in index.agents()}
            waiting = sorted(w.interaction_id for w in index.items())
            if op == "agent":
                index.put_agent(data.draw(agents()))
            elif op == "change" and known:
                index.put_agent(data.draw(changed(known[data.draw(st.sampled_from(sorted(known)))])))
            elif op == "leave":
                index.drop_agent(data.draw(agent_id))  # also agents the index never had
            elif op == "item":
                index.put_item(data.draw(items(f"i{fresh:03d}")))
                fresh += 1
            elif op == "replace" and waiting:
                # The same id again, possibly in another class: the old one must be forgotten.
                index.put_item(data.draw(items(data.draw(st.sampled_from(waiting)))))
            elif op == "drop" and waiting:
                index.drop_item(data.draw(st.sampled_from(waiting)))
            elif op == "pass":
                got = index.decide(now=NOW, settings=SETTINGS)
                assert got == full_sort(index)
                apply(index, got)
            assert index.decide(now=NOW, settings=SETTINGS) == full_sort(index)
            assert_ranked_as_if_built_now(index)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(agents(), min_size=1, max_size=8), st.data())
def test_agent_changes_move_them_in_every_ranking(start: list[AgentSnapshot], data: st.DataObject) -> None:
    """Items of every channel and every set of skill names wait, so every ranking is in use."""
    index = RoutingIndex()
    names_sets = [names for size in range(len(SKILLS) + 1) for names in itertools.combinations(SKILLS, size)]
    for n, (channel, names) in enumerate(itertools.product(CHANNELS, names_sets)):
        index.put_item(WaitingItem(interaction_id=f"i{n:03d}", channel=channel, queue="q", customer_id="c",
                                   enqueued_at=NOW - n, service_target=60.0, skills=dict.fromkeys(names, 1)))
    for agent in start:
        index.put_agent(agent)
    for _ in range(data.draw(st.integers(1, 20))):
        known = {a.agent_id: a for a in index.agents()}
        op = data.draw(st.sampled_from(("agent", "change", "change", "change", "leave", "pass")))
        if op == "agent":
            index.put_agent(data.draw(agents()))
        elif op == "change" and known:
            index.put_agent(data.draw(changed(known[data.draw(st.sampled_from(sorted(known)))])))
        elif op == "leave":
            index.drop_agent(data.draw(agent_id))
        elif op == "pass":
            got = index.decide(now=NOW, settings=SETTINGS)
            assert got == full_sort(index)
            apply(index, got)
        assert_ranked_as_if_built_now(index)
        assert index.decide(now=NOW, settings=SETTINGS) == full_sort(index)


@pytest.mark.parametrize("seed", range(6))
def test_long_runs_with_many_agents_keep_the_full_sorts_answer(seed: int) -> None:
    """Enough agents and items that passes fill agents mid-list, and lists are spared and rebuilt."""
    rng = random.Random(seed)
    index = RoutingIndex()
    ids = [f"a{n:03d}" for n in range(120)]
    by_id: dict[str, AgentSnapshot] = {}

    def fresh_agent(aid: str) -> AgentSnapshot:
        capacity = {c: rng.choice((0, 1, 2, 3)) for c in rng.sample(CHANNELS, rng.randint(1, 3))}
        return AgentSnapshot(
            agent_id=aid, state=rng.choice(STATES),
            skills={s: rng.randint(1, 4) for s in rng.sample(SKILLS, rng.randint(0, len(SKILLS)))},
            capacity=capacity, load={c: rng.randint(0, n) for c, n in capacity.items()},
            idle_since=NOW - rng.choice((10.0, 20.0, 30.0, 40.0)))

    for aid in ids:
        by_id[aid] = fresh_agent(aid)
        index.put_agent(by_id[aid])
    fresh = 0
    decided = 0
    with mock.patch.object(open_agents, "_SPARE_LISTS", rng.choice((0, 2, 32))):
        for step in range(300):
            roll = rng.random()
            if roll < 0.45:
                skills = {s: rng.randint(1, 4) for s in rng.sample(SKILLS, rng.choice((0, 1, 1, 2, 3)))}
                index.put_item(WaitingItem(
                    interaction_id=f"i{fresh:04d}", channel=rng.choice(CHANNELS), queue="q",
                    customer_id=f"c{rng.randint(0, 30)}", enqueued_at=NOW - rng.choice((0.0, 5.0, 50.0)),
                    service_target=rng.choice((20.0, 60.0)), skills=skills,
                    excluded_agents=frozenset(rng.sample(ids, rng.choice((0, 0, 1))))))
                fresh += 1
            elif roll < 0.75:
                agent = by_id[rng.choice(ids)]
                busy = [c for c, n in agent.load.items() if n > 0]
                if busy and rng.random() < 0.7:
                    # Finishes an item: free again, idle from now (ties with others often).
                    channel = rng.choice(busy)
                    agent = replace(agent, load={**agent.load, channel: agent.load[channel] - 1},
                                    idle_since=NOW - rng.choice((0.0, 10.0)))
                else:
                    agent = fresh_agent(agent.agent_id)
                by_id[agent.agent_id] = agent
                index.put_agent(agent)
            elif roll < 0.8:
                waiting = sorted(w.interaction_id for w in index.items())
                if waiting:
                    index.drop_item(rng.choice(waiting))
            else:
                got = index.decide(now=NOW, settings=SETTINGS)
                assert got == full_sort(index), f"step {step}"
                apply(index, got)
                by_id = {a.agent_id: a for a in index.agents()}
                decided += len(got)
    assert index.decide(now=NOW, settings=SETTINGS) == full_sort(index)
    assert_ranked_as_if_built_now(index)
    assert decided > 50  # the comparisons were not all of empty answers


def test_a_pass_copies_only_the_agents_it_looks_at() -> None:
    """One waiting chat and 2,000 free agents: the pass works on a handful of them, not all."""
    agents = [AgentSnapshot(agent_id=f"a{n:04d}", state=AgentState.AVAILABLE,
                            skills={"billing": n % 10 + 1, "sales": 1}, capacity={Channel.CHAT: 3},
                            load={}, idle_since=NOW - n) for n in range(2000)]
    waiting = [WaitingItem(interaction_id="i1", channel=Channel.CHAT, queue="q", customer_id="c1",
                           enqueued_at=NOW - 5, service_target=60.0, skills={"billing": 4})]
    index = RoutingIndex.of(RoutingSnapshot(waiting=waiting, agents=agents, last_served={}))
    made: list[str] = []
    real_init = pool.Slot.__init__

    def counting_init(slot: pool.Slot, agent: AgentSnapshot) -> None:
        made.append(agent.agent_id)
        real_init(slot, agent)

    with mock.patch.object(pool.Slot, "__init__", counting_init):
        got = index.decide(now=NOW, settings=SETTINGS)
    # Level 10 and longest idle: a1999; the runner-up (also level 10) is looked at too.
    assert [(a.interaction_id, a.agent_id, a.reason.rule) for a in got] == [("i1", "a1999", "longest-idle")]
    assert len(made) <= 2
