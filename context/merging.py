"""Merging two customers into one, and undoing it.

A merge points the merged customer at the survivor (``merged_into``) and re-roots the merged
customer's whole tree (``root_id`` of customers, ``root_customer_id`` of interactions) on the
survivor's root. Nothing the merged customer brought is moved, so undoing the merge only has to
cut the pointer and re-root the merged customer's subtree on itself: its identities and
interactions (and so its messages and notes) come back exactly; what was added to the survivor
after the merge stays with the survivor. Chains work the same way: with A merged into B and B
into C, undoing the first takes A (alone) out of C; undoing the second takes B and A together.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, or_, select, update

from context.audit import write_audit
from context.db import Conn
from context.models import customers, interactions, merges
from cti.clock import Clock, IdSource
from cti.domain import Identity
from cti.errors import Conflict, NotFound
from cti.ports import MergeRecord


async def merge_into(conn: Conn, *, clock: Clock, ids: IdSource, survivor_id: str,
                     merged_id: str, reason: str, actor: str, proof: Identity | None) -> str:
    """Merge root ``merged_id`` into root ``survivor_id`` (both locked by the caller)."""
    merge_id = ids.new_id("mrg")
    now = clock.now()
    # Customers first, interactions second: a concurrent save_interaction holds its customer row
    # FOR SHARE, so the interactions update below sees every interaction saved before us.
    await conn.execute(update(customers).where(customers.c.id == merged_id).values(merged_into=survivor_id))
    await conn.execute(update(customers).where(customers.c.root_id == merged_id).values(root_id=survivor_id))
    await conn.execute(update(interactions).where(interactions.c.root_customer_id == merged_id)
                       .values(root_customer_id=survivor_id))
    await conn.execute(insert(merges).values(
        id=merge_id, survivor_id=survivor_id, merged_id=merged_id, reason=reason, actor=actor, at=now,
        proof_kind=proof.kind.value if proof else None, proof_value=proof.value if proof else None))
    await write_audit(conn, clock=clock, ids=ids, actor=actor, action="customer.merge", target=survivor_id,
                      details={"merge_id": merge_id, "survivor_id": survivor_id, "merged_id": merged_id,
                               "reason": reason, "identity": identity_json(proof)})
    return merge_id


async def unmerge(conn: Conn, *, clock: Clock, ids: IdSource, merge_id: str,
                  actor: str) -> tuple[str, str]:
    """Undo one merge; returns (survivor id, restored id)."""
    m = merges.c
    record = (await conn.execute(
        select(m.survivor_id, m.merged_id, m.undone_at).where(m.id == merge_id).with_for_update())).first()
    if record is None:
        raise NotFound("merge-not-found", f"no merge {merge_id!r}", merge_id=merge_id)
    if record.undone_at is not None:
        raise Conflict("merge-already-undone", f"merge {merge_id!r} was already undone", merge_id=merge_id,
                       undone_at=record.undone_at)
    merged_into = (await conn.execute(
        select(customers.c.merged_into).where(customers.c.id == record.merged_id).with_for_update())
    ).scalar_one()
    if merged_into != record.survivor_id:  # only possible if the data was edited by hand
        raise Conflict("merge-not-current", f"customer {record.merged_id!r} is no longer merged as recorded",
                       merge_id=merge_id)
    subtree = await _subtree(conn, record.merged_id)
    now = clock.now()
    await conn.execute(update(customers).where(customers.c.id == record.merged_id).values(merged_into=None))
    await conn.execute(update(customers).where(customers.c.id.in_(subtree)).values(root_id=record.merged_id))
    await conn.execute(update(interactions).where(interactions.c.customer_id.in_(subtree))
                       .values(root_customer_id=record.merged_id))
    await conn.execute(update(merges).where(m.id == merge_id).values(undone_at=now, undone_by=actor))
    await write_audit(conn, clock=clock, ids=ids, actor=actor, action="customer.unmerge",
                      target=record.merged_id,
                      details={"merge_id": merge_id, "survivor_id": record.survivor_id,
                               "merged_id": record.merged_id, "customers_restored": sorted(subtree)})
    return record.survivor_id, record.merged_id


async def merges_of(conn: Conn, root_id: str) -> Sequence[MergeRecord]:
    """Every merge that touched the customer's tree (done or undone), newest first."""
    members = select(customers.c.id).where(customers.c.root_id == root_id)
    m = merges.c
    rows = (await conn.execute(
        select(m.id, m.survivor_id, m.merged_id, m.reason, m.actor, m.at, m.undone_at)
        .where(or_(m.survivor_id.in_(members), m.merged_id.in_(members)))
        .order_by(m.at.desc(), m.id.desc()))).all()
    return [MergeRecord(id=r.id, survivor_id=r.survivor_id, merged_id=r.merged_id, reason=r.reason,
                        actor=r.actor, at=r.at, undone_at=r.undone_at) for r in rows]


async def _subtree(conn: Conn, customer_id: str) -> list[str]:
    """``customer_id`` and every customer merged into it, directly or through a chain."""
    tree = select(customers.c.id).where(customers.c.id == customer_id).cte("tree", recursive=True)
    child = customers.alias("child")
    tree = tree.union_all(select(child.c.id).where(child.c.merged_into == tree.c.id))
    return list((await conn.execute(select(tree.c.id))).scalars())


def identity_json(identity: Identity | None) -> dict[str, str] | None:
    return None if identity is None else {"kind": identity.kind.value, "value": identity.value}
