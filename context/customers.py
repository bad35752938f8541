"""Customers: resolution from identities, links and unlinks by hand, merges and their undoing.

Every change runs in one write transaction that locks the root customers it touches (in id
order) and checks they are still roots; a concurrent change makes it start again (``Retry``),
and two callers creating the same new identity at once meet on the identities' primary key, the
loser retrying its lookup (``Database.write``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update

from context.audit import write_audit
from context.db import Conn, Database, Retry
from context.merging import identity_json, merge_into, merges_of, unmerge
from context.models import customers, identities
from context.queries import lock_customers, owners, require_customer, require_root
from context.suggestions import CONFIRMED, DISMISSED, decide, open_for, require_suggestion, suggest
from cti.clock import Clock, IdSource
from cti.domain import Customer, Identity, IdentityKind, IdentityLevel, InboundIdentity
from cti.errors import Conflict, InvalidInput, NotFound
from cti.ports import MergeRecord, MergeSuggestion

log = logging.getLogger(__name__)

MAX_IDENTITY_VALUE = 255
# Identities that say only "this visitor" or "this call": a customer with no others is nobody yet.
ANONYMOUS_KINDS = frozenset({IdentityKind.CHAT, IdentityKind.CALL})
MAX_DISPLAY_NAME = 200


class Customers:
    def __init__(self, *, db: Database, clock: Clock, ids: IdSource) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids

    async def customer(self, customer_id: str) -> Customer:
        async with self._db.read() as conn:
            return await require_customer(conn, customer_id)

    async def find(self, identity: Identity) -> Customer | None:
        async with self._db.read() as conn:
            root = (await owners(conn, [identity])).get(identity)
            return None if root is None else await require_customer(conn, root)

    async def merges(self, customer_id: str) -> Sequence[MergeRecord]:
        async with self._db.read() as conn:
            return await merges_of(conn, await require_root(conn, customer_id))

    async def resolve_inbound(self, presented: Sequence[InboundIdentity], *, display_name: str | None,
                              actor: str, reason: str) -> Customer:
        """The customer of an inbound interaction, by the identities' levels.

        Claimed identities take no part: a claim names someone without proving it, so it finds,
        attaches and merges nobody (the caller records it on the interaction). Verified and
        asserted ones find their customers; only customers found through *verified* identities
        are merged. The interaction goes to the verified customer, else to the first one found;
        every other customer found becomes a merge suggestion for a person to decide.
        """
        strongest = _strongest(presented)
        _check_name(display_name)
        if not strongest:
            # Nothing but claims: a customer of its own, nameless (the name came with the claims
            # and is shown with them, not as who this is).
            return await self._anonymous()
        wanted = _checked(list(strongest))

        async def work(conn: Conn) -> Customer:
            survivor = await self._resolve_on(conn, strongest, wanted, display_name=display_name,
                                              actor=actor, reason=reason)
            return await require_customer(conn, survivor)

        return await self._db.write(work)

    async def _resolve_on(self, conn: Conn, strongest: dict[Identity, IdentityLevel],
                          wanted: Sequence[Identity], *, display_name: str | None, actor: str,
                          reason: str) -> str:
        """``resolve_inbound`` inside a write transaction: the root customer's id."""
        owned = await owners(conn, wanted)
        verified = list(dict.fromkeys(owned[i] for i in wanted
                                      if i in owned and strongest[i] is IdentityLevel.VERIFIED))
        others = list(dict.fromkeys(owned[i] for i in wanted if i in owned and owned[i] not in verified))
        if not verified and not others:
            return await self._create(conn, wanted, display_name=display_name)
        if verified:
            proven = {i: r for i, r in owned.items() if strongest[i] is IdentityLevel.VERIFIED}
            survivor = await self._merge_roots(conn, verified, proven, reason=reason, actor=actor)
        else:
            survivor, others = others[0], others[1:]
        for other in others:
            evidence = next(i for i in wanted if owned.get(i) == other)
            await suggest(conn, clock=self._clock, ids=self._ids, customer_a=survivor, customer_b=other,
                          identity=evidence, reason=reason)
            log.info("merge suggested survivor=%s other=%s kind=%s", survivor, other, evidence.kind.value)
        await self._attach(conn, survivor, [i for i in wanted if i not in owned])
        if display_name:
            await conn.execute(update(customers)
                               .where(customers.c.id == survivor, customers.c.display_name.is_(None))
                               .values(display_name=display_name))
        return survivor

    async def resolve_inbound_many(self, conn: Conn,
                                   asked: Sequence[InboundAsk]) -> tuple[list[str], set[str]]:
        """``resolve_inbound`` for each of ``asked`` in order, inside one write transaction: the
        root customer of each, and which of them this call created. The usual cases (nobody known
        yet, or one customer known) cost a few statements for the whole batch; the rest (customers
        to merge or to suggest) take ``resolve_inbound``'s own way, one at a time. Checked
        beforehand with ``check_inbound``."""
        wanted_each = [_strongest(a.identities) for a in asked]
        owned = await owners(conn, list(dict.fromkeys(i for w in wanted_each for i in w)))
        now = self._clock.now()
        new_customers: list[dict[str, object]] = []
        new_identities: list[dict[str, object]] = []
        to_lock: list[str] = []
        names: list[dict[str, object]] = []

        async def flush() -> None:
            if new_customers:
                await conn.execute(insert(customers), new_customers)
            if new_identities:
                await conn.execute(insert(identities), new_identities)
            if to_lock:
                await self._lock_roots(conn, to_lock)
            if names:
                await conn.execute(_NAME_IF_NONE, names)
            for pending in (new_customers, new_identities, to_lock, names):
                pending.clear()

        roots: list[str] = []
        created: set[str] = set()
        for ask, strongest in zip(asked, wanted_each, strict=True):
            wanted = list(strongest)
            found = list(dict.fromkeys(owned[i] for i in wanted if i in owned))
            verified = {owned[i] for i in wanted if i in owned and strongest[i] is IdentityLevel.VERIFIED}
            if len(found) > 1:
                await flush()  # the general way reads what this batch created so far
                survivor = await self._resolve_on(conn, strongest, wanted, display_name=ask.display_name,
                                                  actor=ask.actor, reason=ask.reason)
                owned.update(await owners(conn, wanted))
                roots.append(survivor)
                continue
            if found:
                survivor = found[0]
                if verified:
                    to_lock.append(survivor)  # still a root, and stays one until we commit
                if ask.display_name:
                    names.append({"w_id": survivor, "v_name": ask.display_name})
            else:
                survivor = self._ids.new_id("cus")
                created.add(survivor)
                # A customer of claims alone is nameless (see ``resolve_inbound``).
                name = (ask.display_name or None) if wanted else None
                new_customers.append({"id": survivor, "display_name": name, "created_at": now,
                                      "root_id": survivor})
            for identity in wanted:
                if identity not in owned:
                    new_identities.append({"kind": identity.kind.value, "value": identity.value,
                                           "customer_id": survivor, "added_at": now})
                    owned[identity] = survivor
            roots.append(survivor)
        await flush()
        return roots, created

    async def prove(self, customer_id: str, identity: Identity, *, actor: str, reason: str,
                    by_person: bool) -> Customer:
        """``identity`` is proven to be this customer's: attach it, or merge the customer with the
        one who owns it (audited with ``actor`` and ``reason``).

        A person who checked (``by_person``) may merge any two customers. A one-time code proves
        only that whoever is on this interaction reads that mailbox or phone: it merges the
        interaction's customer into the owner when that customer is nobody else yet (only a chat
        visitor id or a call of its own); a customer with addresses or numbers of their own gets
        a merge suggestion instead, for a person to decide.
        """
        (identity,) = _checked([identity])

        async def work(conn: Conn) -> Customer:
            root = await require_root(conn, customer_id)
            owner = (await owners(conn, [identity])).get(identity)
            if owner is None:
                await self._lock_roots(conn, [root])
                await self._attach(conn, root, [identity])
                await write_audit(conn, clock=self._clock, ids=self._ids, actor=actor,
                                  action="identity.prove", target=root,
                                  details={"identity": identity_json(identity), "reason": reason})
                return await require_customer(conn, root)
            if owner == root:
                return await require_customer(conn, root)
            current = await require_customer(conn, root)
            if not by_person and any(i.kind not in ANONYMOUS_KINDS for i in current.identities):
                await suggest(conn, clock=self._clock, ids=self._ids, customer_a=root, customer_b=owner,
                              identity=identity, reason=reason)
                return current
            survivor = await self._merge_roots(conn, [root, owner], {identity: owner}, reason=reason,
                                               actor=actor)
            return await require_customer(conn, survivor)

        return await self._db.write(work)

    async def suggestions(self, customer_id: str) -> Sequence[MergeSuggestion]:
        async with self._db.read() as conn:
            return await open_for(conn, await require_root(conn, customer_id))

    async def suggestion(self, suggestion_id: str) -> MergeSuggestion:
        async with self._db.read() as conn:
            return await require_suggestion(conn, suggestion_id)

    async def decide_suggestion(self, suggestion_id: str, *, confirm: bool, actor: str,
                                reason: str) -> Customer | None:
        """Confirm (merge the two, audited with ``actor`` and ``reason``) or dismiss."""
        async def work(conn: Conn) -> Customer | None:
            found = await decide(conn, clock=self._clock, ids=self._ids, suggestion_id=suggestion_id,
                                 status=CONFIRMED if confirm else DISMISSED, actor=actor, reason=reason)
            if not confirm:
                return None
            roots = list(dict.fromkeys([await require_root(conn, c) for c in found.customer_ids]))
            if len(roots) == 1:  # merged meanwhile
                return await require_customer(conn, roots[0])
            proof = {found.identity: roots[1]}
            survivor = await self._merge_roots(conn, roots, proof, reason=reason, actor=actor)
            return await require_customer(conn, survivor)

        return await self._db.write(work)

    async def _anonymous(self) -> Customer:
        """A customer with no identity yet: whoever wrote only claims who they are."""
        async def work(conn: Conn) -> Customer:
            return await require_customer(conn, await self._create(conn, [], display_name=None))

        return await self._db.write(work)

    async def resolve(self, wanted: Sequence[Identity], *, display_name: str | None, actor: str,
                      reason: str) -> Customer:
        """Every identity given is taken as proof: customers found are merged. For callers that
        know so (an agent dialling a number, tests); inbound channels use ``resolve_inbound``."""
        wanted = _checked(wanted)
        _check_name(display_name)

        async def work(conn: Conn) -> Customer:
            owned = await owners(conn, wanted)
            roots = list(dict.fromkeys(owned[i] for i in wanted if i in owned))
            if not roots:
                customer_id = await self._create(conn, wanted, display_name=display_name)
                log.debug("customer created customer=%s identities=%d", customer_id, len(wanted))
                return await require_customer(conn, customer_id)
            survivor = await self._merge_roots(conn, roots, owned, reason=reason, actor=actor)
            missing = [i for i in wanted if i not in owned]
            await self._attach(conn, survivor, missing)
            if display_name:
                await conn.execute(update(customers)
                                   .where(customers.c.id == survivor, customers.c.display_name.is_(None))
                                   .values(display_name=display_name))
            return await require_customer(conn, survivor)

        return await self._db.write(work)

    async def link(self, a: Identity, b: Identity, *, actor: str, reason: str) -> Customer:
        pair = _checked([a, b])

        async def work(conn: Conn) -> Customer:
            owned = await owners(conn, pair)
            for identity in pair:
                if identity not in owned:
                    raise NotFound("identity-not-found", f"no customer has {identity.kind.value} "
                                   f"{identity.value!r}", identity=identity_json(identity))
            roots = list(dict.fromkeys(owned[i] for i in pair))
            if len(roots) == 1:
                return await require_customer(conn, roots[0])
            survivor = await self._merge_roots(conn, roots, owned, reason=reason, actor=actor)
            merged = next(r for r in roots if r != survivor)
            await write_audit(conn, clock=self._clock, ids=self._ids, actor=actor, action="identity.link",
                              target=survivor, details={"a": identity_json(a), "b": identity_json(b),
                                                        "reason": reason, "merged_id": merged})
            return await require_customer(conn, survivor)

        return await self._db.write(work)

    async def unlink(self, customer_id: str, identity: Identity, *, actor: str) -> Customer:
        """Move ``identity`` out of the customer into a new customer of its own; returns the new one."""
        (identity,) = _checked([identity])

        async def work(conn: Conn) -> Customer:
            root = await require_root(conn, customer_id)
            await self._lock_roots(conn, [root])
            owner = (await owners(conn, [identity])).get(identity)
            if owner is None:
                raise NotFound("identity-not-found", f"no customer has {identity.kind.value} "
                               f"{identity.value!r}", identity=identity_json(identity))
            if owner != root:
                raise Conflict("identity-owned-elsewhere", "the identity belongs to another customer",
                               identity=identity_json(identity), customer_id=root)
            count = (await conn.execute(
                select(func.count()).select_from(identities)
                .join(customers, customers.c.id == identities.c.customer_id)
                .where(customers.c.root_id == root))).scalar_one()
            if count <= 1:
                raise Conflict("only-identity", "cannot unlink a customer's only identity",
                               identity=identity_json(identity), customer_id=root)
            new_id = self._ids.new_id("cus")
            await conn.execute(insert(customers).values(id=new_id, display_name=None,
                                                        created_at=self._clock.now(), root_id=new_id))
            await conn.execute(update(identities).where(identities.c.kind == identity.kind.value,
                                                        identities.c.value == identity.value)
                               .values(customer_id=new_id))
            await write_audit(conn, clock=self._clock, ids=self._ids, actor=actor, action="identity.unlink",
                              target=root, details={"identity": identity_json(identity),
                                                    "new_customer_id": new_id})
            return await require_customer(conn, new_id)

        return await self._db.write(work)

    async def unmerge(self, merge_id: str, *, actor: str) -> tuple[Customer, Customer]:
        async def work(conn: Conn) -> tuple[Customer, Customer]:
            survivor, restored = await unmerge(conn, clock=self._clock, ids=self._ids, merge_id=merge_id,
                                               actor=actor)
            log.info("customers unmerged merge=%s survivor=%s restored=%s", merge_id, survivor, restored)
            return await require_customer(conn, survivor), await require_customer(conn, restored)

        return await self._db.write(work)

    async def _create(self, conn: Conn, wanted: Sequence[Identity], *,
                      display_name: str | None) -> str:
        customer_id = self._ids.new_id("cus")
        await conn.execute(insert(customers).values(id=customer_id, display_name=display_name or None,
                                                    created_at=self._clock.now(), root_id=customer_id))
        await self._attach(conn, customer_id, wanted)
        return customer_id

    async def _attach(self, conn: Conn, customer_id: str, new: Sequence[Identity]) -> None:
        if new:
            now = self._clock.now()
            await conn.execute(insert(identities), [
                {"kind": i.kind.value, "value": i.value, "customer_id": customer_id, "added_at": now}
                for i in new])

    async def _lock_roots(self, conn: Conn, roots: Sequence[str]) -> list[tuple[float, str]]:
        """Lock the roots; start again if one of them stopped being a root meanwhile."""
        rows = await lock_customers(conn, roots)
        if len(rows) != len(set(roots)) or any(r.merged_into is not None for r in rows):
            raise Retry
        return sorted((r.created_at, r.id) for r in rows)

    async def _merge_roots(self, conn: Conn, roots: Sequence[str], owned: dict[Identity, str], *,
                           reason: str, actor: str) -> str:
        """Lock the roots and merge them into the oldest; returns the survivor.

        ``owned`` maps the proving identities to their roots (a root without one merges with no
        proof recorded: the customer an interaction was started for, proven by a code)."""
        (_, survivor), *others = await self._lock_roots(conn, roots)
        for _, merged in others:
            proof = next((i for i, root in owned.items() if root == merged),
                         next((i for i, root in owned.items() if root != merged), None))
            merge_id = await merge_into(conn, clock=self._clock, ids=self._ids, survivor_id=survivor,
                                        merged_id=merged, reason=reason, actor=actor, proof=proof)
            log.info("customers merged merge=%s survivor=%s merged=%s", merge_id, survivor, merged)
        return survivor


