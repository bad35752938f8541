"""The audit log: who did what to which target, newest first."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import insert, or_, select

from context.db import Conn
from context.models import audit_log
from cti.clock import Clock, IdSource
from cti.errors import InvalidInput
from cti.ports import AuditEntry

MAX_AUDIT_PAGE = 1000


async def write_audit(conn: Conn, *, clock: Clock, ids: IdSource, actor: str, action: str,
                      target: str, details: Mapping[str, Any] | None = None) -> None:
    """Add an entry inside the caller's transaction (so it commits with what it records)."""
    await conn.execute(insert(audit_log).values(
        id=ids.new_id("aud"), at=clock.now(), actor=actor, action=action, target=target,
        details=dict(details or {})))


async def read_audit(conn: Conn, *, limit: int, target: str | None,
                     people: Collection[str] | None = None) -> Sequence[AuditEntry]:
    if limit < 1:
        raise InvalidInput("bad-limit", "'limit' must be at least 1")
    c = audit_log.c
    query = (select(c.id, c.at, c.actor, c.action, c.target, c.details)
             .order_by(c.at.desc(), c.seq.desc()).limit(min(limit, MAX_AUDIT_PAGE)))
    if target is not None:
        query = query.where(c.target == target)
    if people is not None:
        query = query.where(or_(c.actor.in_(list(people)), c.target.in_(list(people))))
    rows = (await conn.execute(query)).all()
    return [AuditEntry(id=r.id, at=r.at, actor=r.actor, action=r.action, target=r.target,
                       details=dict(r.details or {})) for r in rows]
