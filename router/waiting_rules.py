"""Rules a wait earns, as a pure function of (waiting items, queue rules, now): no clock, no I/O.

Two rules, so that no customer waits for ever for someone who is not coming:

* **transfer fallback**: work transferred to one agent (``target_agent``) that they have not
  taken ``fallback`` seconds after the transfer goes to the whole queue. The wait of a
  transferred item starts at the transfer (``enqueued_at``), so that is what is measured.
* **overflow by wait**: each queue's rules, in order of ``after`` (seconds counted from the
  start of the wait): move to ``to_queue`` (that queue's skills and service target) and/or
  lower the required skill levels to ``widen`` (0 drops the requirement). A rule that would
  change nothing (already applied) is not a move, so a rule applies once. Work still aimed at
  one agent overflows only after it has fallen back to its queue.

At most one move per item per call: the next call sees the moved item (a chain of overflows
goes one queue per pass, each logged).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from cti.domain import Overflow, QueueConfig
from cti.routing import WaitingItem, WaitingMove

__all__ = ["due_moves", "widened"]


def widened(skills: Mapping[str, int], widen: Mapping[str, int]) -> dict[str, int]:
    """``skills`` with each level in ``widen`` lowered to it (never raised); 0 drops the skill."""
    out: dict[str, int] = {}
    for name, level in skills.items():
        cap = widen.get(name)
        if cap is None:
            out[name] = level
        elif cap > 0:
            out[name] = min(level, cap)
    return out


def due_moves(waiting: Iterable[WaitingItem], *, queues: Mapping[str, QueueConfig],
              fallback: Callable[[QueueConfig], float], now: float) -> list[WaitingMove]:
    """The moves due now. ``fallback``: a queue's transfer fallback in seconds."""
    moves: list[WaitingMove] = []
    # Per queue: its rules' thresholds and its fallback, looked up once per call, not per item.
    plans = {name: (tuple(r.after for r in q.overflow), fallback(q)) for name, q in queues.items()}
    # Items of one queue with the same skills that passed the same number of rules move alike.
    decided: dict[tuple[str, tuple[tuple[str, int], ...], int], WaitingMove | None] = {}
    for item in waiting:
        plan = plans.get(item.queue)
        if plan is None:
            continue  # removed by an admin meanwhile: the work stays where it is
        afters, after_fallback = plan
        waited = now - item.enqueued_at
        if item.target_agent is not None:
            if waited >= after_fallback:
                moves.append(WaitingMove(interaction_id=item.interaction_id, why="transfer-fallback",
                                         queue=item.queue, skills=dict(item.skills), rule="to-agent-timeout",
                                         after=after_fallback))
            continue
        if not afters or waited < afters[0]:
            continue  # the usual case: no rule reached yet
        passed = bisect.bisect_right(afters, waited)
        if not _changes(item, queues[item.queue].overflow[:passed]):
            continue  # every rule reached is applied already (the steady state): no allocation
        key = (item.queue, tuple(sorted(item.skills.items())), passed)
        if key not in decided:
            decided[key] = _overflow(item, queues[item.queue], queues, passed)
        move = decided[key]
        if move is not None:
            moves.append(replace(move, interaction_id=item.interaction_id))
    return moves


def _changes(item: WaitingItem, rules: Iterable[Overflow]) -> bool:
    """Whether one of ``rules`` would change the item (a quick check before the move is built)."""
    for rule in rules:
        if rule.to_queue is not None and rule.to_queue != item.queue:
            return True
        for name, level in item.skills.items():
            cap = rule.widen.get(name)
            if cap is not None and (cap == 0 or level > cap):
                return True
    return False


def _overflow(item: WaitingItem, queue: QueueConfig, queues: Mapping[str, QueueConfig],
              passed: int) -> WaitingMove | None:
    """The move of the first of the ``passed`` rules (in order of ``after``) that changes something."""
    for rule in queue.overflow[:passed]:
        target = queues.get(rule.to_queue) if rule.to_queue is not None else None
        base = dict(target.skills) if target is not None else dict(item.skills)
        skills = widened(base, rule.widen)
        name = target.name if target is not None else item.queue
        if name == item.queue and skills == dict(item.skills):
            continue  # applied already
        return WaitingMove(interaction_id=item.interaction_id, why="overflow", queue=name, skills=skills,
                           rule="to-queue" if target is not None else "widen", after=rule.after)
    return None