@dataclass(frozen=True, slots=True)
class InboundAsk:
    """One inbound customer to resolve in a batch (``Customers.resolve_inbound_many``)."""

    identities: Sequence[InboundIdentity]
    display_name: str | None
    actor: str
    reason: str


def check_inbound(identities: Sequence[InboundIdentity], display_name: str | None) -> None:
    """What ``resolve_inbound`` refuses (``InvalidInput``), checked before a batch's transaction."""
    _check_name(display_name)
    strongest = _strongest(identities)
    if strongest:
        _checked(list(strongest))


def _strongest(presented: Sequence[InboundIdentity]) -> dict[Identity, IdentityLevel]:
    """The identities that take part (not claims), each at the strongest level presented."""
    strongest: dict[Identity, IdentityLevel] = {}
    for p in presented:
        if p.level is not IdentityLevel.CLAIMED:
            known = strongest.get(p.identity)
            if known is None or p.level is IdentityLevel.VERIFIED:
                strongest[p.identity] = p.level
    return strongest


_NAME_IF_NONE = (update(customers)
                 .where(customers.c.id == bindparam("w_id"), customers.c.display_name.is_(None))
                 .values(display_name=bindparam("v_name")))


def _check_name(display_name: str | None) -> None:
    if display_name is not None and len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidInput("bad-display-name", f"display name longer than {MAX_DISPLAY_NAME}")


def _checked(wanted: Sequence[Identity]) -> list[Identity]:
    unique = list(dict.fromkeys(wanted))
    if not unique:
        raise InvalidInput("no-identities", "at least one identity is needed")
    for identity in unique:
        if not identity.value or len(identity.value) > MAX_IDENTITY_VALUE:
            raise InvalidInput("invalid-identity", f"empty or too long {identity.kind.value} identity")
    return unique
