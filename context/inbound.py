"""A batch of inbound customer messages: its lookups, and its one write transaction.

The per-message way (``claim_inbound``, ``resolve_inbound``, ``save_interaction``,
``record_presented``, ``add_message``, ``record_attachments``) is a dozen transactions for each
new thread. A channel that receives in bursts (the SMTP listener) stores a whole batch with
``store_inbound`` instead: the same rows, written in one transaction by a few bulk statements,
and looks its threads up with one ``IN (...)`` query per kind of reference for the batch.

Each item is answered on its own. An item that cannot be stored in the batch (its claim is taken,
the interaction it continues was closed meanwhile, a check refuses it, or it continues an item
that was not stored) is left out with its reason, and the caller stores it the per-message way,
which decides it exactly as before. An error of the transaction itself stores nothing, and the
caller does the same for every item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from context.attachments import MAX_REF as MAX_ATTACHMENT_REF
from context.chat_sessions import check_session, keep_session
from context.customers import Customers, InboundAsk, check_inbound
from context.db import Conn
from context.eventlog import saved_rows
from context.interaction_rows import MAX_REF_VALUE, load_interactions, selected_columns, values_of
from context.models import (
    customers,
    inbound_claims,
    interaction_context,
    interaction_events,
    interaction_identities,
    interaction_refs,
    interactions,
    message_attachments,
    messages,
)
from context.presented import MAX_NAME, MAX_SOURCE
from cti.clock import Clock, IdSource
from cti.domain import Interaction, InteractionState, Message
from cti.ports import InboundWrite, InboundWritten

IN_CHUNK = 500  # values per IN list
MAX_REFS_EACH = 100  # as ``find_interaction_by_message_ref``
_WORKING = (InteractionState.ACTIVE.value, InteractionState.WRAP_UP.value)
_OPEN_VALUES = tuple(s.value for s in InteractionState
                     if s not in (InteractionState.CLOSED, InteractionState.ABANDONED))


async def newest_by_message_refs(conn: Conn,
                                 groups: Sequence[Sequence[str]]) -> list[Interaction | None]:
    """For each group of refs: the newest interaction holding a message whose channel reference is
    one of them (``find_interaction_by_message_ref`` for each group, in one query)."""
    wanted = [[r for r in dict.fromkeys(g) if r and len(r) <= MAX_REF_VALUE][:MAX_REFS_EACH] for g in groups]
    every = list(dict.fromkeys(r for g in wanted for r in g))
    newest: dict[str, tuple[float, str, str]] = {}  # ref -> (at, message id, interaction id)
    m = messages.c
    for start in range(0, len(every), IN_CHUNK):
        query = select(m.channel_ref, m.at, m.id, m.interaction_id).where(
            m.channel_ref.in_(every[start:start + IN_CHUNK]))
        for row in (await conn.execute(query)).all():
            seen = newest.get(row.channel_ref)
            if seen is None or (row.at, row.id) > seen[:2]:
                newest[row.channel_ref] = (row.at, row.id, row.interaction_id)
    holders: list[str | None] = []
    for group in wanted:
        found = [newest[r] for r in group if r in newest]
        holders.append(max(found)[2] if found else None)
    loaded = await _by_ids(conn, [h for h in holders if h is not None])
    return [loaded.get(h) if h is not None else None for h in holders]


async def newest_by_refs(conn: Conn, key: str, values: Sequence[str]) -> dict[str, Interaction]:
    """For each of ``values`` carried as the interaction reference ``key``: the newest interaction
    carrying it (``find_interaction_by_ref`` for each, in one query)."""
    wanted = list(dict.fromkeys(v for v in values if v))
    newest: dict[str, tuple[float, str]] = {}
    r, i = interaction_refs.c, interactions.c
    for start in range(0, len(wanted), IN_CHUNK):
        query = (select(r.value, i.arrived_at, i.id).join(interactions, i.id == r.interaction_id)
                 .where(r.key == key, r.value.in_(wanted[start:start + IN_CHUNK])))
        for row in (await conn.execute(query)).all():
            seen = newest.get(row.value)
            if seen is None or (row.arrived_at, row.id) > seen:
                newest[row.value] = (row.arrived_at, row.id)
    loaded = await _by_ids(conn, [v[1] for v in newest.values()])
    return {value: loaded[found[1]] for value, found in newest.items() if found[1] in loaded}


async def _by_ids(conn: Conn, ids: Sequence[str]) -> dict[str, Interaction]:
    unique = list(dict.fromkeys(ids))
    found: dict[str, Interaction] = {}
    for start in range(0, len(unique), IN_CHUNK):
        query = select(*selected_columns()).where(interactions.c.id.in_(unique[start:start + IN_CHUNK]))
        found.update((x.id, x) for x in await load_interactions(conn, query))
    return found


def check_items(items: Sequence[InboundWrite]) -> list[str | None]:
    """What the per-message way would refuse, found before the transaction: "invalid" or None
    for each item (the per-message way then raises the real error for it)."""
    out: list[str | None] = []
    claims: set[str] = set()
    for item in items:
        if item.claim is not None and item.claim in claims:
            out.append("claimed")  # by the earlier item with it: the same message twice
            continue
        if item.claim is not None:
            claims.add(item.claim)
        try:
            if item.start is not None:
                values_of(item.start)
                check_inbound(item.identities, item.display_name)
            if item.message is None and item.start is None:
                raise ValueError("nothing to store")
            ref = item.message.channel_ref if item.message is not None else None
            if ref is not None and len(ref) > MAX_REF_VALUE:
                raise ValueError("channel ref")
            if any(len(a.ref) > MAX_ATTACHMENT_REF for a in item.attachments):
                raise ValueError("attachment ref")
            if item.claim is not None and (not item.claim or len(item.claim) > MAX_REF_VALUE):
                raise ValueError("claim")
            if item.chat_session is not None:
                check_session(item.chat_session)
        except Exception:
            out.append("invalid")
        else:
            out.append(None)
    return out


async def store_inbound(conn: Conn, items: Sequence[InboundWrite], why: list[str | None], *,
                        customer_book: Customers, clock: Clock, ids: IdSource,
                        node: str | None = None) -> list[InboundWritten]:
    """The batch's one write transaction (``conn`` is in it). ``why`` holds each item's reason
    not to store it so far (from ``check_items``); it is not changed (a retry starts again)."""
    why = list(why)
    now = clock.now()
    starts = {item.start.id: k for k, item in enumerate(items) if item.start is not None}
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite

    # Claims first: a message another request is storing is theirs (the claim waits for their
    # commit on PostgreSQL, and SQLite writes one transaction at a time).
    asked = {item.claim: k for k, item in enumerate(items) if why[k] is None and item.claim is not None}
    if asked:
        claimed = {row.ref for row in (await conn.execute(
            dialect.insert(inbound_claims).values([{"ref": c, "at": now} for c in asked])
            .on_conflict_do_nothing().returning(inbound_claims.c.ref))).all()}
        for claim, k in asked.items():
            if claim not in claimed:
                why[k] = "claimed"

    # The interactions continued: still open, held (FOR SHARE) until we commit, so an offer made
    # meanwhile waits and the agent read here is the one to tell of the message.
    targets = {k: item.message.interaction_id for k, item in enumerate(items)
               if item.start is None and item.message is not None}
    existing = list(dict.fromkeys(t for k, t in targets.items() if why[k] is None and t not in starts))
    current: dict[str, Any] = {}
    if existing:
        i = interactions.c
        rows = (await conn.execute(select(i.id, i.state, i.agent_id).where(i.id.in_(existing))
                                   .with_for_update(read=True))).all()
        current = {row.id: row for row in rows}
    for k, target in targets.items():
        if why[k] is not None:
            continue
        if target in starts:
            if why[starts[target]] is not None:
                why[k] = "after"
        elif target not in current or current[target].state not in _OPEN_VALUES:
            why[k] = "closed"

    # Ours but left out: free again for the one-by-one way.
    freed = [c for c, k in asked.items() if why[k] not in (None, "claimed")]
    if freed:
        await conn.execute(delete(inbound_claims).where(inbound_claims.c.ref.in_(freed)))

    new = [k for k, item in enumerate(items) if item.start is not None and why[k] is None]
    for k in new:
        session = items[k].chat_session
        if session is not None:
            await keep_session(conn, session, now)
    roots, created = await customer_book.resolve_inbound_many(conn, [
        InboundAsk(items[k].identities, items[k].display_name, "system", items[k].reason) for k in new])
    customer_of = dict(zip(new, roots, strict=True))
    # As ``save_interaction`` does: each customer's root, held FOR SHARE so a merge running at
    # the same time waits for us or has already re-rooted it. A customer created here is its own
    # root, and nobody else sees it before we commit.
    root_of = {r: r for r in created}
    known = sorted(set(roots) - created)
    if known:
        c = customers.c
        found = (await conn.execute(select(c.id, c.root_id).where(c.id.in_(known))
                                    .with_for_update(read=True))).all()
        root_of.update((row.id, row.root_id) for row in found)
    started: dict[int, Interaction] = {}
    rows_new: list[dict[str, Any]] = []
    refs_new: list[dict[str, Any]] = []
    context_new: list[dict[str, Any]] = []
    presented_new: list[dict[str, Any]] = []
    log_new: list[dict[str, Any]] = []
    for k in new:
        item = items[k]
        if item.start is None:
            continue  # never: ``new`` holds only starts
        interaction = replace(item.start, customer_id=customer_of[k], version=item.start.version + 1, log=())
        started[k] = interaction
        # Its "queued" entry, in this transaction as every save writes its entries.
        log_new += saved_rows(item.start.log, version=interaction.version, node=node)
        rows_new.append(dict(values_of(interaction), version=interaction.version,
                             root_customer_id=root_of.get(customer_of[k], customer_of[k])))
        refs_new += [{"interaction_id": interaction.id, "key": key, "value": value}
                     for key, value in interaction.channel_refs.items()]
        context_new += [{"interaction_id": interaction.id, "key": key, "value": value}
                        for key, value in interaction.context.items()]
        name = (item.display_name or "")[:MAX_NAME] or None
        presented_new += [{"id": ids.new_id("idn"), "interaction_id": interaction.id,
                           "kind": p.identity.kind.value, "value": p.identity.value, "level": p.level.value,
                           "source": p.source[:MAX_SOURCE], "display_name": name, "at": now}
                          for p in dict.fromkeys(item.identities)]
    for table, bulk in ((interactions, rows_new), (interaction_refs, refs_new),
                        (interaction_context, context_new), (interaction_identities, presented_new),
                        (interaction_events, log_new)):
        if bulk:
            await conn.execute(insert(table), bulk)

    to_store = [(k, m) for k, m in ((k, item.message) for k, item in enumerate(items))
                if why[k] is None and m is not None]
    stored_ids: set[str] = set()
    if to_store:
        # Nothing is stored when the id or (interaction, channel_ref) is already there.
        stored_ids = {row.id for row in (await conn.execute(
            dialect.insert(messages).values([_message_row(m) for _, m in to_store])
            .on_conflict_do_nothing().returning(messages.c.id))).all()}
    files = [{"message_id": m.id, "position": n, "ref": a.ref, "filename": a.filename[:500],
              "content_type": a.content_type[:200]}
             for k, m in to_store if m.id in stored_ids for n, a in enumerate(items[k].attachments)]
    if files:
        await conn.execute(insert(message_attachments), files)
    # Only customers known before can have another interaction an agent is working.
    working = await _working_agents(conn, sorted({root_of.get(r, r) for r in known}))

    out: list[InboundWritten] = []
    for k, item in enumerate(items):
        stored = item.message is not None and item.message.id in stored_ids
        if why[k] is not None:
            out.append(InboundWritten(None, why=why[k]))
        elif k in started:
            interaction = started[k]
            root = root_of.get(interaction.customer_id, interaction.customer_id)
            out.append(InboundWritten(interaction, message_stored=stored, working_agent=working.get(root)))
        else:
            target = targets[k]
            now_at = current.get(target)
            out.append(InboundWritten(started.get(starts[target]) if target in starts else None,
                                      message_stored=stored,
                                      agent_id=now_at.agent_id if now_at is not None else None))
    return out


def _message_row(m: Message) -> dict[str, Any]:
    return {"id": m.id, "interaction_id": m.interaction_id, "sender": m.sender.value, "body": m.body,
            "at": m.at, "agent_id": m.agent_id, "channel_ref": m.channel_ref}


async def _working_agents(conn: Conn, roots: Sequence[str]) -> Mapping[str, str]:
    """For each root customer: the agent of its newest active or wrapping-up interaction."""
    if not roots:
        return {}
    i = interactions.c
    found: dict[str, str] = {}
    for start in range(0, len(roots), IN_CHUNK):
        query = (select(i.root_customer_id, i.agent_id)
                 .where(i.root_customer_id.in_(roots[start:start + IN_CHUNK]), i.state.in_(_WORKING),
                        i.agent_id.is_not(None))
                 .order_by(i.arrived_at.desc(), i.id.desc()))
        for row in (await conn.execute(query)).all():
            found.setdefault(row.root_customer_id, row.agent_id)
    return found
