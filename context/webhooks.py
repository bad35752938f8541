"""Outbound webhook deliveries in the database (``cti.webhooks.deliveries.WebhookStore``).

Every change of a delivery is one conditional UPDATE: a claim is taken only if nobody holds a
live one, and an outcome is written only by the node that holds the claim, so a node whose
claim ran out (it was too slow, or thought dead) cannot overwrite what the next one did.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row

from context.audit import write_audit
from context.db import Conn, Database
from context.models import webhook_deliveries
from cti.clock import IdSource
from cti.errors import Conflict, InvalidInput, NotFound
from cti.webhooks.deliveries import Delivery, DeliveryStatus, NewDelivery

__all__ = ["SqlWebhookStore"]

MAX_PAGE = 500
MAX_ERROR = 300

_c = webhook_deliveries.c
_PENDING = DeliveryStatus.PENDING.value
_FAILED = DeliveryStatus.FAILED.value


def _free(now: float) -> Any:
    """Nobody holds a live claim on it (a claim is good until its time, not at it, so the sweeper
    that wakes at that time finds the delivery free)."""
    return or_(_c.claimed_until.is_(None), _c.claimed_until <= now)


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id, subscriber=row.subscriber, event_type=row.event_type, interaction_id=row.interaction_id,
        body=row.body.encode(), status=DeliveryStatus(row.status), created_at=row.created_at,
        series_started_at=row.series_started_at, attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at, last_status=row.last_status, last_error=row.last_error,
        finished_at=row.finished_at)


class SqlWebhookStore:
    def __init__(self, *, db: Database, ids: IdSource) -> None:
        self._db = db
        self._ids = ids

    async def record(self, deliveries: Sequence[NewDelivery], *, now: float) -> None:
        if not deliveries:
            return
        rows = [{"id": d.id, "subscriber": d.subscriber, "event_type": d.event_type,
                 "interaction_id": d.interaction_id, "body": d.body.decode(), "status": _PENDING,
                 "created_at": now, "series_started_at": now, "attempts": 0, "next_attempt_at": now}
                for d in deliveries]

        async def work(conn: Conn) -> None:
            await conn.execute(insert(webhook_deliveries), rows)

        await self._db.write(work)

    async def claim(self, delivery_id: str, *, node: str, now: float, until: float) -> Delivery | None:
        async def work(conn: Conn) -> Delivery | None:
            taken = await conn.execute(
                update(webhook_deliveries)
                .where(_c.id == delivery_id, _c.status == _PENDING, _c.next_attempt_at <= now, _free(now))
                .values(claimed_by=node, claimed_until=until))
            if taken.rowcount != 1:
                return None
            row = (await conn.execute(select(webhook_deliveries).where(_c.id == delivery_id))).one()
            return _delivery(row)

        return await self._db.write(work)

    async def _finish_attempt(self, delivery_id: str, node: str, values: dict[str, Any]) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                update(webhook_deliveries)
                .where(_c.id == delivery_id, _c.claimed_by == node, _c.status == _PENDING)
                .values(claimed_by=None, claimed_until=None, attempts=_c.attempts + 1, **values))

        await self._db.write(work)

    async def delivered(self, delivery_id: str, *, node: str, now: float, status: int) -> None:
        await self._finish_attempt(delivery_id, node, {
            "status": DeliveryStatus.DELIVERED.value, "last_attempt_at": now, "last_status": status,
            "last_error": None, "finished_at": now})

    async def retry_later(self, delivery_id: str, *, node: str, now: float, at: float,
                          status: int | None, error: str) -> None:
        await self._finish_attempt(delivery_id, node, {
            "next_attempt_at": at, "last_attempt_at": now, "last_status": status,
            "last_error": error[:MAX_ERROR]})

    async def give_up(self, delivery_id: str, *, node: str, now: float, status: int | None,
                      error: str) -> None:
        await self._finish_attempt(delivery_id, node, {
            "status": _FAILED, "last_attempt_at": now, "last_status": status,
            "last_error": error[:MAX_ERROR], "finished_at": now})

    async def due(self, subscriber: str, *, now: float, limit: int) -> Sequence[str]:
        async with self._db.read() as conn:
            found = await conn.execute(
                select(_c.id)
                .where(_c.subscriber == subscriber, _c.status == _PENDING, _c.next_attempt_at <= now,
                       _free(now))
                .order_by(_c.next_attempt_at, _c.id).limit(limit))
            return list(found.scalars())

    async def next_due(self, subscriber: str, *, now: float) -> float | None:
        # A claimed delivery is due again when its claim runs out (its node may have died).
        due_at = case((and_(_c.claimed_until.is_not(None), _c.claimed_until > _c.next_attempt_at),
                       _c.claimed_until), else_=_c.next_attempt_at)
        async with self._db.read() as conn:
            value = (await conn.execute(
                select(func.min(due_at))
                .where(_c.subscriber == subscriber, _c.status == _PENDING, due_at > now))).scalar()
        return None if value is None else float(value)

    async def release(self, *, node: str) -> int:
        async def work(conn: Conn) -> int:
            done = await conn.execute(update(webhook_deliveries)
                                      .where(_c.claimed_by == node, _c.status == _PENDING)
                                      .values(claimed_by=None, claimed_until=None))
            return int(done.rowcount)

        return await self._db.write(work)

    async def purge_finished(self, *, before: float) -> int:
        async def work(conn: Conn) -> int:
            done = await conn.execute(delete(webhook_deliveries).where(
                _c.status != _PENDING, _c.finished_at < before))
            return int(done.rowcount)

        return await self._db.write(work)

    async def listing(self, *, status: DeliveryStatus | None, subscriber: str | None,
                      limit: int) -> Sequence[Delivery]:
        if limit < 1:
            raise InvalidInput("bad-limit", "'limit' must be at least 1")
        query = (select(webhook_deliveries).order_by(_c.created_at.desc(), _c.id.desc())
                 .limit(min(limit, MAX_PAGE)))
        if status is not None:
            query = query.where(_c.status == status.value)
        if subscriber is not None:
            query = query.where(_c.subscriber == subscriber)
        async with self._db.read() as conn:
            return [_delivery(r) for r in (await conn.execute(query)).all()]

    async def counts(self) -> Mapping[str, Mapping[str, int]]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(_c.subscriber, _c.status, func.count())
                                       .group_by(_c.subscriber, _c.status))).all()
        out: dict[str, dict[str, int]] = {}
        for subscriber, status, count in rows:
            out.setdefault(subscriber, {})[status] = int(count)
        return out

    async def replay(self, delivery_id: str, *, now: float, actor: str,
                     subscribers: Collection[str]) -> Delivery:
        async def work(conn: Conn) -> Delivery:
            row = (await conn.execute(select(webhook_deliveries).where(_c.id == delivery_id))).one_or_none()
            if row is None:
                raise NotFound("delivery-not-found", "no such webhook delivery", delivery_id=delivery_id)
            if row.subscriber not in subscribers:
                raise Conflict("subscriber-not-configured", "its subscriber is no longer configured",
                               delivery_id=delivery_id, subscriber=row.subscriber)
            if row.status != _FAILED:
                raise Conflict("delivery-not-failed", "only a failed delivery is replayed",
                               delivery_id=delivery_id, status=row.status)
            await conn.execute(update(webhook_deliveries).where(_c.id == delivery_id, _c.status == _FAILED)
                               .values(**_again(now)))
            await write_audit(conn, clock=_At(now), ids=self._ids, actor=actor, action="webhook-replay",
                              target=delivery_id, details={"subscriber": row.subscriber})
            return _delivery((await conn.execute(
                select(webhook_deliveries).where(_c.id == delivery_id))).one())

        return await self._db.write(work)

    async def replay_all(self, *, subscribers: Collection[str], now: float, actor: str) -> int:
        async def work(conn: Conn) -> int:
            done = await conn.execute(update(webhook_deliveries)
                                      .where(_c.status == _FAILED, _c.subscriber.in_(list(subscribers)))
                                      .values(**_again(now)))
            count = int(done.rowcount)
            await write_audit(conn, clock=_At(now), ids=self._ids, actor=actor, action="webhook-replay-all",
                              target=",".join(sorted(subscribers))[:128], details={"replayed": count})
            return count

        return await self._db.write(work)


def _again(now: float) -> dict[str, Any]:
    """A new run of attempts, due at once, with a full retry period ahead of it."""
    return {"status": _PENDING, "attempts": 0, "series_started_at": now, "next_attempt_at": now,
            "claimed_by": None, "claimed_until": None, "finished_at": None}


class _At:
    """The audit entry's time: the one the caller decided on."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now
