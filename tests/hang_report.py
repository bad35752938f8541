"""When a test runs too long, print where every asyncio task of the running loops is waiting.

pytest-timeout fails a hung test with the main thread's stack, which for an asyncio test is only
the event loop waiting in ``select``; the coroutines that wait for ever are in the tasks. This
writes them to stderr shortly before the timeout; pytest shows it with the failed test
("Captured stderr call"), so a hang in CI says where it hung.
"""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import threading


def running_loops() -> list[asyncio.AbstractEventLoop]:
    return [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]


def task_report(title: str) -> str:
    out = io.StringIO()
    out.write(f"\n===== {title}: tasks still waiting =====\n")
    for loop in running_loops():
        # Read from another thread while the loop is stuck: good enough for a report.
        for task in list(asyncio.all_tasks(loop)):
            out.write(f"--- {task.get_name()}: {task.get_coro()!r}\n")
            task.print_stack(file=out)
    return out.getvalue()


class HangWatch:
    """Armed for one test: after ``seconds`` it writes ``task_report`` to the real stderr."""

    def __init__(self, test_id: str, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._report, args=(test_id,))
        self._timer.daemon = True

    def _report(self, test_id: str) -> None:
        stderr = sys.__stderr__  # captured by pytest and shown with the test that then times out
        if stderr is not None:
            stderr.write(task_report(f"{test_id} is still running"))
            stderr.flush()

    def __enter__(self) -> HangWatch:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
