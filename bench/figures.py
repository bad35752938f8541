"""Figures benchmark: an hour of the supervisor board's service level, read from the event log.

``python -m bench figures [--db URL] [--per-second N] [--hours N] [--runs N]``

Seeds a fresh database (a SQLite file by default; any URL migrated to head) with ``--hours`` of
traffic at ``--per-second`` interactions a second (default 10 for 1 hour: 36,000 interactions,
about 190,000 log entries): most answered (queued, offered, accepted, wrap_up, closed), one in
twenty abandoned, one in twenty blind-transferred and answered again. Then, ``--runs`` times,
times the board's computation for the last hour (``ServiceLevelBoard.compute``: the log read,
the segments, the figures) and its parts, a day's figures by hour, and a day's full report by
hour (``GET /api/reports/figures``: with the contacts, first-contact resolution and CSAT).
Prints ``figures_..._ms`` (min and median over the runs) and the row counts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from bench.common import emit
from context.eventlog import saved_rows
from context.migrate import sync_url, upgrade
from context.models import customers, interaction_events, interactions
from context.store import SqlContextStore
from cti.clock import ManualClock, SequentialIds
from cti.eventlog import EntryKind, LogEntry
from cti.figures import Bucket, GroupBy, figures
from cti.hub import EventHub
from cti.reports import ReportGroup, Teams, report
from cti.segments import all_segments
from cti.wallboard import ServiceLevelBoard

T0 = 1_800_000_000.0


def _log(n: int, at: float) -> list[LogEntry]:
    iid = f"int-{n}"

    def e(kind: EntryKind, offset: float, agent: str | None = None, queue: str = "support",
          **details: Any) -> LogEntry:
        return LogEntry(interaction_id=iid, kind=kind, at=at + offset, channel="chat", queue=queue,
                        agent_id=agent, details=details)

    agent = f"agent-{n % 50}"
    out = [e(EntryKind.QUEUED, 0, why="arrival"), e(EntryKind.OFFERED, 4 + n % 30, agent, rule="best-skill")]
    if n % 20 == 0:
        return [out[0], e(EntryKind.ABANDONED, 40)]
    out.append(e(EntryKind.ACCEPTED, 6 + n % 30, agent))
    if n % 20 == 1:
        other = f"agent-{(n + 7) % 50}"
        out += [e(EntryKind.TRANSFERRED, 90, agent, mode="blind", to_queue="billing"),
                e(EntryKind.QUEUED, 90, queue="billing", why="transfer"),
                e(EntryKind.OFFERED, 95, other, queue="billing"),
                e(EntryKind.ACCEPTED, 97, other, queue="billing")]
        agent = other
    return [*out, e(EntryKind.WRAP_UP, 200, agent), e(EntryKind.CLOSED, 230, agent)]


def seed(url: str, total: int, per_second: float) -> int:
    upgrade(url)
    engine = create_engine(sync_url(url))
    entries = 0
    with engine.begin() as conn:
        conn.execute(insert(customers).values(id="c", created_at=T0, root_id="c"))
        for start in range(0, total, 5000):
            rows, events = [], []
            for n in range(start, min(total, start + 5000)):
                at = T0 + n / per_second
                log = _log(n, at)
                rows.append({"id": f"int-{n}", "customer_id": "c", "root_customer_id": "c", "channel": "chat",
                             "direction": "inbound", "queue": log[-1].queue, "state": "closed",
                             "priority": 1.0, "skills": {}, "arrived_at": at, "customer_left": False,
                             "version": 1})
                events += saved_rows(log, version=1, node="bench")
            conn.execute(insert(interactions), rows)
            conn.execute(insert(interaction_events), events)
            entries += len(events)
    engine.dispose()
    return entries


async def measure(url: str, end: float, runs: int) -> dict[str, list[float]]:
    store = SqlContextStore(url=url, clock=ManualClock(end), ids=SequentialIds())
    await store.start()
    board = ServiceLevelBoard(log=store.event_log, hub=EventHub(node_id="bench"), targets=lambda q, c: 60.0)
    names = ("board_hour", "read_hour", "segments_hour", "figures_hour", "report_day_by_hour",
             "full_report_day_by_hour")
    times: dict[str, list[float]] = {k: [] for k in names}
    try:
        for _ in range(runs):
            started = time.perf_counter()
            await board.compute(end - 3600, end)
            times["board_hour"].append(time.perf_counter() - started)
            started = time.perf_counter()
            logs = await store.event_log.touching(end - 3600, end)
            times["read_hour"].append(time.perf_counter() - started)
            started = time.perf_counter()
            segments = all_segments(logs, now=end)
            times["segments_hour"].append(time.perf_counter() - started)
            started = time.perf_counter()
            figures(segments, start=end - 3600, end=end, by=None, targets=lambda q, c: 60.0, short_abandon=5,
                    group=GroupBy.QUEUE)
            times["figures_hour"].append(time.perf_counter() - started)
            started = time.perf_counter()
            day = all_segments(await store.event_log.touching(end - 86_400, end), now=end)
            figures(day, start=end - 86_400, end=end, by=Bucket.HOUR, targets=lambda q, c: 60.0,
                    short_abandon=5, group=GroupBy.QUEUE)
            times["report_day_by_hour"].append(time.perf_counter() - started)
            # What GET /api/reports/figures does: the logs, the contacts of the day and N = 7 days
            # after it, then figures with first-contact resolution and CSAT (cti.reports).
            started = time.perf_counter()
            report(await store.event_log.touching(end - 86_400, end),
                   await store.reports.contacts(end - 86_400, end + 7 * 86_400), start=end - 86_400, end=end,
                   by=Bucket.HOUR, now=end, targets=lambda q, c: 60.0, short_abandon=5, fcr_days=7,
                   teams=Teams(), group=ReportGroup.QUEUE)
            times["full_report_day_by_hour"].append(time.perf_counter() - started)
    finally:
        await store.aclose()
    return times


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench figures")
    parser.add_argument("--db", default=None)
    parser.add_argument("--per-second", type=float, default=10.0)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'figures.db'}"
        total = int(args.per_second * args.hours * 3600)
        entries = seed(url, total, args.per_second)
        emit("figures_interactions", total)
        emit("figures_log_entries", entries)
        times = asyncio.run(measure(url, T0 + total / args.per_second, args.runs))
    for name, values in times.items():
        emit(f"figures_{name}_min_ms", min(values) * 1000)
        emit(f"figures_{name}_median_ms", statistics.median(values) * 1000)
    return 0
