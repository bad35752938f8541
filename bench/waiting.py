"""Waiting-rules benchmark: what one sweep (overflow by wait, transfer fallback) and one round of
the chat visitors' queue positions cost on a long queue, in process, without I/O.

``python -m bench waiting [--waiting N] [--runs N]``

Builds ``--waiting`` chat items (default 100,000) in three queues, a tenth aimed at one agent and
one queue with two overflow rules, and times ``router.waiting_rules.due_moves`` and
``cti.waiting_info.positions`` on them (what the sweep and the webchat's round compute on each
snapshot). Also times a sweep once those moves are applied (the steady state:
only new arrivals at a threshold move) and one bare pass over the items (the machine's pace).
Prints the min and median of ``--runs`` runs in milliseconds and the moves found.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from bench.common import emit
from cti.domain import Channel, Overflow, QueueConfig
from cti.routing import WaitingItem
from cti.waiting_info import positions
from router.waiting_rules import due_moves

NOW = 1_800_000_000.0
QUEUES = {
    "support": QueueConfig(name="support", skills={"english": 1}, service_targets={}),
    "billing": QueueConfig(name="billing", skills={"billing": 7}, service_targets={},
                           overflow=(Overflow(after=60, widen={"billing": 4}),
                                     Overflow(after=300, to_queue="support"))),
    "sales": QueueConfig(name="sales", skills={"sales": 3}, service_targets={}),
}


def items(count: int) -> list[WaitingItem]:
    names = list(QUEUES)
    return [WaitingItem(interaction_id=f"int-{n}", channel=Channel.CHAT, queue=names[n % 3],
                        customer_id=f"c{n}",
                        enqueued_at=NOW - (n % 600), service_target=60, priority=1 + n % 2,
                        skills=QUEUES[names[n % 3]].skills, target_agent="bob" if n % 10 == 0 else None)
            for n in range(count)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench waiting")
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    waiting = items(args.waiting)
    # The steady state: the moves applied, as the service would, until none is due.
    settled = waiting
    for _ in range(5):  # one move per item per sweep: a chain of rules takes a few
        due = due_moves(settled, queues=QUEUES, fallback=lambda q: 60.0, now=NOW)
        applied = {m.interaction_id: m for m in due}
        settled = [replace(w, queue=m.queue, skills=m.skills, also=m.also, target_agent=None)
                   if (m := applied.get(w.interaction_id)) else w for w in settled]
    sweeps, steady, rounds, base, moves = [], [], [], [], 0
    for _ in range(args.runs):
        started = time.perf_counter()
        sum(NOW - w.enqueued_at for w in waiting)  # the machine's pace: one pass touching each item
        base.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        due_moves(settled, queues=QUEUES, fallback=lambda q: 60.0, now=NOW)
        steady.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        moves = len(due_moves(waiting, queues=QUEUES, fallback=lambda q: 60.0, now=NOW))
        sweeps.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        positions(waiting, NOW)
        rounds.append((time.perf_counter() - started) * 1000)
    emit("waiting_items", args.waiting)
    emit("waiting_moves_found", moves)
    emit("waiting_one_pass_ms_median", statistics.median(base))
    emit("waiting_steady_sweep_ms_min", min(steady))
    emit("waiting_steady_sweep_ms_median", statistics.median(steady))
    emit("waiting_sweep_ms_min", min(sweeps))
    emit("waiting_sweep_ms_median", statistics.median(sweeps))
    emit("waiting_positions_ms_min", min(rounds))
    emit("waiting_positions_ms_median", statistics.median(rounds))
    return 0
