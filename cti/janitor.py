"""Housekeeping, so a server that runs for months does not keep what it no longer needs.

Inbound claims (``claim_inbound``) guard work in flight: a webhook delivered twice at once, an
event every node hears. Once that work is stored (and found again by its ref) or released, the
claim only takes space; every inbound message leaves one. They are dropped after a day.

Chat visitors' sessions (the hash of each browser's secret) are dropped once unused for
``identity.chat_session_days``: that browser then starts as a new visitor.
"""

from __future__ import annotations

import asyncio
import logging

from cti.ports import ContextStore
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

CLAIM_AGE = 86400.0  # seconds a claim is kept: far longer than any retry of the same delivery
EVERY = 3600.0
CHAT_SESSION_AGE = 90 * 86400.0  # seconds a chat session is kept unused (identity.chat_session_days)


class Janitor:
    def __init__(self, context: ContextStore, *, every: float = EVERY, claim_age: float = CLAIM_AGE,
                 chat_session_age: float = CHAT_SESSION_AGE) -> None:
        self._context = context
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
            await asyncio.sleep(self._every)
