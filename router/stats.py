"""Queue figures for wallboards and the desktop's hello: the same shape from every store."""

from __future__ import annotations

from collections.abc import Iterable

from cti.domain import AgentState, Channel
from cti.routing import QueueStats, WaitingItem

__all__ = ["QueueStats", "build_stats"]


def build_stats(*, now: float, waiting: Iterable[WaitingItem], offered: int, active: int,
                wrapping: int, agent_states: Iterable[AgentState]) -> QueueStats:
    by_queue: dict[str, dict[Channel, int]] = {}
    oldest: dict[str, float] = {}
    count = 0
    for item in waiting:
        count += 1
        channels = by_queue.setdefault(item.queue, {})
        channels[item.channel] = channels.get(item.channel, 0) + 1
        waited = max(0.0, now - item.enqueued_at)
        if waited > oldest.get(item.queue, -1.0):
            oldest[item.queue] = waited
    states = dict.fromkeys(AgentState, 0)
    for state in agent_states:
        states[state] += 1
    return QueueStats(at=now, waiting=count, offered=offered, active=active, wrapping=wrapping,
                      waiting_by_queue=by_queue, oldest_wait=oldest, agents_by_state=states)
