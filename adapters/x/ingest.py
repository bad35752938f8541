"""X events into stored messages: one at a time, threaded, each stored once.

Webhook and poller both come through here, one event at a time (a lock): threading is a
look-up followed by an insert, so two DMs of one sender arriving together must not both find no
open interaction and start two; and two copies of one event must not both pass the duplicate check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.channel import AdapterDeps, deliver
from adapters.x.config import XConfig
from adapters.x.events import XEvent
from adapters.x.threads import is_own, thread_lookup, to_inbound
from cti.domain import Channel
from cti.errors import Conflict, CtiError
from cti.lifecycle import OPEN_STATES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0  # our own, or refused by the core as invalid (nothing to retry)
    failed: int = 0  # worth a retry: a race, the database, a bug

    @property
    def complete(self) -> bool:
        return self.failed == 0


class Inbound:
    def __init__(self, deps: AdapterDeps, config: XConfig) -> None:
        self._deps = deps
        self._config = config
        self._lock = asyncio.Lock()

    async def __call__(self, events: Sequence[XEvent]) -> Outcome:
        stored = duplicates = ignored = failed = 0
        async with self._lock:
            for event in events:
                if is_own(event, self._config.account_user_id):
                    ignored += 1
                    continue
                try:
                    new = await self._one(event)
                except Conflict as exc:  # a race (being stored elsewhere, closed meanwhile): retry
                    failed += 1
                    log.warning("x %s %s deferred: %s", event.kind.value, event.id, exc.error_id)
                    continue
                except CtiError as exc:
                    ignored += 1
                    log.warning("x %s %s refused: %s", event.kind.value, event.id, exc.error_id)
                    continue
                except Exception as exc:  # the database, say: this event is retried, the rest go on
                    failed += 1
                    # The type only: a database error's text may quote the customer's message.
                    log.warning("x %s %s not stored: %s", event.kind.value, event.id, type(exc).__name__)
                    continue
                stored, duplicates = (stored + 1, duplicates) if new else (stored, duplicates + 1)
        return Outcome(stored=stored, duplicates=duplicates, ignored=ignored, failed=failed)

    async def deliver_all(self, events: Sequence[XEvent]) -> bool:
        """The poller's view: True when nothing needs reading again."""
        return (await self(events)).complete

    async def _one(self, event: XEvent) -> bool:
        d = self._deps
        continues = None
        lookup = thread_lookup(event)
        if lookup is not None:
            found = await d.context.find_interaction_by_ref(*lookup)
            if found is not None and found.channel is Channel.X and found.state in OPEN_STATES:
                continues = found.channel_refs
        inbound = to_inbound(event, queue=self._config.queue, max_chars=d.config.max_message_chars,
                             continues=continues)
        result = await deliver(d.interactions, d.context, d.clock, inbound)
        if result.message is not None:
            log.info("x %s %s stored on interaction=%s new=%s", event.kind.value, event.id,
                     result.interaction.id, result.new_interaction)
        return result.message is not None
