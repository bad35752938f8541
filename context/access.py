"""What the access rules read and write: who held which interaction, customers shared with an
agent, and which customers a set of people or queues reaches (for reads and search).

A customer is reached through the interactions of its whole merge tree (``root_customer_id``,
kept current by merges and unmerges), so a merge or unmerge moves access with the history.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, false, func, insert, or_, select, union
from sqlalchemy.dialects import postgresql, sqlite

from context.db import Conn, Database
from context.models import customer_shares, customers, identities, interaction_holders, interactions
from cti.access import Reach
from cti.domain import InteractionState

LIVE = (InteractionState.OFFERED.value, InteractionState.ACTIVE.value, InteractionState.WRAP_UP.value)
HELD = (InteractionState.ACTIVE.value, InteractionState.WRAP_UP.value, InteractionState.CLOSED.value)


async def record_holder(conn: Conn, *, interaction_id: str, agent_id: str, at: float) -> None:
    """Inside the interaction's own save: its agent holds it (first and latest time)."""
    await conn.execute(_holder_upsert(conn.dialect.name),
                       {"interaction_id": interaction_id, "agent_id": agent_id, "at": at})


@functools.lru_cache(maxsize=4)
def _holder_upsert(dialect_name: str) -> Any:
    """Built once per dialect: every accept and completion runs it."""
    h = interaction_holders
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    at = bindparam("at", type_=h.c.last_at.type)
    stmt = dialect.insert(h).values(interaction_id=bindparam("interaction_id"),
                                    agent_id=bindparam("agent_id"), first_at=at, last_at=at)
    return stmt.on_conflict_do_update(index_elements=[h.c.interaction_id, h.c.agent_id],
                                      set_={"last_at": stmt.excluded.last_at})


class AccessRecords:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def share(self, *, share_id: str, customer_id: str, agent_id: str, shared_by: str,
                    at: float, until: float) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(insert(customer_shares).values(
                id=share_id, customer_id=customer_id, agent_id=agent_id, shared_by=shared_by, at=at,
                until=until))

        await self._db.write(work)

    async def reaches(self, root_id: str, reach: Reach, *, now: float) -> bool:
        """True when ``reach`` opens the customer whose merge tree's root is ``root_id``."""
        roots = _reached_roots(reach, now=now).subquery()
        async with self._db.read() as conn:
            found = await conn.execute(select(roots.c.root).where(roots.c.root == root_id).limit(1))
            return found.first() is not None

    async def search(self, text: str, reach: Reach | None, *, now: float, limit: int) -> Sequence[str]:
        """Root customer ids whose name or an identity contains ``text`` (case-insensitive; a
        phone by its digits), within ``reach`` (None: everyone), by name then id."""
        c, idn = customers.c, identities.c
        needle = text.casefold()
        digits = "".join(ch for ch in text if ch.isdigit())
        by_identity: ColumnElement[bool] = func.lower(idn.value).contains(needle, autoescape=True)
        if len(digits) >= 4:
            by_phone = (idn.kind == "phone") & idn.value.contains(digits, autoescape=True)
            by_identity = or_(by_identity, by_phone)
        by_name = func.lower(c.display_name).contains(needle, autoescape=True)
        matched = union(
            select(c.root_id.label("root")).where(by_name),
            select(c.root_id.label("root")).join(identities, idn.customer_id == c.id).where(by_identity),
        ).subquery()
        query = (select(c.id).where(c.id.in_(select(matched.c.root)), c.merged_into.is_(None))
                 .order_by(c.display_name, c.id).limit(limit))
        if reach is not None:
            query = query.where(c.id.in_(select(_reached_roots(reach, now=now).subquery().c.root)))
        async with self._db.read() as conn:
            return list((await conn.execute(query)).scalars())


def _reached_roots(reach: Reach, *, now: float) -> Select[tuple[str]]:
    """The roots of the customers ``reach`` opens, as one query."""
    i, h, s, c = interactions.c, interaction_holders.c, customer_shares.c, customers.c
    held = select(h.interaction_id).where(h.agent_id.in_(list(reach.agents)))
    if reach.held_since is not None:
        held = held.where(h.last_at >= reach.held_since)
    through: list[ColumnElement[bool]] = []
    if reach.agents:
        through += [i.id.in_(held), i.agent_id.in_(list(reach.agents)) & i.state.in_(LIVE)]
    if reach.queues:
        through.append(i.queue.in_(list(reach.queues)))
    roots: Select[tuple[str]] = select(i.root_customer_id.label("root")).where(
        or_(*through) if through else false())
    if reach.shared_to is not None:
        shared = (select(c.root_id.label("root")).join(customer_shares, s.customer_id == c.id)
                  .where(s.agent_id == reach.shared_to, s.until > now))
        return select(union(roots, shared).subquery().c.root)
    return roots
