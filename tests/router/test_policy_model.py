"""The indexed policy against a naive reference on random data, and its speed at scale."""

from __future__ import annotations

import random
import time

import pytest

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot, LastServed, RoutingSettings, RoutingSnapshot, WaitingItem
from router.eligibility import refusal
from router.policy import decide, urgency
from tests.router.builders import NOW, agent, item, snap

SETTINGS = RoutingSettings(preferred_window=600.0)
SKILLS = ("billing", "sales", "tech", "spanish")
CHANNELS = (Channel.VOICE, Channel.CHAT, Channel.EMAIL, Channel.SMS)


def reference(snapshot: RoutingSnapshot, now: float) -> list[tuple[str, str, str]]:
    """The rules written the slow, obvious way: scan every agent for every item."""
    loads = {a.agent_id: dict(a.load) for a in snapshot.agents}
    order = sorted(snapshot.waiting, key=lambda w: (-urgency(w, now), w.enqueued_at, w.interaction_id))
    out = []
    for w in order:
        eligible = [a for a in snapshot.agents
                    if refusal(agent_id=a.agent_id, state=a.state, skills=a.skills, capacity=a.capacity,
                               load=loads[a.agent_id], item=w) is None]
        if not eligible:
            continue
        last = snapshot.last_served.get(w.customer_id)
        preferred = last.agent_id if last and now - last.at <= SETTINGS.preferred_window else None
        score = {a.agent_id: sum(a.skills[s] for s in w.skills) for a in eligible}
        ranked = sorted(eligible, key=lambda a: (-score[a.agent_id], a.idle_since, a.agent_id))
        if w.target_agent is not None:
            chosen, rule = ranked[0], "target-agent"
        elif preferred in score:
            chosen, rule = next(a for a in eligible if a.agent_id == preferred), "preferred-agent"
        else:
            chosen = ranked[0]
            best_skill = len(ranked) > 1 and score[ranked[1].agent_id] < score[chosen.agent_id]
            rule = "best-skill" if best_skill else "longest-idle"
        loads[chosen.agent_id][w.channel] = loads[chosen.agent_id].get(w.channel, 0) + 1
        out.append((w.interaction_id, chosen.agent_id, rule))
    return out


def random_snapshot(rng: random.Random, n_agents: int, n_items: int) -> RoutingSnapshot:
    agents: list[AgentSnapshot] = []
    for i in range(n_agents):
        capacity = {c: rng.choice((0, 1, 1, 2, 3)) for c in rng.sample(CHANNELS, rng.randint(1, 4))}
        load = {c: rng.randint(0, n) for c, n in capacity.items() if rng.random() < 0.3}
        agents.append(agent(
            f"a{i:02d}", state=rng.choice([AgentState.AVAILABLE] * 4 + [AgentState.AWAY, AgentState.WRAP_UP]),
            skills={s: rng.randint(1, 4) for s in rng.sample(SKILLS, rng.randint(0, 3))},
            capacity=capacity, load=load, idle_since=NOW - rng.choice((10, 20, 30))))
    waiting: list[WaitingItem] = []
    for i in range(n_items):
        waiting.append(item(
            f"i{i:03d}", rng.choice(CHANNELS), waited=rng.choice((0, 5, 10, 60, 600)),
            target=rng.choice((20.0, 60.0, 600.0)), priority=rng.choice((1.0, 1.0, 2.0)),
            skills={s: rng.randint(1, 3) for s in rng.sample(SKILLS, rng.randint(0, 2))},
            customer=f"cust-{rng.randint(0, n_items // 2)}",
            target_agent=f"a{rng.randrange(n_agents):02d}" if rng.random() < 0.05 else None,
            excluded={f"a{rng.randrange(n_agents):02d}"} if rng.random() < 0.2 else ()))
    last = {f"cust-{c}": LastServed(agent_id=f"a{rng.randrange(n_agents):02d}",
                                    at=NOW - rng.choice((60, 900)))
            for c in range(n_items // 2) if rng.random() < 0.3}
    return snap(waiting, agents, last)


@pytest.mark.parametrize("seed", range(40))
def test_decide_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    snapshot = random_snapshot(rng, n_agents=rng.randint(1, 25), n_items=rng.randint(1, 80))
    got = [(a.interaction_id, a.agent_id, a.reason.rule)
           for a in decide(snapshot, now=NOW, settings=SETTINGS)]
    assert got == reference(snapshot, NOW)


@pytest.mark.parametrize("seed", range(5))
def test_decide_matches_the_reference_on_larger_queues(seed: int) -> None:
    # Enough items per group that agents fill up mid-list and the lazy lists get compacted.
    rng = random.Random(1000 + seed)
    snapshot = random_snapshot(rng, n_agents=80, n_items=400)
    got = [(a.interaction_id, a.agent_id, a.reason.rule)
           for a in decide(snapshot, now=NOW, settings=SETTINGS)]
    assert got == reference(snapshot, NOW)


def test_decide_at_scale_is_fast() -> None:
    # 1,000 agents and 10,000 waiting items: the engine runs this on every pass. The bound is
    # loose for slow CI machines; a per-item scan of every agent takes several seconds.
    rng = random.Random(7)
    agents = [agent(f"a{i}", skills={s: rng.randint(1, 10) for s in rng.sample(SKILLS, 3)},
                    capacity={Channel.VOICE: 1, Channel.CHAT: 3, Channel.EMAIL: 5},
                    load={Channel.CHAT: rng.randint(0, 3)}, idle_since=NOW - rng.random() * 1000)
              for i in range(1000)]
    waiting = [item(f"i{i}", rng.choice(CHANNELS[:3]), waited=rng.random() * 600,
                    skills={rng.choice(SKILLS): rng.randint(1, 8)}) for i in range(10_000)]
    snapshot = snap(waiting, agents)
    started = time.perf_counter()
    result = decide(snapshot, now=NOW, settings=SETTINGS)
    elapsed = time.perf_counter() - started
    assert len(result) > 1000
    assert elapsed < 2.0, f"decide took {elapsed:.2f}s"
