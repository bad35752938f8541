"""Writes the log entries of call steps that change no interaction row (held, resumed, a consult
started) from the ``call.updated`` events this node publishes.

Why these and only these are written from the hub: ``cti.eventlog``. Each entry's key is made
from its event (the step and its time), so an event handled twice writes one entry. The queue
is bounded: when the store falls that far behind, entries are dropped and counted in the log
rather than holding up the publisher (a lost hold costs a hold's duration in the figures, never
a customer's wait).
"""

from __future__ import annotations

import asyncio
import logging

from cti.errors import CtiError
from cti.eventlog import EntryKind, EventLogRecords, LogEntry
from cti.events import CallUpdated, DomainEvent
from cti.hub import EventHub, Subscription
from cti.ports import ContextStore

log = logging.getLogger(__name__)

KINDS = {"held": EntryKind.HELD, "resumed": EntryKind.RESUMED, "consult-started": EntryKind.CONSULTED}
QUEUE_SIZE = 10_000


def entry_for(event: CallUpdated, *, channel: str, queue: str) -> LogEntry | None:
    """The entry of one call event (pure), or None for a step the log does not keep."""
    kind = KINDS.get(event.what)
    if kind is None:
        return None
    to_agent = event.details.get("to_agent") if kind is EntryKind.CONSULTED else None
    return LogEntry(interaction_id=event.interaction_id, kind=kind, at=event.at, channel=channel, queue=queue,
                    agent_id=event.agent_id, details={"to_agent": to_agent} if to_agent else {},
                    key=f"call.{event.what}.{event.at:.6f}")


def _wanted(event: DomainEvent) -> bool:
    return isinstance(event, CallUpdated) and event.what in KINDS


class CallLogRecorder:
    def __init__(self, *, hub: EventHub, context: ContextStore, log_records: EventLogRecords,
                 maxsize: int = QUEUE_SIZE) -> None:
        self._hub = hub
        self._context = context
        self._records = log_records
        self._maxsize = maxsize
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def start(self) -> None:
        # This node's events only: the node that published a step writes its entry, once.
        self._sub = self._hub.subscribe(maxsize=self._maxsize, wants=_wanted, local_only=True)
        self._task = asyncio.create_task(self._run(), name="call-log-recorder")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        if self._sub is not None:
            self._sub.close()

    async def drain(self) -> None:
        """Write what is queued now (for a clean stop and for tests)."""
        if self._sub is not None:
            while not self._sub.queue.empty():
                await self._write(self._sub.queue.get_nowait())

    async def _run(self) -> None:
        assert self._sub is not None  # set by start before the task exists
        while True:
            event = await self._sub.get()
            if self._sub.lagged:
                self._sub.lagged = False
                self.dropped += 1
                log.warning("call log: the queue was full, hold or consult entries were dropped")
            await self._write(event)

    async def _write(self, event: DomainEvent) -> None:
        if not isinstance(event, CallUpdated):
            return
        try:
            interaction = await self._context.interaction(event.interaction_id)
            entry = entry_for(event, channel=interaction.channel.value, queue=interaction.queue)
            if entry is not None:
                await self._records.record([entry])
        except CtiError as exc:
            log.warning("call log: no entry for %s id=%s: %s", event.what, event.interaction_id, exc.error_id)
        except Exception:  # a database hiccup must not end the recorder
            log.exception("call log: writing %s id=%s failed", event.what, event.interaction_id)
