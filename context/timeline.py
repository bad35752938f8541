"""A customer's unified timeline: interactions, messages and notes across channels, newest first.

One page is one SQL statement. The customer's root is looked up once; three branches
(interactions, messages, notes), each filtered on that root through its own
``(root_customer_id, at, id)`` index, are read backwards and cut to the page size, so each costs
at most ``limit`` index entries whatever the customer's history; they are merged, ordered and cut
again, and only then are the page's interactions (channel, customer, state) read, each once, by
one primary-key scan over the page's distinct interaction ids. Messages and notes carry their
interaction's ``root_customer_id`` (kept by the database's triggers, migration 0012), which is
what lets their branches skip the customer's interactions entirely. Paging is by keyset on
(at, id, kind), descending, carried in an opaque cursor.

The plan PostgreSQL 15 chose for a first page and for a page after a cursor, after ANALYZE
(tests/context/test_timeline_plan.py checks the indexes and the single reads, custom and generic;
``python -m bench history`` prints it on 10 million messages, where a page touches about 70
buffers for a customer of any size, against about 245 when each entry of the page looked up its
interaction on its own, and up to 450,000 for the heaviest customer with the statement that went
through the interactions)::

    Limit -> Sort (at DESC, id DESC, kind DESC)
      -> Hash Join (conversations.id = timeline.interaction_id)
        -> CTE Scan on conversations -> Hash -> CTE Scan on timeline
      CTE root: Index Scan using pk_customers (the customer's root), once
      CTE timeline: Limit -> Incremental Sort (at DESC, id DESC, kind DESC)
        -> Merge Append (at DESC, id DESC; at most 3 x 51 rows)
          -> Limit -> Index Only Scan Backward using ix_interactions_root_customer_id_arrived_at
          -> Limit -> Index Scan Backward using ix_messages_root_customer_id_at
          -> Limit -> Index Scan Backward using ix_notes_root_customer_id_at
             (root_customer_id = the root [AND at <= cursor])
      CTE conversations (MATERIALIZED): Index Scan using pk_interactions
        (id = ANY(the page's interaction ids)): a page is mostly a few conversations, so about
        10 interactions read once each, not one lookup per entry

The same shape with a generic plan (the server's prepared statements), where the planner guesses
a page of one row: without MATERIALIZED it ran the interactions' scan again for every entry.

No sequential scan anywhere; the cost is bounded by the page size, not the customer's history.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Double,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from context.db import Conn
from context.models import customers, interactions, messages, notes
from context.queries import require_root
from cti.domain import Channel
from cti.errors import InvalidInput
from cti.ports import TimelineEntry, TimelinePage

MAX_PAGE = 200
KINDS = ("interaction", "message", "note")


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last entry of a page: the next page starts strictly after it."""

    at: float
    id: str
    kind: str

    def encode(self) -> str:
        raw = json.dumps([self.at, self.id, self.kind], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            at, entry_id, kind = json.loads(raw)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise InvalidInput("bad-cursor", "the timeline cursor is not one this server made") from exc
        if not isinstance(at, int | float) or not isinstance(entry_id, str) or kind not in KINDS:
            raise InvalidInput("bad-cursor", "the timeline cursor is not one this server made")
        return cls(at=float(at), id=entry_id, kind=kind)


@dataclass(frozen=True, slots=True)
class _BoundCursor:
    """A cursor whose time and id are parameters: one statement serves every cursor of a kind."""

    at: BindParameter[float]
    id: BindParameter[str]
    kind: str


def timeline_query(customer_id: str | BindParameter[str], *, limit: int, before: Cursor | _BoundCursor | None,
                   body_limit: int) -> Select[Any]:
    """The statement for one page (``limit`` rows; ask one more to know if there is a next page)."""
    # The customer's root, looked up once for the three branches (a scalar subquery in each
    # would read the customers' primary key three times).
    found = select(customers.c.root_id).where(customers.c.id == customer_id).cte("root")
    root = select(found.c.root_id).scalar_subquery()
    i, m, n = interactions.c, messages.c, notes.c
    body_cut: ColumnElement[int] = literal_column(str(int(body_limit)), Integer)
    no_text = cast(null(), Text)
    started = (
        select(_kind("interaction"), i.id.label("id"), i.arrived_at.label("at"), i.id.label("interaction_id"),
               no_text.label("body"), cast(null(), String).label("sender"))
        .where(i.root_customer_id == root, *_older(i.arrived_at, i.id, "interaction", before))
        .order_by(i.arrived_at.desc(), i.id.desc()).limit(limit))
    said = (
        select(_kind("message"), m.id.label("id"), m.at.label("at"), m.interaction_id,
               func.substr(m.body, 1, body_cut).label("body"), m.sender.label("sender"))
        .where(m.root_customer_id == root, *_older(m.at, m.id, "message", before))
        .order_by(m.at.desc(), m.id.desc()).limit(limit))
    noted = (
        select(_kind("note"), n.id.label("id"), n.at.label("at"), n.interaction_id,
               func.substr(n.body, 1, body_cut).label("body"), n.author_id.label("sender"))
        .where(n.root_customer_id == root, *_older(n.at, n.id, "note", before))
        .order_by(n.at.desc(), n.id.desc()).limit(limit))
    # SQLite allows ORDER BY / LIMIT in a compound member only inside a subquery.
    merged = union_all(*(select(branch.subquery()) for branch in (started, said, noted))).subquery("merged")
    t = (select(merged).order_by(merged.c.at.desc(), merged.c.id.desc(), merged.c.kind.desc()).limit(limit)
         .cte("timeline"))
    # The interaction's columns only for the page's rows, each interaction read once however many
    # of its messages and notes the page holds (a page is mostly a few conversations): one index
    # scan over the page's distinct interaction ids, where a lookup per row would descend the
    # primary key 51 times. MATERIALIZED (PostgreSQL) keeps that scan apart from the join: a
    # generic plan (the server's prepared statements) that guesses a page of one row would
    # otherwise run it again for every entry.
    seen = (select(i.id, i.channel, i.customer_id, i.state, i.direction)
            .where(_OneOf(i.id, select(t.c.interaction_id).correlate(None)))
            .cte("conversations").prefix_with("MATERIALIZED", dialect="postgresql"))
    # State and direction belong to interaction entries only, as the summary says.
    is_interaction = t.c.kind == "interaction"
    return (select(t.c.kind, t.c.id, t.c.at, t.c.interaction_id, seen.c.channel, seen.c.customer_id, t.c.body,
                   t.c.sender, case((is_interaction, seen.c.state), else_=null()).label("state"),
                   case((is_interaction, seen.c.direction), else_=null()).label("direction"))
            .select_from(t.join(seen, seen.c.id == t.c.interaction_id))
            .order_by(t.c.at.desc(), t.c.id.desc(), t.c.kind.desc()).limit(limit))


async def read_timeline(conn: Conn, customer_id: str, *, limit: int, before: str | None,
                        body_limit: int) -> TimelinePage:
    if limit < 1:
        raise InvalidInput("bad-limit", "'limit' must be at least 1")
    size = min(limit, MAX_PAGE)
    cursor = Cursor.decode(before) if before is not None else None
    if cursor is None:
        # Every screen pop asks for a first page: its statement is built once (building it costs
        # more than running it) and reused with the customer as a parameter.
        query = _first_page(size + 1, body_limit)
        rows = (await conn.execute(query, {"customer_id": customer_id})).all()
    else:
        # The same for the pages after: one statement per kind of cursor, its time and id bound.
        query = _next_page(size + 1, body_limit, cursor.kind)
        rows = (await conn.execute(query, {"customer_id": customer_id, "before_at": cursor.at,
                                           "before_id": cursor.id})).all()
    if not rows:
        await require_root(conn, customer_id)  # an unknown customer is a 404, not an empty page
    entries = [_entry(r) for r in rows[:size]]
    last = entries[-1] if entries else None
    next_cursor = (Cursor(at=last.at, id=last.id, kind=last.kind).encode()
                   if last is not None and len(rows) > size else None)
    return TimelinePage(entries=entries, next_cursor=next_cursor)


@functools.lru_cache(maxsize=64)
def _first_page(limit: int, body_limit: int) -> Select[Any]:
    return timeline_query(bindparam("customer_id", type_=String), limit=limit, before=None,
                          body_limit=body_limit)


@functools.lru_cache(maxsize=64)
def _next_page(limit: int, body_limit: int, kind: str) -> Select[Any]:
    before = _BoundCursor(at=bindparam("before_at", type_=Double), id=bindparam("before_id", type_=String),
                          kind=kind)
    return timeline_query(bindparam("customer_id", type_=String), limit=limit, before=before,
                          body_limit=body_limit)


class _OneOf(ColumnElement[bool]):
    """``column`` is one of the values ``values`` selects (a statement of its own, never correlated
    with the enclosing one). PostgreSQL gets ``= ANY(ARRAY(...))``:
    the subquery runs once, before the scan, and the index is searched for its values (sorted,
    each once), where ``IN (subquery)`` would be planned as a join the planner may turn into a
    lookup per row. Elsewhere (SQLite) it is ``IN (subquery)``."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison already: no ``= 1`` on SQLite
    # The cache key covers both, so two statements differing only here are compiled apart.
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any], values: Select[Any]) -> None:
        self.column = column
        self.values = values


@compiles(_OneOf)
def _one_of(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN ({compiler.process(element.values, **kw)})"


@compiles(_OneOf, "postgresql")
def _one_of_postgresql(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY(ARRAY({compiler.process(element.values, **kw)}))"


def _kind(kind: str) -> ColumnElement[str]:
    return literal_column(f"'{kind}'", String).label("kind")


def _older(at: ColumnElement[float], entry_id: ColumnElement[str], kind: str,
           before: Cursor | _BoundCursor | None) -> list[ColumnElement[bool]]:
    """Rows strictly after ``before`` in (at, id, kind) descending order; ``at <= x`` comes first
    so the index range scan stops there."""
    if before is None:
        return []
    same_at = entry_id <= before.id if kind < before.kind else entry_id < before.id
    return [at <= before.at, or_(at < before.at, same_at)]


def _entry(r: Any) -> TimelineEntry:
    summary = f"{r.channel} {r.direction} {r.state}" if r.kind == "interaction" else r.body
    return TimelineEntry(kind=r.kind, id=r.id, at=r.at, interaction_id=r.interaction_id,
                         channel=Channel(r.channel), customer_id=r.customer_id, summary=summary,
                         sender=r.sender, state=r.state)
