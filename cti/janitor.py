"""Housekeeping, so a server that runs for months does not keep what it no longer needs.

Inbound claims (``claim_inbound``) guard work in flight: a webhook delivered twice at once, an
event every node hears. Once that work is stored (and found again by its ref) or released, the
claim only takes space; every inbound message leaves one. They are dropped after a day.

Chat visitors' sessions (the hash of each browser's secret) are dropped once unused for
``identity.chat_session_days``: that browser then starts as a new visitor.

Other parts hand in their own purges (``extra``: a name for the log, and a function that drops
what is old and says how many): outbound webhook deliveries, after ``webhooks.keep_finished_days``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from cti.ports import ContextStore
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

CLAIM_AGE = 86400.0  # seconds a claim is kept: far longer than any retry of the same delivery
EVERY = 3600.0
CHAT_SESSION_AGE = 90 * 86400.0  # seconds a chat session is kept unused (identity.chat_session_days)


class Janitor:
    def __init__(self, context: ContextStore, *, every: float = EVERY, claim_age: float = CLAIM_AGE,
                 chat_session_age: float = CHAT_SESSION_AGE,
                 extra: Sequence[tuple[str, Callable[[], Awaitable[int]]]] = ()) -> None:
        self._context = context
        self._extra = tuple(extra)
        self._every = every
        self._claim_age = claim_age
        self._chat_session_age = chat_session_age
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="janitor")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])

    async def run(self) -> None:
        """Forever, from now: a pass, then one every ``every`` seconds."""
        while True:
            try:
                dropped = await self._context.purge_claims(self._claim_age)
                if dropped:
                    log.info("janitor: dropped %d inbound claims older than %.0f s", dropped, self._claim_age)
                dropped = await self._context.purge_chat_sessions(self._chat_session_age)
                if dropped:
                    log.info("janitor: dropped %d chat sessions unused for %.0f s", dropped,
                             self._chat_session_age)
            except Exception:  # a database hiccup must not end housekeeping for good
                log.exception("janitor: purge failed")
            for what, purge in self._extra:
                try:
                    dropped = await purge()
                    if dropped:
                        log.info("janitor: dropped %d old %s", dropped, what)
                except Exception:
                    log.exception("janitor: purge of %s failed", what)
            await asyncio.sleep(self._every)
