"""Service level per queue and channel over a recent window: how much of the customers' work was
answered within the channel's service target (pure: rows in, figures out).

The convention is the common contact-center one: service level = answered within the target /
(answered + abandoned after the target). A customer who gave up before the target had passed
is left out of both: the center could not have failed them yet. Work still waiting is left out
too (it is on the board as waiting); outbound work never had a target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cti.domain import Channel, InteractionState


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one inbound interaction that arrived in the window."""

    queue: str
    channel: Channel
    state: InteractionState
    queued_at: float | None
    answered_at: float | None
    ended_at: float | None


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    target: float  # seconds
    answered: int
    answered_in_target: int
    abandoned: int
    abandoned_in_target: int  # gave up before the target: not counted against the center
    level: float | None  # answered_in_target / (answered + abandoned after the target); None: nothing yet
    average_answer: float | None  # seconds from queued to answered, over the answered


def service_levels(outcomes: Iterable[Outcome],
                   targets: Mapping[str, Mapping[Channel, float]]) -> dict[str, dict[Channel, ServiceLevel]]:
    """Per queue and channel with a target; work in queues or channels without one is skipped."""
    tallies: dict[tuple[str, Channel], list[float]] = {}
    counts: dict[tuple[str, Channel], list[int]] = {}
    for o in outcomes:
        target = targets.get(o.queue, {}).get(o.channel)
        if target is None or o.queued_at is None:
            continue
        key = (o.queue, o.channel)
        c = counts.setdefault(key, [0, 0, 0, 0])  # answered, in target, abandoned, abandoned early
        if o.answered_at is not None:
            waited = max(0.0, o.answered_at - o.queued_at)
            c[0] += 1
            c[1] += waited <= target
            tallies.setdefault(key, []).append(waited)
        elif o.state is InteractionState.ABANDONED:
            c[2] += 1
            c[3] += o.ended_at is not None and o.ended_at - o.queued_at <= target
    out: dict[str, dict[Channel, ServiceLevel]] = {}
    for (queue, channel), (answered, in_target, abandoned, early) in counts.items():
        counted = answered + abandoned - early
        waits = tallies.get((queue, channel), [])
        out.setdefault(queue, {})[channel] = ServiceLevel(
            target=targets[queue][channel], answered=answered, answered_in_target=in_target,
            abandoned=abandoned, abandoned_in_target=early,
            level=in_target / counted if counted else None,
            average_answer=sum(waits) / len(waits) if waits else None)
    return out
