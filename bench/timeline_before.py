"""The timeline statement as it was before migration 0012 (main at 8742731, unchanged since
794d544): messages and notes reached through all of the customer's interactions, then sorted.

Kept word for word so that ``bench history`` times the old and the new statement on the same
seeded data in the same run, and tests/context/test_timeline_rewrite.py checks that the new one
returns exactly the same rows. Not used by the server.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from context.models import customers, interactions, messages, notes
from context.timeline import Cursor


def timeline_query(customer_id: str | BindParameter[str], *, limit: int, before: Cursor | None,
                   body_limit: int) -> Select[Any]:
    """The statement for one page (``limit`` rows; ask one more to know if there is a next page)."""
    root = select(customers.c.root_id).where(customers.c.id == customer_id).scalar_subquery()
    i, m, n = interactions.c, messages.c, notes.c
    body_cut: ColumnElement[int] = literal_column(str(int(body_limit)), Integer)
    no_text = cast(null(), Text)
    started = (
        select(_kind("interaction"), i.id.label("id"), i.arrived_at.label("at"), i.id.label("interaction_id"),
               i.channel, i.customer_id, no_text.label("body"), cast(null(), String).label("sender"), i.state,
               i.direction)
        .where(i.root_customer_id == root, *_older(i.arrived_at, i.id, "interaction", before))
        .order_by(i.arrived_at.desc(), i.id.desc()).limit(limit))
    said = (
        select(_kind("message"), m.id.label("id"), m.at.label("at"), m.interaction_id, i.channel,
               i.customer_id, func.substr(m.body, 1, body_cut).label("body"), m.sender.label("sender"),
               cast(null(), String).label("state"), cast(null(), String).label("direction"))
        .select_from(messages.join(interactions, i.id == m.interaction_id))
        .where(i.root_customer_id == root, *_older(m.at, m.id, "message", before))
        .order_by(m.at.desc(), m.id.desc()).limit(limit))
    noted = (
        select(_kind("note"), n.id.label("id"), n.at.label("at"), n.interaction_id, i.channel, i.customer_id,
               func.substr(n.body, 1, body_cut).label("body"), n.author_id.label("sender"),
               cast(null(), String).label("state"), cast(null(), String).label("direction"))
        .select_from(notes.join(interactions, i.id == n.interaction_id))
        .where(i.root_customer_id == root, *_older(n.at, n.id, "note", before))
        .order_by(n.at.desc(), n.id.desc()).limit(limit))
    # SQLite allows ORDER BY / LIMIT in a compound member only inside a subquery.
    merged = union_all(*(select(branch.subquery()) for branch in (started, said, noted))).subquery("timeline")
    return select(merged).order_by(merged.c.at.desc(), merged.c.id.desc(), merged.c.kind.desc()).limit(limit)


def _kind(kind: str) -> ColumnElement[str]:
    return literal_column(f"'{kind}'", String).label("kind")


def _older(at: ColumnElement[float], entry_id: ColumnElement[str], kind: str,
           before: Cursor | None) -> list[ColumnElement[bool]]:
    """Rows strictly after ``before`` in (at, id, kind) descending order; ``at <= x`` comes first
    so the index range scan stops there."""
    if before is None:
        return []
    same_at = entry_id <= before.id if kind < before.kind else entry_id < before.id
    return [at <= before.at, or_(at < before.at, same_at)]
