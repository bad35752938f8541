"""What a waiting chat visitor is told while nobody has answered yet, and the callback they may
ask for once their queue's maximum wait has passed.

Every ``interval`` seconds (one routing snapshot for all visitors), each visitor whose chat is
waiting gets a ``queue_status`` frame when what it says changed: their position, an estimated
wait (``cti.waiting_info``, from the answers the event log recorded in the last 15 minutes) and
whether a callback is offered. A ``callback`` frame from the visitor turns the waiting chat into
a callback interaction (``InteractionService.to_callback``): the e-mail address or phone typed
is normalised (phone numbers by ``phonenumbers``) and kept as a claim, never as a proof.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from adapters.webchat.schemas import CallbackRequest
from adapters.webchat.sessions import ChatSessions, Visitor
from cti.clock import Clock
from cti.domain import Channel, Identity, IdentityKind, QueueConfig
from cti.errors import InvalidInput
from cti.eventlog import EventLogRecords
from cti.identities import normalise_email, normalise_phone
from cti.routing import RoutingStore
from cti.segments import all_segments
from cti.service import InteractionService
from cti.tasks import stop_tasks
from cti.waiting_info import ESTIMATE_WINDOW, answers_by_queue, estimated_wait, positions

log = logging.getLogger(__name__)

# The recent answers are read from the log every this many rounds, not at each one.
ANSWERS_EVERY_ROUNDS = 10


class WaitingNotices:
    def __init__(self, *, sessions: ChatSessions, interactions: InteractionService, routing: RoutingStore,
                 records: EventLogRecords | None, clock: Clock,
                 queues: Callable[[], Mapping[str, QueueConfig]],
                 region: Callable[[], str], interval: Callable[[], float] = lambda: 3.0) -> None:
        self._sessions = sessions
        self._interactions = interactions
        self._routing = routing
        self._records = records
        self._clock = clock
        self._queues = queues  # read at each tick: an admin's change counts at once
        self._region = region
        self._interval = interval  # read at each round (``chat.queue_status_seconds``, live)
        self._answers: dict[str, int] = {}
        self._answers_at = float("-inf")
        self._sent: dict[int, dict[str, Any]] = {}  # id(socket) -> the last frame it was sent
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """One round of updates; returns how many frames were sent."""
        now = self._clock.now()
        waiting = [w for w in (await self._routing.snapshot()).waiting if w.channel is Channel.CHAT]
        watched = []  # the waiting chats with a visitor connected to this node
        for item in waiting:
            visitor = self._sessions.visitor_for(item.interaction_id)
            if visitor is not None and visitor.sockets and not visitor.left_message:
                watched.append((item, visitor))
        if not watched and not self._sent:
            return 0
        places = positions(waiting, now, queues={item.queue for item, _ in watched})
        await self._refresh_answers(now)
        queues = self._queues()
        sent, count = {}, 0
        for item, visitor in watched:
            queue = queues.get(item.queue)
            max_wait = queue.max_wait if queue is not None else None
            place = places[item.interaction_id]
            frame = {"type": "queue_status", "position": place,
                     "estimated_wait": estimated_wait(place, answered=self._answers.get(item.queue, 0)),
                     "callback_offered": max_wait is not None and now - item.enqueued_at >= max_wait}
            for socket in list(visitor.sockets):
                if self._sent.get(id(socket)) != frame:
                    socket.put(frame)
                    count += 1
                sent[id(socket)] = frame
        self._sent = sent  # sockets no longer waiting are forgotten
        return count

    async def _refresh_answers(self, now: float) -> None:
        if self._records is None or now - self._answers_at < ANSWERS_EVERY_ROUNDS * self._interval():
            return
        start = now - ESTIMATE_WINDOW
        logs = await self._records.touching(start, now, channels=[Channel.CHAT.value])
        self._answers = answers_by_queue(all_segments(logs, now=now), start=start, end=now,
                                         channel=Channel.CHAT.value)
        self._answers_at = now

    async def callback(self, visitor: Visitor, frame: CallbackRequest) -> dict[str, Any]:
        """The visitor's request for a callback: the frame telling them it is booked."""
        if visitor.interaction_id is None:
            raise InvalidInput("not-waiting", "there is no waiting conversation to turn into a callback")
        contacts: list[Identity] = []
        if frame.email and frame.email.strip():
            contacts.append(Identity(IdentityKind.EMAIL, normalise_email(frame.email)))
        if frame.phone and frame.phone.strip():
            contacts.append(Identity(IdentityKind.PHONE, normalise_phone(frame.phone, region=self._region())))
        callback = await self._interactions.to_callback(visitor.interaction_id, contacts=contacts)
        log.info("chat turned into a callback visitor=%s callback=%s", visitor.visitor_id, callback.id)
        # Claims as typed and normalised: shown back so the visitor can see what we will use.
        return {"type": "callback_booked", **{c.kind.value: c.value for c in contacts}}

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="webchat-waiting")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            try:
                await self.tick()
            except Exception:  # the next tick tries again; visitors keep their last figures
                log.exception("chat waiting notices failed")
