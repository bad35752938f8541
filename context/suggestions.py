"""Merge suggestions: two customers an inbound interaction tied together without a verified
identity. A person confirms one (the customers merge, audited with who and why) or dismisses it.

A suggestion names the customers as they were when it was made; merges since are followed
through ``root_id``, so a suggestion between customers that became one is simply settled.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Row

from context.audit import write_audit
from context.db import Conn
from context.merging import identity_json
from context.models import customers, merge_suggestions
from cti.clock import Clock, IdSource
from cti.domain import Identity, IdentityKind
from cti.errors import Conflict, NotFound
from cti.ports import MergeSuggestion

OPEN = "open"
CONFIRMED = "confirmed"
DISMISSED = "dismissed"


async def suggest(conn: Conn, *, clock: Clock, ids: IdSource, customer_a: str, customer_b: str,
                  identity: Identity, reason: str) -> str | None:
    """Record that ``customer_a`` and ``customer_b`` may be one person (once per open pair)."""
    s = merge_suggestions.c
    existing = (await conn.execute(select(s.id).where(s.status == OPEN, or_(
        and_(s.customer_a == customer_a, s.customer_b == customer_b),
        and_(s.customer_a == customer_b, s.customer_b == customer_a))).limit(1))).scalar_one_or_none()
    if existing is not None:
        return None
    suggestion_id = ids.new_id("sug")
    await conn.execute(insert(merge_suggestions).values(
        id=suggestion_id, customer_a=customer_a, customer_b=customer_b, kind=identity.kind.value,
        value=identity.value, reason=reason, at=clock.now(), status=OPEN))
    return suggestion_id


async def open_for(conn: Conn, root_id: str) -> Sequence[MergeSuggestion]:
    """Open suggestions with a customer of the tree of ``root_id`` on either side, newest first."""
    members = select(customers.c.id).where(customers.c.root_id == root_id)
    s = merge_suggestions.c
    rows = (await conn.execute(select(merge_suggestions).where(
        s.status == OPEN, or_(s.customer_a.in_(members), s.customer_b.in_(members)))
        .order_by(s.at.desc(), s.id.desc()))).all()
    return [_suggestion(r) for r in rows]


async def require_suggestion(conn: Conn, suggestion_id: str, *,
                             for_update: bool = False) -> MergeSuggestion:
    query = select(merge_suggestions).where(merge_suggestions.c.id == suggestion_id)
    row = (await conn.execute(query.with_for_update() if for_update else query)).first()
    if row is None:
        raise NotFound("suggestion-not-found", f"no suggestion {suggestion_id!r}",
                       suggestion_id=suggestion_id)
    return _suggestion(row)


async def decide(conn: Conn, *, clock: Clock, ids: IdSource, suggestion_id: str, status: str,
                 actor: str, reason: str) -> MergeSuggestion:
    """Mark an open suggestion decided (the caller merges for a confirmation)."""
    found = await require_suggestion(conn, suggestion_id, for_update=True)
    if found.status != OPEN:
        raise Conflict("suggestion-decided", f"the suggestion was already {found.status}",
                       suggestion_id=suggestion_id, status=found.status)
    now = clock.now()
    await conn.execute(update(merge_suggestions).where(merge_suggestions.c.id == suggestion_id).values(
        status=status, decided_by=actor, decided_at=now, decided_reason=reason))
    await write_audit(conn, clock=clock, ids=ids, actor=actor, action=f"suggestion.{status}",
                      target=found.customer_ids[0],
                      details={"suggestion_id": suggestion_id, "customer_ids": list(found.customer_ids),
                               "identity": identity_json(found.identity), "reason": reason})
    return found


def _suggestion(row: Row[tuple[object, ...]]) -> MergeSuggestion:
    r = row._mapping
    return MergeSuggestion(
        id=r["id"], customer_ids=(r["customer_a"], r["customer_b"]),
        identity=Identity(IdentityKind(r["kind"]), r["value"]), reason=r["reason"], at=r["at"],
        status=r["status"], decided_by=r["decided_by"], decided_at=r["decided_at"],
        decided_reason=r["decided_reason"])
