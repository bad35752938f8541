"""Waiting in tests for what the server does in the background."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def until(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "the condition",
                every: float = 0.05) -> Any:
    """The first truthy value of ``check()`` (a plain or an async function) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)
