"""A delivery as it is kept, and the store that keeps them (``context.webhooks`` implements it).

A delivery is one event for one subscriber. Its ``id`` is the idempotency key the subscriber sees
on every attempt; its ``body`` is fixed when it is recorded, so every attempt sends the same
bytes. ``status``: "pending" (to be sent, now or at ``next_attempt_at``), "delivered", "failed"
(given up: an admin may replay it, which makes it pending again with its attempts counted anew).

A node works on a pending delivery only under a claim (``claimed_by`` until ``claimed_until``):
two nodes never send one delivery at once, and the claim of a node that died runs out.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Delivery", "DeliveryStatus", "NewDelivery", "WebhookStore"]


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: str
    subscriber: str
    event_type: str
    interaction_id: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    subscriber: str
    event_type: str
    interaction_id: str | None
    body: bytes
    status: DeliveryStatus
    created_at: float
    series_started_at: float  # when its current run of attempts began (recorded, or replayed)
    attempts: int  # in the current run
    next_attempt_at: float
    last_attempt_at: float | None = None
    last_status: int | None = None  # the subscriber's HTTP status, when it answered
    last_error: str | None = None
    finished_at: float | None = None  # delivered or given up


class WebhookStore(Protocol):
    async def record(self, deliveries: Sequence[NewDelivery], *, now: float) -> None: ...

    async def claim(self, delivery_id: str, *, node: str, now: float, until: float) -> Delivery | None:
        """The delivery, claimed by ``node`` until ``until``, if it is pending, due and nobody
        else's; else None."""
        ...

    async def delivered(self, delivery_id: str, *, node: str, now: float, status: int) -> None: ...

    async def retry_later(self, delivery_id: str, *, node: str, now: float, at: float,
                          status: int | None, error: str) -> None: ...

    async def give_up(self, delivery_id: str, *, node: str, now: float, status: int | None,
                      error: str) -> None: ...

    async def due(self, subscriber: str, *, now: float, limit: int) -> Sequence[str]:
        """Ids of pending deliveries due now that nobody holds a live claim on, oldest due first."""
        ...

    async def next_due(self, subscriber: str, *, now: float) -> float | None:
        """When the next pending delivery that is not due yet becomes due (a retry's time, or
        the end of another node's claim)."""
        ...

    async def release(self, *, node: str) -> int:
        """Drop the claims ``node`` holds (it is stopping)."""
        ...

    async def purge_finished(self, *, before: float) -> int:
        """Drop delivered and failed deliveries that finished before ``before``."""
        ...

    async def listing(self, *, status: DeliveryStatus | None, subscriber: str | None,
                      limit: int) -> Sequence[Delivery]: ...

    async def counts(self) -> Mapping[str, Mapping[str, int]]:
        """Deliveries by subscriber, then by status."""
        ...

    async def replay(self, delivery_id: str, *, now: float, actor: str,
                     subscribers: Collection[str]) -> Delivery:
        """A failed delivery of one of ``subscribers`` made pending again (NotFound; Conflict if
        it is not failed or its subscriber is not one of them)."""
        ...

    async def replay_all(self, *, subscribers: Collection[str], now: float, actor: str) -> int: ...
