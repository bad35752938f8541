"""Small rules both stores apply the same way: input checks and how an agent's load is shown."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from cti.domain import Channel
from cti.errors import InvalidInput
from cti.routing import WaitingItem

# How many expired last-served entries one release may forget; keeps each call short.
PRUNE_BATCH = 100


def check_item(item: WaitingItem) -> None:
    """Refuse items the policy could not rank (urgency divides by the service target)."""
    if not (math.isfinite(item.service_target) and item.service_target > 0):
        raise InvalidInput("bad-service-target", "the service target must be a positive number of seconds",
                           interaction_id=item.interaction_id, service_target=item.service_target)
    if not (math.isfinite(item.priority) and item.priority >= 0):
        raise InvalidInput("bad-priority", "the priority must be a non-negative number",
                           interaction_id=item.interaction_id, priority=item.priority)
    if not math.isfinite(item.enqueued_at):
        raise InvalidInput("bad-enqueued-at", "the enqueue time must be a finite number",
                           interaction_id=item.interaction_id)


def excluding(item: WaitingItem, agent_id: str) -> WaitingItem:
    """The item as it goes back to the queue after ``agent_id`` let it go: same wait, one more exclusion.

    A transfer addressed to that agent falls back to the whole queue rather than waiting for
    someone who has just declined it.
    """
    target = None if item.target_agent == agent_id else item.target_agent
    return replace(item, excluded_agents=item.excluded_agents | {agent_id}, target_agent=target)


def load_view(capacity: Mapping[Channel, int], load: Mapping[Channel, int]) -> dict[Channel, int]:
    """Every channel the agent has capacity for (zeros included) plus any other busy one."""
    view = {channel: load.get(channel, 0) for channel in capacity}
    for channel, count in load.items():
        if count:
            view[channel] = count
    return view
