"""Readiness: can this node do its work now? The database, Redis and the AMI link.

Liveness (``/healthz``) says only that the process answers; a load balancer or an orchestrator
asks readiness before sending traffic, and takes a node out while something it needs is down.
Each check has its own short time-out and they run together, so one dead dependency cannot make
the answer itself time out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

__all__ = ["Check", "Readiness", "Report"]

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0  # seconds: a database or Redis slower than this is not ready to serve

Check = Callable[[], Awaitable[None]]  # raises (anything) when the dependency is down


@dataclass(frozen=True, slots=True)
class Report:
    checks: Mapping[str, str]  # name -> "ok" or why it is down

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())

    @property
    def down(self) -> list[str]:
        return [name for name, v in self.checks.items() if v != "ok"]


class Readiness:
    """The named checks of one node; only the configured dependencies are checked."""

    def __init__(self, checks: Mapping[str, Check], *, timeout: float = CHECK_TIMEOUT) -> None:
        self._checks = dict(checks)
        self._timeout = timeout

    async def report(self) -> Report:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(n) for n in names))
        return Report(checks=dict(zip(names, results, strict=True)))

    async def _run(self, name: str) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await self._checks[name]()
        except TimeoutError:
            why = f"no answer in {self._timeout:g} s"
        except Exception as exc:  # whatever the driver raises means the same: not usable now
            # The class only: driver messages may carry a URL with its password.
            why = type(exc).__name__
        else:
            return "ok"
        log.warning("not ready: %s is down (%s)", name, why)
        return f"down: {why}"


class LinkDown(Exception):
    """The AMI link is configured but not logged in."""


def ami_check(link_up: Callable[[], bool | None]) -> Check:
    """``link_up``: True/False, or None when no node's state is known yet (not a failure)."""
    async def check() -> None:
        if link_up() is False:
            raise LinkDown
    return check
