"""Interactions: the store of whole snapshots (the row, its channel references and collected
context) with their versioned saves, the read by id, this process's latest snapshots for the
next save, and the claims that deduplicate inbound work across nodes.

Its other methods hand over to collaborators: messages and notes to ``InteractionMessages``
(``context.interaction_messages``), the other reads to ``InteractionReads``
(``context.interaction_reads``); the row mapping is ``context.interaction_rows``.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, delete, insert, literal_column, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from context.access import record_holder
from context.db import Conn, Database
from context.eventlog import write_saved
from context.interaction_messages import InteractionMessages
from context.interaction_reads import InteractionReads
from context.interaction_rows import COLUMNS, MAX_REF_VALUE, interaction_of, values_of
from context.models import customers, inbound_claims, interaction_context, interaction_refs, interactions
from cti.access import Reach
from cti.domain import Channel, Interaction, InteractionState, Message, Note
from cti.errors import InvalidInput, NotFound, StaleSnapshot
from cti.service_level import Outcome

_IMMUTABLE = frozenset({"id", "channel", "direction", "arrived_at"})  # set once, at the insert
# Snapshots this process last read or saved, kept for the next read-change-save step of the same
# interaction: a few KiB each, and an offer, its accept and its completion come within minutes.
RECENT_SNAPSHOTS = 10_000

_MUTABLE = [name for name in COLUMNS if name not in _IMMUTABLE]
# Built and compiled once (SQLAlchemy caches the compiled form by the statement's shape).
_UPDATE = (update(interactions)
           .where(interactions.c.id == bindparam("w_id"), interactions.c.version == bindparam("w_version"))
           .values({name: bindparam(f"v_{name}", type_=interactions.c[name].type) for name in _MUTABLE}))


_BY_ID = select(*(interactions.c[name] for name in COLUMNS)).where(interactions.c.id == bindparam("w_id"))
_PAIRS = union_all(
    select(literal_column("'r'").label("src"), interaction_refs.c.key, interaction_refs.c.value)
    .where(interaction_refs.c.interaction_id == bindparam("w_id")),
    select(literal_column("'c'").label("src"), interaction_context.c.key, interaction_context.c.value)
    .where(interaction_context.c.interaction_id == bindparam("w_id"))).subquery()
_PAIRS_OF_ONE = select(_PAIRS).order_by(_PAIRS.c.key)
_ROOT_FOR_WRITE = (select(customers.c.root_id).where(customers.c.id == bindparam("customer_id"))
                   .with_for_update(read=True))
_INSERT_VALUES = {name: bindparam(f"v_{name}", type_=interactions.c[name].type)
                  for name in (*COLUMNS, "root_customer_id")}


@functools.lru_cache(maxsize=4)
def _insert_new(dialect_name: str) -> Any:
    """A new interaction's INSERT, skipped (no row returned) when its id is already stored."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (dialect.insert(interactions).values(_INSERT_VALUES).on_conflict_do_nothing()
            .returning(interactions.c.id))


def _held_at(interaction: Interaction) -> float | None:
    """When the interaction's agent last held it (accepted and worked), or None if they never did."""
    if interaction.answered_at is None or interaction.state not in _HELD_STATES:
        return None
    return interaction.ended_at or interaction.answered_at


_HELD_STATES = frozenset({InteractionState.ACTIVE, InteractionState.WRAP_UP, InteractionState.CLOSED})


