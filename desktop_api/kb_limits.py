"""Limits on the public knowledge paths: ``/kb``, ``/kb/...``, ``/chat/kb/suggest`` and
``/chat/kb/feedback`` answer anyone, and each search costs the database.

Per client address (``client_address``: the trusted proxy's word, else the peer), at most
``traffic.public_kb_requests_per_minute`` requests to these paths together, counted by the
``limits`` library as the log-in throttle counts (its Redis storage when nodes share Redis, so a
client cannot spread requests over nodes; memory on one node). A fixed window: one counter per
address, nothing swept per hit (the chat guard's note on moving windows in memory). Past it:
``429 too-many-requests`` with ``Retry-After``. Query lengths are the other bound
(``checked_query``): a text past its limit is refused, not cut and searched.
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter

from cti.errors import CtiError, InvalidInput
from desktop_api.client_address import client_address

__all__ = ["KB_LIMITS", "PublicKbLimits", "TooManyRequests", "checked_query"]

MAX_ARTICLE_ID = 64


class TooManyRequests(CtiError):
    """This client asked the public knowledge paths too often: wait ``retry_after`` seconds."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("too-many-requests", "too many requests to the help centre; try again shortly",
                         retry_after=retry_after)
        self.retry_after = retry_after


class PublicKbLimits:
    def __init__(self, *, storage: Storage, per_minute: int, trusted_proxies: tuple[str, ...]) -> None:
        self._limiter = FixedWindowRateLimiter(storage)
        self._item = RateLimitItemPerMinute(per_minute)
        self._trusted_proxies = trusted_proxies

    async def check(self, request: web.Request) -> None:
        """Counts the request; raises TooManyRequests when its client is over the budget."""
        address = client_address(request, self._trusted_proxies)
        if await self._limiter.hit(self._item, "public-kb", address):
            return
        stats = await self._limiter.get_window_stats(self._item, "public-kb", address)
        # The limiter's storage keeps wall-clock times, so the wait is told against one.
        raise TooManyRequests(retry_after=max(1, math.ceil(stats.reset_time - time.time())))


KB_LIMITS = web.AppKey("public_kb_limits", PublicKbLimits)


def checked_query(text: str, limit: int) -> str:
    """``text`` when it is at most ``limit`` characters; InvalidInput ``query-too-long`` otherwise."""
    if len(text) > limit:
        raise InvalidInput("query-too-long", f"the search text may be at most {limit} characters",
                           limit=limit, length=len(text))
    return text
