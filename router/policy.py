"""The routing policy: a pure function of (waiting items, agents, last served, now).

No clock reads, no I/O, no logging: the engine hands in a snapshot and applies the result
through a store. The rules, in order:

* Items go most urgent first, whatever the channel: urgency is the time waited over the
  channel's service target, times the priority (ties: older first, then id).
* An agent may take an item when they are available, hold every required skill at the
  required level, have a free slot on the channel (voice is exclusive both ways), are not
  excluded for it, and are its target agent when it has one.
* Among those: the customer's last agent within the preferred window, then the best summed
  skill level, then the longest idle, then the agent id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cti.errors import NotFound
from cti.routing import (
    MIN_TARGET,
    Assignment,
    Candidate,
    Explanation,
    LastServed,
    RoutingReason,
    RoutingSettings,
    RoutingSnapshot,
    WaitingItem,
    urgency,
)
from router.eligibility import refusal, skill_match
from router.pool import Pool, Slot, SlotPool, requirements

__all__ = ["MIN_TARGET", "assign", "decide", "explain", "urgency"]

def _order(waiting: Sequence[WaitingItem], now: float) -> list[tuple[float, float, str, WaitingItem]]:
    keyed = [(-urgency(w, now), w.enqueued_at, w.interaction_id, w) for w in waiting]
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    return keyed


def _preferred(last_served: Mapping[str, LastServed], item: WaitingItem, now: float,
               settings: RoutingSettings) -> tuple[str, ...]:
    """Preferred agents in order: who works the customer's other open interaction, then who
    served them last (inside the window)."""
    out: list[str] = []
    if item.working_agent is not None:
        out.append(item.working_agent)
    last = last_served.get(item.customer_id)
    if last is not None and now - last.at <= settings.preferred_window and last.agent_id not in out:
        out.append(last.agent_id)
    return tuple(out)


def decide(snapshot: RoutingSnapshot, *, now: float, settings: RoutingSettings) -> list[Assignment]:
    """Assignments for as many waiting items as the free agents can take now.

    This is the full sort: every waiting item is ranked on every call. ``router.ranking``
    gives the same answer from per-class queues; this one stays as its reference.
    """
    pool = Pool(snapshot.agents)
    assignments: list[Assignment] = []
    if pool.free_total == 0:
        return assignments
    for neg_urgency, _, _, item in _order(snapshot.waiting, now):
        if pool.free[item.channel] == 0:
            if pool.free_total == 0:
                break  # nobody can take anything more: the rest of the queue waits
            continue
        assignment = assign(pool, item, -neg_urgency, snapshot.last_served, now=now, settings=settings)
        if assignment is not None:
            assignments.append(assignment)
    return assignments


def assign(pool: SlotPool, item: WaitingItem, urgency: float, last_served: Mapping[str, LastServed], *,
           now: float, settings: RoutingSettings) -> Assignment | None:
    """Give ``item`` to the best agent of ``pool`` who can take it (and count it), or None."""
    picked = _pick(pool, item, _preferred(last_served, item, now, settings))
    if picked is None:
        return None
    slot, rule, preferred_ids = picked
    pool.take(slot, item.channel)
    reason = RoutingReason(
        rule=rule, urgency=urgency, skill_match=skill_match(slot.skills, item.skills),
        preferred=slot.agent_id in preferred_ids, waited=max(0.0, now - item.enqueued_at))
    return Assignment(interaction_id=item.interaction_id, agent_id=slot.agent_id, reason=reason)


def _pick(pool: SlotPool, item: WaitingItem, preferred_ids: tuple[str, ...]
          ) -> tuple[Slot, str, tuple[str, ...]] | None:
    keys = requirements(item)
    if item.target_agent is not None:
        slot = pool.slot(item.target_agent)
        if slot is None or not any(pool.eligible(slot, item, required) for required in keys):
            return None
        return slot, "target-agent", preferred_ids
    for preferred_id in preferred_ids:
        slot = pool.slot(preferred_id)
        if slot is not None and any(pool.eligible(slot, item, required) for required in keys):
            return slot, "preferred-agent", preferred_ids
    # The own queue's agents first; an overflow queue's agents when none of those is free.
    for required in keys:
        first, second = pool.best_two(item, required)
        if first is not None:
            break
    if first is None:
        return None
    # "best-skill" only when the skill level really decided against someone else.
    rule = "best-skill" if second is not None and second[0] < first[0] else "longest-idle"
    return first[1], rule, preferred_ids


def explain(snapshot: RoutingSnapshot, interaction_id: str, *, now: float,
            settings: RoutingSettings) -> Explanation:
    """A dry run for one waiting item: its rank, every agent's eligibility, and who gets it."""
    ordered = _order(snapshot.waiting, now)
    position = next((i for i, k in enumerate(ordered) if k[3].interaction_id == interaction_id), None)
    if position is None:
        raise NotFound("interaction-not-waiting", f"interaction {interaction_id!r} is not waiting",
                       interaction_id=interaction_id)
    item = ordered[position][3]
    preferred_ids = _preferred(snapshot.last_served, item, now, settings)
    candidates = [
        Candidate(
            agent_id=a.agent_id,
            eligible=(why := refusal(agent_id=a.agent_id, state=a.state, skills=a.skills,
                                     capacity=a.capacity, load=a.load, item=item)) is None,
            why_not=why, skill_match=skill_match(a.skills, item.skills),
            preferred=a.agent_id in preferred_ids, idle_since=a.idle_since)
        for a in snapshot.agents
    ]
    # Eligible agents in the order the policy ranks them, then the others by id.
    candidates.sort(key=lambda c: (
        not c.eligible, not c.preferred, -sum(c.skill_match.values()) if c.eligible else 0,
        c.idle_since if c.eligible else 0.0, c.agent_id))
    chosen = next((a for a in decide(snapshot, now=now, settings=settings)
                   if a.interaction_id == interaction_id), None)
    return Explanation(interaction_id=interaction_id, urgency=-ordered[position][0],
                       rank=position + 1, chosen=chosen, candidates=candidates)
