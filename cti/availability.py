"""Whether an agent can take work now: the slot and skill rules the router and the core share.

Pure functions on plain data. The router's eligibility (``router.eligibility``) builds on these,
and the core asks the same question before it hands work to one named agent (a transfer), so a
transfer is refused exactly when the router would never offer the work to that agent.
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot

# Wrap-up ends by itself (the queue's wrap-up time), so work aimed at an agent in it is not stuck.
TAKES_WORK = frozenset({AgentState.AVAILABLE, AgentState.WRAP_UP})


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


def transfer_refusal(agent: AgentSnapshot | None, *, channel: Channel,
                     skills: Mapping[str, int]) -> str | None:
    """Why ``agent`` (None: never seen by the router, so offline) cannot be handed work on
    ``channel`` needing ``skills`` now, in the router's words; None when they can."""
    state = agent.state if agent is not None else AgentState.OFFLINE
    if agent is None or state not in TAKES_WORK:
        return f"not-available:{state.value}"
    return skill_gap(agent.skills, skills) or slot_refusal(agent.capacity, agent.load, channel)
