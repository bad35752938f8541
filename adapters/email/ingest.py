"""The SMTP listener's ingest queue: mails handed over by SMTP sessions, stored in batches.

``DATA`` puts the message on a bounded queue and waits for its stored answer; one worker takes
whatever is waiting (up to ``batch`` mails, from every session), parses the batch in one hop to
the channel's parsing threads and stores it in one write transaction (``InboundMail.receive_batch``).
Routing is never waited on: the interactions are queued and the routing engine is poked once.

Why the listener still waits for the store before ``250``: an SMTP ``250`` hands responsibility
for the message to us. Answering before it is committed would lose mail on a crash, and a
malformed or oversized mail must get its ``5xx`` in the same session (the sender then knows).
Waiting costs the sender only a batch's time; the work itself is shared by the batch.

Back-pressure: when ``capacity`` mails (or ``capacity_bytes`` of them) already wait, a new one
is answered ``451 4.3.2`` at once: the sending server keeps it and tries again later, instead of
this process holding unbounded memory. The worker gives the event loop back between batches
(and every database call inside one does too), so chats and calls are served during a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.email.inbound import Disposition, InboundMail, Received
from adapters.email.planned import Incoming

log = logging.getLogger(__name__)

BUSY_REPLY = "451 4.3.2 Too busy, please try again later"
STOPPING_REPLY = "451 4.3.2 Shutting down, please try again later"


@dataclass(slots=True)
class _Waiting:
    mail: Incoming
    answer: asyncio.Future[Received] = field(repr=False)


class MailIngest:
    """One worker storing queued mails in batches; ``submit`` never blocks."""

    def __init__(self, inbound: InboundMail, *, capacity: int = 256, capacity_bytes: int = 64 << 20,
                 batch: int = 32) -> None:
        self._inbound = inbound
        self._capacity = capacity
        self._capacity_bytes = capacity_bytes
        self._batch = batch
        self._waiting: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._bytes = 0  # of the mails queued or in the batch being stored
        self._in_batch = 0
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # stored so far (observable by tests and the bench's log reading)

    @property
    def pending(self) -> int:
        """Mails queued or being stored."""
        return self._waiting.qsize() + self._in_batch

    def submit(self, mail: Incoming) -> asyncio.Future[Received] | None:
        """The future answer for ``mail``, or None when the queue is full (answer ``451``)."""
        if self._task is None:
            return None
        size = len(mail.raw)
        # One mail is always taken when nothing waits, however large (the size limit is checked
        # before this, by the listener and again by ``InboundMail``).
        if self.pending and (self.pending >= self._capacity or self._bytes + size > self._capacity_bytes):
            return None
        answer: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._bytes += size
        self._waiting.put_nowait(_Waiting(mail, answer))
        return answer

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="email-ingest")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Not stored: the senders are told to try again, so nothing is lost.
        stopping = Received(Disposition.DEFERRED, STOPPING_REPLY, why="stopping")
        while not self._waiting.empty():
            _answer(self._waiting.get_nowait(), stopping)
        self._bytes = 0

    async def _run(self) -> None:
        while True:
            batch = [await self._waiting.get()]
            while len(batch) < self._batch and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            self._in_batch = len(batch)
            try:
                await self._store(batch)
            finally:
                self._in_batch = 0
                self._bytes -= sum(len(w.mail.raw) for w in batch)
            self.batches += 1
            # The loop's other work (a chat, an agent's socket) goes before the next batch.
            await asyncio.sleep(0)

    async def _store(self, batch: Sequence[_Waiting]) -> None:
        try:
            results = await self._inbound.receive_batch([w.mail for w in batch])
        except asyncio.CancelledError:
            for w in batch:
                _answer(w, Received(Disposition.DEFERRED, STOPPING_REPLY, why="stopping"))
            raise
        except Exception as exc:  # never expected: receive_batch answers each mail itself
            log.error("email batch failed size=%d error=%s", len(batch), type(exc).__name__)
            results = [Received(Disposition.DEFERRED, "451 4.3.0 Temporary failure, please try again later",
                                why=type(exc).__name__)] * len(batch)
        log.debug("email batch stored size=%d", len(batch))
        for w, received in zip(batch, results, strict=True):
            _answer(w, received)


def _answer(waiting: _Waiting, received: Received) -> None:
    if not waiting.answer.done():  # the session may have gone: its answer is then dropped
        waiting.answer.set_result(received)
