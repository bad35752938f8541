"""The interaction event log in the database: written inside the save of a snapshot, or recorded
on its own (with an idempotency key), and read per interaction or by time range.

Why the writes are where they are: ``cti.eventlog``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import String, bindparam, insert, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from context.db import Conn, Database
from context.models import interaction_events
from cti.errors import InvalidInput, NotFound
from cti.eventlog import EntryKind, LogEntry

MAX_KEY = 64
# Interactions whose whole logs one range read loads at most: a report asks for a bounded range.
MAX_RANGE_INTERACTIONS = 200_000

_E = interaction_events.c
# The details as the driver gives them, not through SQLAlchemy's JSON type: most are "{}", and
# decoding each row's JSON was a third of reading an hour of logs (bench/figures.py).
_DETAILS = type_coerce(_E.details, String).label("details")
_COLUMNS = (_E.seq, _E.interaction_id, _E.key, _E.kind, _E.at, _E.channel, _E.queue, _E.agent_id, _E.node,
            _DETAILS)
_KINDS = {k.value: k for k in EntryKind}  # a dict lookup: ``EntryKind(value)`` costs more per row
_OF_ONE = (select(*_COLUMNS).where(_E.interaction_id == bindparam("w_id"))
           .order_by(_E.at, _E.seq))


def row_of(entry: LogEntry, *, key: str, node: str | None) -> dict[str, Any]:
    return {"interaction_id": entry.interaction_id, "key": key, "kind": entry.kind.value, "at": entry.at,
            "channel": entry.channel, "queue": entry.queue, "agent_id": entry.agent_id,
            "node": entry.node or node, "details": dict(entry.details)}


def saved_rows(entries: Sequence[LogEntry], *, version: int, node: str | None) -> list[dict[str, Any]]:
    """The rows of the entries a save carries: keyed by the version that save creates, which only
    one save can create (the version check), so the keys never collide."""
    return [row_of(e, key=f"{version}.{n}", node=node) for n, e in enumerate(entries)]


async def write_saved(conn: Conn, entries: Sequence[LogEntry], *, version: int, node: str | None) -> None:
    """In the save's own transaction: a save rolled back takes its entries with it."""
    if entries:
        await conn.execute(insert(interaction_events), saved_rows(entries, version=version, node=node))


@functools.lru_cache(maxsize=4)
def _insert_once(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(interaction_events).on_conflict_do_nothing().returning(_E.seq)


def _details(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "{}":
        return {}
    # Text on SQLite; psycopg decodes JSON columns itself on PostgreSQL.
    found = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return dict(found) if isinstance(found, dict) else {}


def entry_of(row: Any) -> LogEntry:
    """An entry from a row of ``_COLUMNS``, unpacked by position: reading an hour of logs builds
    a few hundred thousand, and attribute access by name cost more than the rest together."""
    _, interaction_id, key, kind, at, channel, queue, agent_id, node, details = row
    return LogEntry(interaction_id, _KINDS[kind], at, channel, queue, agent_id, _details(details), node, key)


async def logs_of(conn: Conn, ids: Any) -> dict[str, list[LogEntry]]:
    """The whole logs of the interactions ``ids`` (ids, or a select of them), each in order."""
    query = (select(*_COLUMNS).where(_E.interaction_id.in_(ids)).order_by(_E.interaction_id, _E.at, _E.seq))
    out: dict[str, list[LogEntry]] = {}
    for r in (await conn.execute(query)).all():
        entry = entry_of(r)
        out.setdefault(entry.interaction_id, []).append(entry)
    return out


class EventLog:
    def __init__(self, *, db: Database, node_id: str | None = None) -> None:
        self._db = db
        self._node = node_id

    async def record(self, entries: Sequence[LogEntry]) -> int:
        """Entries of steps that change no interaction row (holds, consults), each under its own
        ``key``: an entry already stored is skipped. Returns how many were new."""
        for e in entries:
            if not e.key or len(e.key) > MAX_KEY:
                raise InvalidInput("bad-log-key", f"a log entry's key is 1-{MAX_KEY} characters",
                                   interaction_id=e.interaction_id)
        if not entries:
            return 0

        async def work(conn: Conn) -> int:
            done = 0
            for e in entries:
                try:
                    result = await conn.execute(_insert_once(conn.dialect.name),
                                                row_of(e, key=e.key, node=self._node))
                except IntegrityError as exc:  # the foreign key: no such interaction
                    raise NotFound("interaction-not-found", f"no interaction {e.interaction_id!r}",
                                   interaction_id=e.interaction_id) from exc
                done += result.first() is not None  # a row comes back only when one was written
            return done

        return await self._db.write(work)

    async def of(self, interaction_id: str) -> list[LogEntry]:
        """One interaction's log, in order."""
        async with self._db.read() as conn:
            rows = (await conn.execute(_OF_ONE, {"w_id": interaction_id})).all()
        return [entry_of(r) for r in rows]

    async def touching(self, start: float, end: float, *,
                       channels: Iterable[str] | None = None) -> Mapping[str, list[LogEntry]]:
        """The whole logs of the interactions with an entry in [start, end), by interaction, each
        in order: every segment that starts in the range is in them, with its end even if later.

        ``channels``: only those channels (an interaction never changes channel, so this is exact).
        Queue and agent are not narrowed here: a segment's queue and agent are known only from its
        whole log (an overflow, an accept after the range), so the figures filter segments."""
        inner = select(_E.interaction_id).where(_E.at >= start, _E.at < end)
        if channels is not None:
            inner = inner.where(_E.channel.in_(list(channels)))
        ids = inner.distinct().limit(MAX_RANGE_INTERACTIONS + 1).subquery()
        async with self._db.read() as conn:
            out = await logs_of(conn, select(ids.c.interaction_id))
        if len(out) > MAX_RANGE_INTERACTIONS:
            raise InvalidInput("range-too-large", "too many interactions in the range; ask for a shorter one",
                               limit=MAX_RANGE_INTERACTIONS)
        return out