class Interactions:
    def __init__(self, *, db: Database, recent: int = RECENT_SNAPSHOTS, node_id: str | None = None) -> None:
        self._db = db
        self._node = node_id  # written on the log entries this process saves
        self._recent: OrderedDict[str, Interaction] = OrderedDict()
        self._recent_max = recent
        self._messages = InteractionMessages(db=db)
        self._reads = InteractionReads(db=db)

    async def save(self, interaction: Interaction, *, before: Interaction | None = None) -> Interaction:
        """Store the snapshot and return it with its new version.

        Raises ``StaleSnapshot`` when the snapshot's version is not the stored one: another
        change was saved since it was read (on this node or another), and writing it would undo
        that change.

        ``before``: the stored snapshot this one was made from (same id and version). Then only
        what changed is written: one UPDATE guarded by the version, and the references and
        context rows only when they differ.

        The log entries the snapshot carries (``interaction.log``) are written in the same
        transaction, keyed by the new version; the returned snapshot carries none.
        """
        values = values_of(interaction)
        expected = interaction.version
        try:
            if (before is not None and before.id == interaction.id and before.version == expected
                    and expected > 0 and before.customer_id == interaction.customer_id):
                await self._db.write(lambda conn: self._logged(
                    conn, interaction, self._update(conn, interaction, before, values)))
            elif expected == 0:
                await self._db.write(lambda conn: self._logged(conn, interaction,
                                                               self._insert(conn, interaction, values)))
            else:
                await self._db.write(lambda conn: self._logged(conn, interaction,
                                                               self._rewrite(conn, interaction, values)))
        except StaleSnapshot:
            self._recent.pop(interaction.id, None)  # the next step reads what is stored
            raise
        saved = replace(interaction, version=expected + 1, log=())
        self.remember(saved)
        return saved

    async def _logged(self, conn: Conn, interaction: Interaction, save: Awaitable[None]) -> None:
        """The save, then its log entries in its transaction (after it: a refused save writes none)."""
        await save
        await write_saved(conn, interaction.log, version=interaction.version + 1, node=self._node)

    def remember(self, interaction: Interaction) -> None:
        """Keep ``interaction`` as this process's latest snapshot of it (just written or read)."""
        known = self._recent.get(interaction.id)
        if known is not None and known.version > interaction.version:
            return  # a read that started before a save and ended after it
        self._recent[interaction.id] = interaction
        self._recent.move_to_end(interaction.id)
        while len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    async def snapshot(self, interaction_id: str) -> Interaction:
        """The snapshot this process last read or saved, else the stored one.

        For a step that changes the interaction and saves the change: the save names the
        snapshot's version, so a snapshot another node (or a write outside this class) made
        stale costs that step a ``StaleSnapshot`` and a fresh read, never a lost change. Not
        for what is shown or decided without a save: that reads ``get``.
        """
        known = self._recent.get(interaction_id)
        if known is not None:
            self._recent.move_to_end(interaction_id)
            return known
        return await self.get(interaction_id)

    @staticmethod
    async def _insert(conn: Conn, interaction: Interaction, values: Mapping[str, Any]) -> None:
        """A new interaction: its id's primary key says whether it is new, with no read before."""
        row = dict(values, version=1, root_customer_id=await _root_for_write(conn, interaction.customer_id))
        done = await conn.execute(_insert_new(conn.dialect.name), {f"v_{k}": v for k, v in row.items()})
        if done.first() is None:
            raise StaleSnapshot("stale-interaction",
                                "the interaction was changed by someone else; read it again",
                                interaction_id=interaction.id, expected=0, stored=None)
        await _insert_pairs(conn, interaction)
        await _record_held(conn, interaction)

    @staticmethod
    async def _rewrite(conn: Conn, interaction: Interaction, values: Mapping[str, Any]) -> None:
        """The save of a snapshot with no ``before``: every column, references and context."""
        i = interactions.c
        expected = interaction.version
        existing = (await conn.execute(
            select(i.customer_id, i.version).where(i.id == interaction.id))).first()
        if existing is None or existing.version != expected:
            raise StaleSnapshot("stale-interaction",
                                "the interaction was changed by someone else; read it again",
                                interaction_id=interaction.id, expected=expected,
                                stored=existing.version if existing else None)
        row = dict(values, version=expected + 1)
        if existing.customer_id != interaction.customer_id:
            row["root_customer_id"] = await _root_for_write(conn, interaction.customer_id)
        # The version in the WHERE too: on PostgreSQL another node may have saved between our
        # SELECT and this UPDATE. Columns that never change are left out of the SET, so the
        # indexes on them (arrival) are not rewritten by every save.
        changing = {k: v for k, v in row.items() if k not in _IMMUTABLE}
        done = await conn.execute(update(interactions).where(i.id == interaction.id, i.version == expected)
                                  .values(changing))
        if done.rowcount != 1:
            raise StaleSnapshot("stale-interaction",
                                "the interaction was changed by someone else; read it again",
                                interaction_id=interaction.id, expected=expected, stored=None)
        await conn.execute(delete(interaction_refs)
                           .where(interaction_refs.c.interaction_id == interaction.id))
        await conn.execute(delete(interaction_context)
                           .where(interaction_context.c.interaction_id == interaction.id))
        await _insert_pairs(conn, interaction)
        await _record_held(conn, interaction)

    @staticmethod
    async def _update(conn: Conn, interaction: Interaction, before: Interaction,
                      values: Mapping[str, Any]) -> None:
        """The save of a change to a stored snapshot: the version in the WHERE says whether
        another change got in first (on this node or another), with no read before it."""
        expected = interaction.version
        params = {f"v_{name}": values[name] for name in _MUTABLE}
        params.update(v_version=expected + 1, w_id=interaction.id, w_version=expected)
        done = await conn.execute(_UPDATE, params)
        if done.rowcount != 1:
            raise StaleSnapshot("stale-interaction",
                                "the interaction was changed by someone else; read it again",
                                interaction_id=interaction.id, expected=expected, stored=None)
        if interaction.channel_refs != before.channel_refs:
            await _replace_pairs(conn, interaction_refs, interaction.id, interaction.channel_refs)
        if interaction.context != before.context:
            await _replace_pairs(conn, interaction_context, interaction.id, interaction.context)
        await _record_held(conn, interaction)

    async def get(self, interaction_id: str) -> Interaction:
        # The read of every step: two statements built once, the row and its key/value pairs.
        params = {"w_id": interaction_id}
        async with self._db.read() as conn:
            row = (await conn.execute(_BY_ID, params)).first()
            pairs = (await conn.execute(_PAIRS_OF_ONE, params)).all() if row is not None else []
        if row is None:
            raise NotFound("interaction-not-found", f"no interaction {interaction_id!r}",
                           interaction_id=interaction_id)
        refs: dict[str, str] = {}
        collected: dict[str, str] = {}
        for pair in pairs:
            (refs if pair.src == "r" else collected)[pair.key] = pair.value
        found = interaction_of(row, refs, collected)
        self.remember(found)
        return found

    async def find_by_ref(self, key: str, value: str) -> Interaction | None:
        return await self._reads.find_by_ref(key, value)

    async def claim_inbound(self, ref: str, now: float) -> bool:
        """True for the first caller with ``ref``, False for every later one, across nodes."""
        if not ref or len(ref) > MAX_REF_VALUE:
            raise InvalidInput("bad-channel-ref", f"channel_ref empty or longer than {MAX_REF_VALUE}")

        async def work(conn: Conn) -> bool:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            result = await conn.execute(dialect.insert(inbound_claims).values(ref=ref, at=now)
                                        .on_conflict_do_nothing().returning(inbound_claims.c.ref))
            return result.first() is not None

        return await self._db.write(work)

    async def release_inbound(self, ref: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(delete(inbound_claims).where(inbound_claims.c.ref == ref))

        await self._db.write(work)

    async def purge_claims(self, before: float) -> int:
        """Forget claims taken before ``before``: by then their work is stored (and found by its
        ref) or was released; only in-flight work needs one. Returns how many went."""
        async def work(conn: Conn) -> int:
            done = await conn.execute(delete(inbound_claims).where(inbound_claims.c.at < before))
            return int(done.rowcount or 0)

        return await self._db.write(work)

    async def set_message_ref(self, message_id: str, channel_ref: str) -> None:
        await self._messages.set_message_ref(message_id, channel_ref)

    async def find_by_message_ref(self, refs: Sequence[str]) -> Interaction | None:
        return await self._reads.find_by_message_ref(refs)

    async def open_for(self, customer_id: str, channel: Channel | None) -> Sequence[Interaction]:
        return await self._reads.open_for(customer_id, channel)

    async def working_agent(self, customer_id: str, besides: str) -> str | None:
        return await self._reads.working_agent(customer_id, besides)

    async def outcomes(self, since: float) -> list[Outcome]:
        return await self._reads.outcomes(since)

    async def open_counts(self) -> dict[tuple[str, str], int]:
        return await self._reads.open_counts()

    async def listing(self, *, states: Sequence[InteractionState] | None, agent_id: str | None,
                      limit: int, open_only: bool, scope: Reach | None = None) -> Sequence[Interaction]:
        return await self._reads.listing(states=states, agent_id=agent_id, limit=limit, open_only=open_only,
                                         scope=scope)

    async def add_message(self, message: Message) -> bool:
        return await self._messages.add_message(message)

    async def messages(self, interaction_id: str, *, limit: int) -> Sequence[Message]:
        return await self._messages.messages(interaction_id, limit=limit)

    async def take_delivery(self, message_id: str) -> bool:
        return await self._messages.take_delivery(message_id)

    async def set_delivery(self, message_id: str, status: str) -> None:
        await self._messages.set_delivery(message_id, status)

    async def undelivered(self, *, since: float, before: float,
                          channels: Sequence[Channel]) -> list[tuple[Channel, Message]]:
        return await self._messages.undelivered(since=since, before=before, channels=channels)

    async def add_note(self, note: Note) -> None:
        await self._messages.add_note(note)

    async def notes(self, interaction_id: str) -> Sequence[Note]:
        return await self._messages.notes(interaction_id)

async def _insert_pairs(conn: Conn, interaction: Interaction) -> None:
    if interaction.channel_refs:
        await conn.execute(insert(interaction_refs), [
            {"interaction_id": interaction.id, "key": k, "value": v}
            for k, v in interaction.channel_refs.items()])
    if interaction.context:
        await conn.execute(insert(interaction_context), [
            {"interaction_id": interaction.id, "key": k, "value": v} for k, v in interaction.context.items()])


async def _record_held(conn: Conn, interaction: Interaction) -> None:
    held_at = _held_at(interaction)
    if held_at is not None and interaction.agent_id is not None:
        # In the save's own transaction: "who served this customer" survives a transfer.
        await record_holder(conn, interaction_id=interaction.id, agent_id=interaction.agent_id, at=held_at)


async def _replace_pairs(conn: Conn, table: Any, interaction_id: str,
                         pairs: Mapping[str, str]) -> None:
    await conn.execute(delete(table).where(table.c.interaction_id == interaction_id))
    if pairs:
        await conn.execute(insert(table), [{"interaction_id": interaction_id, "key": k, "value": v}
                                           for k, v in pairs.items()])


async def _root_for_write(conn: Conn, customer_id: str) -> str:
    """The customer's root, with its row held FOR SHARE (PostgreSQL) so that a merge running at
    the same time either waits for us or has already re-rooted it."""
    found = await conn.execute(_ROOT_FOR_WRITE, {"customer_id": customer_id})
    root: str | None = found.scalar_one_or_none()
    if root is None:
        raise NotFound("customer-not-found", f"no customer {customer_id!r}", customer_id=customer_id)
    return root
