"""What a waiting customer is told: their place in the queue and an estimated wait (pure).

**Position**: 1 + the number of items waiting in the same queue on the same channel that the
router ranks before this one (more urgent: ``cti.routing.urgency``, ties older first). Work on
other channels or queues is not counted: it is served by its own agents and targets.

**Estimated wait**: position x (window / answers in the window), where the answers are the
segments of that queue and channel answered in the last ``window`` seconds, read from the event
log (``cti.reporting``). That is the time the queue has recently needed per answer, times how
many answers are needed before this customer's. None (no estimate shown) when the queue
answered nobody in the window: a guess from nothing would be a promise the queue cannot keep.
It is rounded up to whole ``ROUND`` seconds so it does not flicker with each update.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable

from cti.routing import WaitingItem, urgency
from cti.segments import Segment

ESTIMATE_WINDOW = 900.0  # 15 minutes of answers
ROUND = 30.0


def positions(waiting: Iterable[WaitingItem], now: float, *,
              queues: Collection[str] | None = None) -> dict[str, int]:
    """Each waiting item's 1-based position among its queue's items on its channel; only of
    ``queues`` when given (those a visitor waits in: the others are not ranked at all)."""
    groups: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for item in waiting:
        if queues is not None and item.queue not in queues:
            continue
        groups.setdefault((item.queue, item.channel.value), []).append(
            (-urgency(item, now), item.enqueued_at, item.interaction_id))
    out: dict[str, int] = {}
    for keyed in groups.values():
        keyed.sort()
        for place, (_, _, interaction_id) in enumerate(keyed, start=1):
            out[interaction_id] = place
    return out


def estimated_wait(position: int, *, answered: int, window: float = ESTIMATE_WINDOW) -> float | None:
    """Seconds until this customer is likely answered, or None without recent answers."""
    if answered <= 0 or position <= 0 or window <= 0:
        return None
    return math.ceil(position * window / answered / ROUND) * ROUND



def answers_by_queue(segments: Iterable[Segment], *, start: float, end: float,
                     channel: str) -> dict[str, int]:
    """How many waits on ``channel`` each queue answered in [start, end) (by the time of the
    answer, whenever the wait began)."""
    out: dict[str, int] = {}
    for s in segments:
        if s.channel == channel and s.answered_at is not None and s.queued and start <= s.answered_at < end:
            out[s.queue] = out.get(s.queue, 0) + 1
    return out
