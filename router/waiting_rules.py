"""Rules a wait earns, as a pure function of (waiting items, queue rules, now): no clock, no I/O.

Two rules, so that no customer waits for ever for someone who is not coming:

* **transfer fallback**: work transferred to one agent (``target_agent``) that they have not
  taken ``fallback`` seconds after the transfer goes to the whole queue. The wait of a
  transferred item starts at the transfer (``enqueued_at``), so that is what is measured.
* **overflow by wait**: each queue's rules, in order of ``after`` (seconds counted from the
  start of the wait): also offer it to ``to_queue`` (that queue's skills, lowered by the rule's
  ``widen``), and/or lower its own required skill levels to ``widen`` (0 drops the requirement).
  The work stays in its queue, with its place and its wait: its own agents keep it, the other
  queue's agents may take it too. A rule that would change nothing (already applied) is not a
  move, so a rule applies once. Work still aimed at one agent overflows only after it has fallen
  back to its queue. Only the work's own queue's rules apply (it is never moved anywhere whose
  rules would then count).

At most one move per item per call: the next call sees the changed item (several rules reached
at once apply one per pass, each logged).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from cti.domain import Overflow, QueueConfig
from cti.routing import WaitingItem, WaitingMove

__all__ = ["also_after", "due_moves", "widened"]


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


def also_after(queue: QueueConfig, queues: Mapping[str, QueueConfig],
               reached: Iterable[str]) -> dict[str, dict[str, int]]:
    """The other queues a wait of ``queue`` is offered to once it overflowed to each of ``reached``
    (read back from its log after a restart: the routing store forgot), with the skills the rules
    that added them give; the sweep then finds those rules applied and neither moves nor logs
    the work again."""
    names = set(reached)
    also: dict[str, dict[str, int]] = {}
    for rule in queue.overflow:
        target = queues.get(rule.to_queue) if rule.to_queue is not None else None
        if target is None or target.name == queue.name or target.name in also:
            continue
        if target.name in names:
            also[target.name] = widened(target.skills, rule.widen)
    return also


def due_moves(waiting: Iterable[WaitingItem], *, queues: Mapping[str, QueueConfig],
              fallback: Callable[[QueueConfig], float], now: float) -> list[WaitingMove]:
    """The moves due now. ``fallback``: a queue's transfer fallback in seconds."""
    moves: list[WaitingMove] = []
    # Per queue: its rules' thresholds and its fallback, looked up once per call, not per item.
    plans = {name: (tuple(r.after for r in q.overflow), fallback(q)) for name, q in queues.items()}
    # Items of one queue with the same skills that passed the same number of rules move alike.
    decided: dict[tuple[str, tuple[tuple[str, int], ...], tuple[object, ...], int], WaitingMove | None] = {}
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
                                         after=after_fallback, also=dict(item.also)))
            continue
        if not afters or waited < afters[0]:
            continue  # the usual case: no rule reached yet
        passed = bisect.bisect_right(afters, waited)
        if not _changes(item, queues[item.queue].overflow[:passed]):
            continue  # every rule reached is applied already (the steady state): no allocation
        key = (item.queue, tuple(sorted(item.skills.items())), _frozen(item.also), passed)
        if key not in decided:
            decided[key] = _overflow(item, queues[item.queue], queues, passed)
        move = decided[key]
        if move is not None:
            moves.append(replace(move, interaction_id=item.interaction_id))
    return moves


def _frozen(also: Mapping[str, Mapping[str, int]]) -> tuple[object, ...]:
    return tuple(sorted((q, tuple(sorted(s.items()))) for q, s in also.items()))


def _changes(item: WaitingItem, rules: Iterable[Overflow]) -> bool:
    """Whether one of ``rules`` might change the item (a quick check before the move is built)."""
    for rule in rules:
        if rule.to_queue is not None:
            if rule.to_queue != item.queue and rule.to_queue not in item.also:
                return True
            continue  # its widen is the other queue's
        for name, level in item.skills.items():
            cap = rule.widen.get(name)
            if cap is not None and (cap == 0 or level > cap):
                return True
    return False


def _overflow(item: WaitingItem, queue: QueueConfig, queues: Mapping[str, QueueConfig],
              passed: int) -> WaitingMove | None:
    """The move of the first of the ``passed`` rules (in order of ``after``) that changes something."""
    for rule in queue.overflow[:passed]:
        if rule.to_queue is not None:
            target = queues.get(rule.to_queue)
            if target is None or target.name == item.queue or target.name in item.also:
                continue  # removed meanwhile, or applied already
            also = {**item.also, target.name: widened(target.skills, rule.widen)}
            return WaitingMove(interaction_id=item.interaction_id, why="overflow", queue=item.queue,
                               skills=dict(item.skills), rule="to-queue", after=rule.after, also=also,
                               also_queue=target.name)
        skills = widened(item.skills, rule.widen)
        if skills == dict(item.skills):
            continue  # applied already
        return WaitingMove(interaction_id=item.interaction_id, why="overflow", queue=item.queue,
                           skills=skills, rule="widen", after=rule.after, also=dict(item.also))
    return None
