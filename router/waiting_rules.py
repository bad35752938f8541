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

from collections.abc import Callable, Iterable, Mapping

from cti.domain import QueueConfig
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
    for item in waiting:
        queue = queues.get(item.queue)
        if queue is None:
            continue  # removed by an admin meanwhile: the work stays where it is
        waited = now - item.enqueued_at
        if item.target_agent is not None:
            after = fallback(queue)
            if waited >= after:
                moves.append(WaitingMove(interaction_id=item.interaction_id, why="transfer-fallback",
                                         queue=item.queue, skills=dict(item.skills), rule="to-agent-timeout",
                                         after=after))
            continue
        move = _overflow(item, queue, queues, waited)
        if move is not None:
            moves.append(move)
    return moves


def _overflow(item: WaitingItem, queue: QueueConfig, queues: Mapping[str, QueueConfig],
              waited: float) -> WaitingMove | None:
    for rule in queue.overflow:  # in order of ``after`` (cti.config sorts them)
        if waited < rule.after:
            break
        target = queues.get(rule.to_queue) if rule.to_queue is not None else None
        base = dict(target.skills) if target is not None else dict(item.skills)
        skills = widened(base, rule.widen)
        name = target.name if target is not None else item.queue
        if name == item.queue and skills == dict(item.skills):
            continue  # applied already
        return WaitingMove(interaction_id=item.interaction_id, why="overflow", queue=name, skills=skills,
                           rule="to-queue" if target is not None else "widen", after=rule.after)
    return None
