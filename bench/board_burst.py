"""Supervisor board under a burst: 1,000 events pushed at a board with 60 agents on it, several
rounds on one page, timed in Chromium (the same burst and page probes as
tests/frontend/test_board_burst.py, which checks the batching and asserts no timing).

Prints, over every round: the longest frame gap of each round and the long tasks (over 50 ms,
as the browser reports them) as p50 / p99 / max in ms; the frames over 100 ms (the goal is none);
the long animation frames (over 50 ms) and, for the longest, what the browser says it spent on:
scripts (of which forced style and layout), rendering, and the rest (short tasks, or the thread
waiting for the CPU); the redraws per burst and the longest redraw, and the agent-detail requests
per burst. Needs Chromium (``--chromium``)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench.common import emit, percentile
from tests.browser import launch
from tests.frontend.burst import BURST, CENTER, BurstFigures, measure, open_board
from tests.stranded.helpers import center


async def _run(rounds: int, chromium: str) -> list[BurstFigures]:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        async with center(Path(tmp), **CENTER) as c, async_playwright() as pw:
            browser = await launch(pw, chromium)
            page = await open_board(browser, c.url)
            figures = [await measure(c, page, n) for n in range(rounds)]
            await browser.close()
    return figures


def _spread(name: str, values: list[float]) -> None:
    ordered = sorted(float(v) for v in values) or [0.0]
    emit(f"{name}_p50_ms", percentile(ordered, 0.5))
    emit(f"{name}_p99_ms", percentile(ordered, 0.99))
    emit(f"{name}_max_ms", ordered[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench board_burst")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    figures = asyncio.run(_run(args.rounds, args.chromium))
    emit("events_per_burst", BURST)
    emit("bursts", len(figures))
    _spread("longest_frame", [f.longest_frame for f in figures])
    emit("frames_over_100ms", sum(1 for f in figures for lf in f.long_frames if lf.duration > 100.0))
    long_frames = [lf for f in figures for lf in f.long_frames]
    emit("long_frames", len(long_frames))
    _spread("long_frame", [lf.duration for lf in long_frames])
    if long_frames:
        worst = max(long_frames, key=lambda lf: lf.duration)
        emit("long_frame_worst_script_ms", worst.script)
        emit("long_frame_worst_forced_layout_ms", worst.layout)
        emit("long_frame_worst_render_ms", worst.render)
        emit("long_frame_worst_waiting_ms", worst.waiting)
        emit("long_frame_worst_scripts", ", ".join(worst.scripts) or "-")
        emit("long_frame_script_max_ms", max(lf.script for lf in long_frames))
    long_tasks = [t for f in figures for t in f.long_tasks]
    emit("long_tasks", len(long_tasks))
    _spread("long_task", long_tasks)
    emit("burst_drawn_ms_max", max(f.elapsed for f in figures) - 1000.0)  # less the second waited after
    emit("redraws_per_burst_max", max(len(f.draws) for f in figures))
    emit("redraws_per_burst_min", min(len(f.draws) for f in figures))
    emit("redraw_max_ms", float(max((d for f in figures for d in f.draws), default=0.0)))
    emit("agent_requests_per_burst_max", max(f.agent_requests for f in figures))
    return 0
