"""A hung test's report names the coroutine that waits, not only the event loop."""

from __future__ import annotations

import asyncio

from tests.hang_report import task_report


async def test_the_report_shows_where_a_waiting_task_waits() -> None:
    async def waits_for_ever(never: asyncio.Event) -> None:
        await never.wait()

    task = asyncio.create_task(waits_for_ever(asyncio.Event()), name="the-stuck-one")
    await asyncio.sleep(0)
    try:
        report = task_report("example")
    finally:
        task.cancel()
    assert "the-stuck-one" in report
    assert "waits_for_ever" in report and "never.wait()" in report
