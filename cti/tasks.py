"""Stopping background tasks, the one way every part of the server does it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


async def stop_tasks(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel the tasks (None and finished ones are fine) and wait until all have ended.

    ``asyncio.wait`` rather than awaiting each under ``suppress(CancelledError)``: that would
    also swallow a cancellation of the task doing the stopping, which must go on up.
    """
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    if live:
        await asyncio.wait(live)
    for task in live:
        # Retrieved, so asyncio does not report it again; a task that failed before it was
        # stopped is a bug worth a line in the log.
        if not task.cancelled() and task.exception() is not None:
            log.warning("task %s had failed: %r", task.get_name(), task.exception())
