"""Outbound webhooks: each subscribed event recorded as one delivery per subscriber, sent by
that subscriber's own lane, and the admin's view of them.

The event path never waits for a subscriber: the hub hands events to a bounded queue, one task
records them in the database (retried with the server's back-off while the database is away)
and offers each delivery to its subscriber's lane without waiting (``cti.webhooks.lane``).
Only the node that published an event records it, as for agents' replies: every node hears
every event, one must deliver it. Delivery is at least once from the moment it is recorded,
a few milliseconds after the event: a subscriber must expect the same ``X-CTI-Delivery`` twice
(a node died after sending, before writing down that it had), and a node that dies in those
milliseconds loses what it had not recorded yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from cti.clock import Clock, IdSource
from cti.errors import CtiError, NotFound
from cti.events import DomainEvent
from cti.hub import EventHub, Subscription
from cti.ports import ContextStore
from cti.redact import safe_url
from cti.retry import Backoff
from cti.settings.webhooks import WebhookSettings
from cti.tasks import stop_tasks
from cti.webhooks.deliveries import Delivery, DeliveryStatus, NewDelivery, WebhookStore
from cti.webhooks.events import event_data, interaction_id_of, interaction_summary
from cti.webhooks.lane import Lane
from cti.webhooks.sender import Sender

__all__ = ["WebhookDispatcher"]

log = logging.getLogger(__name__)

HUB_QUEUE = 10_000  # events heard and not yet recorded; beyond it the hub drops them (and says so)
# Recording waits out a database that is away for this long before an event is given up.
DRAIN_SECONDS = 10.0  # at shutdown, for recording what was heard and not yet recorded
RECORD_BACKOFF = Backoff(first=0.1, ceiling=2.0, give_up_after=30.0, jitter=0.1)


class WebhookDispatcher:
    def __init__(self, *, settings: WebhookSettings, store: WebhookStore, context: ContextStore,
                 hub: EventHub, clock: Clock, ids: IdSource, node_id: str) -> None:
        self._settings = settings
        self._store = store
        self._context = context
        self._hub = hub
        self._clock = clock
        self._ids = ids
        self._sender = Sender(timeout=settings.timeout_seconds,
                              allow_private=settings.allow_private_addresses)
        self._lanes = {s.name: Lane(subscriber=s, store=store, sender=self._sender, clock=clock, node=node_id,
                                    backoff=settings.backoff(), timeout=settings.timeout_seconds,
                                    queue_size=settings.queue_size, sweep_seconds=settings.sweep_seconds)
                       for s in settings.subscribers}
        self._node_id = node_id
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_hand: DomainEvent | None = None  # taken from the hub, not yet recorded

    async def start(self) -> None:
        if not self._lanes or self._sub is not None:
            return
        await self._sender.start()
        wanted = {e for lane in self._lanes.values() for e in lane.subscriber.events}
        self._sub = self._hub.subscribe(maxsize=HUB_QUEUE, wants=lambda e: e.type in wanted, local_only=True)
        self._task = asyncio.create_task(self._intake(self._sub), name="webhook-intake")
        for lane in self._lanes.values():
            await lane.start()
        log.info("webhooks: %d subscribers node=%s", len(self._lanes), self._node_id)

    async def aclose(self) -> None:
        """Record what was heard and not yet recorded, stop the lanes, give back their claims."""
        if self._sub is None:
            return
        await stop_tasks([self._task])
        self._task = None
        sub, self._sub = self._sub, None
        left = [self._in_hand] if self._in_hand is not None else []
        self._in_hand = None
        while not sub.queue.empty():
            left.append(sub.queue.get_nowait())
        sub.close()
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                for event in left:
                    await self._record_quietly(event)
        except TimeoutError:
            log.error("webhooks: stopping with events not recorded after %.0f s", DRAIN_SECONDS)
        for lane in self._lanes.values():
            await lane.aclose()
        try:
            await self._store.release(node=self._node_id)
        except Exception:  # they run out by themselves; another node then takes them
            log.exception("webhooks: claims not released")
        await self._sender.aclose()

    async def _intake(self, sub: Subscription) -> None:
        while True:
            event = await sub.get()
            self._in_hand = event
            await self._record_quietly(event)
            self._in_hand = None
            if sub.lagged:
                sub.lagged = False
                log.error("webhooks: events were dropped while recording fell %d behind", HUB_QUEUE)

    async def _record_quietly(self, event: DomainEvent) -> None:
        try:
            await self.record(event)
        except Exception:
            log.exception("webhooks: %s not recorded; its deliveries are lost", event.type)

    async def record(self, event: DomainEvent) -> Sequence[NewDelivery]:
        """The event's deliveries, one per subscriber that wants it, recorded and offered."""
        data = event_data(event)
        lanes = [lane for lane in self._lanes.values() if lane.wants(event.type)]
        if data is None or not lanes:
            return []
        interaction_id = interaction_id_of(event)
        if interaction_id is not None:
            data["interaction_id"] = interaction_id  # even when the interaction cannot be read
            data["interaction"] = await self._summary(interaction_id)
        event_id = self._ids.new_id("evt")
        news = []
        for lane in lanes:
            delivery_id = self._ids.new_id("whd")
            body = json.dumps({"id": delivery_id, "event_id": event_id, "type": event.type, "at": event.at,
                               "data": data}, separators=(",", ":"), allow_nan=False)
            news.append(NewDelivery(id=delivery_id, subscriber=lane.name, event_type=event.type,
                                    interaction_id=interaction_id, body=body.encode()))
        async for attempt in RECORD_BACKOFF.retrying():
            with attempt:
                await self._store.record(news, now=self._clock.now())
        for lane, delivery in zip(lanes, news, strict=True):
            lane.offer(delivery.id)
        return news

    async def _summary(self, interaction_id: str) -> dict[str, Any] | None:
        try:
            return interaction_summary(await self._context.interaction(interaction_id))
        except CtiError as exc:  # the event still goes, with what it says itself
            log.warning("webhooks: interaction=%s not read (%s)", interaction_id, exc.error_id)
            return None
        except Exception:  # nor may a database hiccup lose it: recording retries on its own
            log.warning("webhooks: interaction=%s not read", interaction_id, exc_info=True)
            return None

    # The admin's view (desktop_api/rest_webhooks.py)

    async def overview(self) -> list[dict[str, Any]]:
        counts = await self._store.counts()
        names = list(self._lanes) + sorted(set(counts) - set(self._lanes))
        out = []
        for name in names:
            lane = self._lanes.get(name)
            by_status = counts.get(name, {})
            out.append({"name": name, "configured": lane is not None,
                        # A URL may carry a token in its query: shown as safe_url masks it.
                        "url": safe_url(lane.subscriber.url) if lane else None,
                        "events": list(lane.subscriber.events) if lane else [],
                        "deliveries": {s.value: by_status.get(s.value, 0) for s in DeliveryStatus}})
        return out

    async def deliveries(self, *, status: DeliveryStatus | None, subscriber: str | None,
                         limit: int) -> Sequence[Delivery]:
        return await self._store.listing(status=status, subscriber=subscriber, limit=limit)

    async def replay(self, delivery_id: str, *, actor: str) -> Delivery:
        delivery = await self._store.replay(delivery_id, now=self._clock.now(), actor=actor,
                                            subscribers=list(self._lanes))
        self._lanes[delivery.subscriber].poke()
        log.info("webhook %s: %s replayed by %s", delivery.subscriber, delivery_id, actor)
        return delivery

    async def replay_all(self, *, subscriber: str | None, actor: str) -> int:
        if subscriber is not None and subscriber not in self._lanes:
            raise NotFound("subscriber-not-found", "no such webhook subscriber", subscriber=subscriber)
        names = [subscriber] if subscriber is not None else list(self._lanes)
        if not names:
            return 0
        count = await self._store.replay_all(subscribers=names, now=self._clock.now(), actor=actor)
        for name in names:
            self._lanes[name].poke()
        log.info("webhooks: %d failed deliveries replayed by %s (%s)", count, actor, ",".join(names))
        return count

    def lanes(self) -> Mapping[str, Lane]:
        return self._lanes

    async def purge(self) -> int:
        """Housekeeping: drop finished deliveries older than ``keep_finished_days``."""
        before = self._clock.now() - self._settings.keep_finished_days * 86400
        return await self._store.purge_finished(before=before)
