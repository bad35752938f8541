"""What a wallboard shows, per queue and channel, as a pure function of what the server knows now.

Inputs: the customers waiting for an offer (the routing store's waiting items), the service
levels of the recent window (``cti.wallboard.ServiceLevelBoard``: the event log read through
the same functions as the reports), the agents with their routing state, and the queues shown.
The formulas (written on the page and in ``docs/reports.md``):

- waiting: customers in the queue on that channel not yet offered to an agent;
- longest wait: now - the first queued time of the longest-waiting of them (kept across re-queues);
- service level: answered within target / (answered + abandoned - abandoned within target);
- average speed of answer: Σ wait of answered / answered;
- abandon rate: abandoned / offered (short abandons, at most 5 s, are in neither);
- agents by state: agents of the shown teams having every skill the queue asks, at its level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cti.domain import AgentProfile, AgentState, Channel, QueueConfig
from cti.routing import AgentSnapshot, WaitingItem


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    channel: str
    waiting: int
    longest_wait: float | None  # seconds; None: nobody waiting
    target: float | None  # the service target in seconds
    service_level: float | None  # 0..1; None: nothing counted yet in the window
    average_speed_of_answer: float | None
    abandon_rate: float | None
    answered: int
    abandoned: int
    offered: int


@dataclass(frozen=True, slots=True)
class QueueFigures:
    queue: str
    channels: tuple[ChannelFigures, ...]
    agents: Mapping[str, int]  # state -> agents (every state, zeros included)


def _target(queue: QueueConfig, channel: str) -> float | None:
    """The queue's service target on the channel (configured, or the channel's default)."""
    try:
        return queue.target_for(Channel(channel))
    except ValueError:
        return None


def can_serve(profile: AgentProfile, queue: QueueConfig) -> bool:
    return all(profile.skills.get(skill, 0) >= level for skill, level in queue.skills.items())


def wallboard(*, now: float, queues: Iterable[QueueConfig], waiting: Iterable[WaitingItem],
              levels: Mapping[str, Mapping[str, Mapping[str, Any]]], agents: Iterable[AgentProfile],
              states: Mapping[str, AgentSnapshot]) -> list[QueueFigures]:
    """Per queue (in the order given) and channel: the board's figures."""
    shown = list(queues)
    names = {q.name for q in shown}
    counts: dict[tuple[str, str], int] = {}
    oldest: dict[tuple[str, str], float] = {}
    for item in waiting:
        if item.queue not in names:
            continue
        key = (item.queue, item.channel.value)
        counts[key] = counts.get(key, 0) + 1
        oldest[key] = min(oldest.get(key, item.enqueued_at), item.enqueued_at)
    people = list(agents)
    out: list[QueueFigures] = []
    for queue in shown:
        level = levels.get(queue.name, {})
        channels = sorted({c.value for c in queue.service_targets} | set(level)
                          | {c for (q, c) in counts if q == queue.name})
        rows = []
        for channel in channels:
            figures = level.get(channel, {})
            offered = int(figures.get("offered", 0))
            abandoned = int(figures.get("abandoned", 0))
            first = oldest.get((queue.name, channel))
            rows.append(ChannelFigures(
                channel=channel, waiting=counts.get((queue.name, channel), 0),
                longest_wait=max(0.0, now - first) if first is not None else None,
                target=_target(queue, channel), service_level=figures.get("level"),
                average_speed_of_answer=figures.get("average_answer"),
                abandon_rate=abandoned / offered if offered else None,
                answered=int(figures.get("answered", 0)), abandoned=abandoned, offered=offered))
        by_state = {s.value: 0 for s in AgentState}
        for profile in people:
            if can_serve(profile, queue):
                snap = states.get(profile.id)
                by_state[(snap.state if snap is not None else AgentState.OFFLINE).value] += 1
        out.append(QueueFigures(queue=queue.name, channels=tuple(rows), agents=by_state))
    return out
