"""Small shared reads on customers and identities, used inside other transactions."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, or_, select

from context.db import Conn
from context.models import customers, identities
from cti.domain import Customer, Identity, IdentityKind
from cti.errors import NotFound


class Locked(NamedTuple):
    id: str
    created_at: float
    merged_into: str | None


def _customer_query() -> Select[Any]:
    asked = customers.alias("asked")
    root = customers.alias("root")
    member = customers.alias("member")
    i = identities
    return (
        select(root.c.id, root.c.display_name, root.c.created_at, i.c.kind, i.c.value)
        .select_from(asked.join(root, root.c.id == asked.c.root_id)
                     .outerjoin(member, member.c.root_id == root.c.id)
                     .outerjoin(i, i.c.customer_id == member.c.id))
        .where(asked.c.id == bindparam("customer_id"))
        .order_by(i.c.added_at, i.c.kind, i.c.value))


# Built once: its three aliases cost more to build than the query costs to run.
_CUSTOMER = _customer_query()


async def load_customer(conn: Conn, customer_id: str) -> Customer | None:
    """The customer ``customer_id`` is today (the root of its merge tree), with every identity
    of the tree, oldest first; one query, so one consistent picture."""
    rows = (await conn.execute(_CUSTOMER, {"customer_id": customer_id})).all()
    if not rows:
        return None
    first = rows[0]
    found = tuple(Identity(IdentityKind(r.kind), r.value) for r in rows if r.kind is not None)
    return Customer(id=first.id, display_name=first.display_name, identities=found,
                    created_at=first.created_at)


async def require_customer(conn: Conn, customer_id: str) -> Customer:
    customer = await load_customer(conn, customer_id)
    if customer is None:
        raise NotFound("customer-not-found", f"no customer {customer_id!r}", customer_id=customer_id)
    return customer


async def root_of(conn: Conn, customer_id: str) -> str | None:
    return (await conn.execute(
        select(customers.c.root_id).where(customers.c.id == customer_id))).scalar_one_or_none()


async def require_root(conn: Conn, customer_id: str) -> str:
    root = await root_of(conn, customer_id)
    if root is None:
        raise NotFound("customer-not-found", f"no customer {customer_id!r}", customer_id=customer_id)
    return root


async def owners(conn: Conn, wanted: Sequence[Identity]) -> dict[Identity, str]:
    """For each known identity among ``wanted``: the root customer that owns it today."""
    if not wanted:
        return {}
    params = {}
    for n, w in enumerate(wanted):
        params[f"k{n}"], params[f"v{n}"] = w.kind.value, w.value
    rows = (await conn.execute(_owners_of(len(wanted)), params)).all()
    return {Identity(IdentityKind(r.kind), r.value): r.root_id for r in rows}


@functools.lru_cache(maxsize=16)
def _owners_of(count: int) -> Select[Any]:
    """The owners of ``count`` identities: built once per count (an inbound chat has two)."""
    i = identities
    return (select(i.c.kind, i.c.value, customers.c.root_id)
            .join(customers, customers.c.id == i.c.customer_id)
            .where(or_(*(and_(i.c.kind == bindparam(f"k{n}"), i.c.value == bindparam(f"v{n}"))
                         for n in range(count)))))


async def lock_customers(conn: Conn, customer_ids: Sequence[str]) -> list[Locked]:
    """Lock the rows (PostgreSQL; SQLite's write transaction already holds the database) in id
    order, so that two transactions locking overlapping sets cannot deadlock."""
    rows = (await conn.execute(_LOCK, {"ids": sorted(set(customer_ids))})).all()
    return [Locked(r.id, r.created_at, r.merged_into) for r in rows]


_LOCK = (select(customers.c.id, customers.c.created_at, customers.c.merged_into)
         .where(customers.c.id.in_(bindparam("ids", expanding=True))).order_by(customers.c.id)
         .with_for_update())
