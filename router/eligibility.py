"""Who may take what: the eligibility rules shared by the policy and the stores.

One function answers "why can this agent not take this item now?" so that ``decide``,
``explain`` and the memory store's ``try_offer`` can never disagree (the Redis store's Lua
script mirrors it, and the contract suite checks both stores against the same cases).
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.availability import skill_gap, slot_refusal
from cti.domain import AgentState, Channel
from cti.routing import WaitingItem

__all__ = ["refusal", "skill_gap", "skill_match", "slot_refusal"]


def refusal(*, agent_id: str, state: AgentState, skills: Mapping[str, int],
            capacity: Mapping[Channel, int], load: Mapping[Channel, int],
            item: WaitingItem) -> str | None:
    """Why the agent cannot take ``item`` right now, or None when they can.

    The order of the checks decides which reason is shown when several apply: the ones an
    agent cannot change (target, exclusion) first, then state, skills and load.
    """
    if item.target_agent is not None and agent_id != item.target_agent:
        return "not-target-agent"
    if agent_id in item.excluded_agents:
        return "excluded"
    if state is not AgentState.AVAILABLE:
        return f"not-available:{state.value}"
    gap = skill_gap(skills, item.skills)
    # Overflowed work: an agent who qualifies for one of the other queues it is offered to may
    # take it (the own queue's gap is the one shown otherwise).
    if gap is not None and not any(skill_gap(skills, item.also[q]) is None for q in sorted(item.also)):
        return gap
    return slot_refusal(capacity, load, item.channel)


def skill_match(agent_skills: Mapping[str, int], required: Mapping[str, int]) -> dict[str, int]:
    """The agent's level for each required skill (0 where they lack it)."""
    return {skill: agent_skills.get(skill, 0) for skill in required}
