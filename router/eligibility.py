"""Who may take what: the eligibility rules shared by the policy and the stores.

One function answers "why can this agent not take this item now?" so that ``decide``,
``explain`` and the memory store's ``try_offer`` can never disagree (the Redis store's Lua
script mirrors it, and the contract suite checks both stores against the same cases).
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.domain import AgentState, Channel
from cti.routing import WaitingItem


def skill_gap(agent_skills: Mapping[str, int], required: Mapping[str, int]) -> str | None:
    """The first required skill the agent lacks (sorted, so the answer is stable), or None."""
    for skill in sorted(required):
        have = agent_skills.get(skill)
        if have is None:
            return f"missing-skill:{skill}"
        if have < required[skill]:
            return f"skill-too-low:{skill}"
    return None


def slot_refusal(capacity: Mapping[Channel, int], load: Mapping[Channel, int],
                 channel: Channel) -> str | None:
    """Whether an agent with this load has a free slot for ``channel``; voice is exclusive."""
    if load.get(channel, 0) >= capacity.get(channel, 0):
        return f"no-capacity:{channel.value}"
    if channel is Channel.VOICE:
        # A call needs the agent's full attention: nothing else may be in progress.
        if any(n > 0 for n in load.values()):
            return "voice-exclusive"
    elif load.get(Channel.VOICE, 0) > 0:
        return "voice-exclusive"
    return None


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
    if gap is not None:
        return gap
    return slot_refusal(capacity, load, item.channel)


def skill_match(agent_skills: Mapping[str, int], required: Mapping[str, int]) -> dict[str, int]:
    """The agent's level for each required skill (0 where they lack it)."""
    return {skill: agent_skills.get(skill, 0) for skill in required}
