"""An interaction's messages and notes: adding them (once each, to an interaction that is
there), reading the latest, the channel references that thread replies, and the delivery of
agents' replies (taken by one node, retried when none took them)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from context.db import Conn, Database
from context.interaction_rows import MAX_REF_VALUE
from context.models import interactions, messages, notes
from cti.domain import Channel, Message, MessageSender, Note
from cti.errors import InvalidInput, NotFound

_NOTES = (select(notes.c.id, notes.c.interaction_id, notes.c.author_id, notes.c.body, notes.c.at)
          .where(notes.c.interaction_id == bindparam("w_id")).order_by(notes.c.at, notes.c.id))


@functools.lru_cache(maxsize=8)
def _latest_messages(limit: int) -> Select[Any]:
    m = messages.c
    return (select(m.id, m.interaction_id, m.sender, m.body, m.at, m.agent_id, m.channel_ref)
            .where(m.interaction_id == bindparam("w_id")).order_by(m.at.desc(), m.id.desc()).limit(limit))


@functools.lru_cache(maxsize=4)
def _insert_message(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    m = messages.c
    columns = (m.id, m.interaction_id, m.sender, m.body, m.at, m.agent_id, m.channel_ref)
    return (dialect.insert(messages).values({c.name: bindparam(c.name, type_=c.type) for c in columns})
            .on_conflict_do_nothing().returning(m.id))


class InteractionMessages:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def set_message_ref(self, message_id: str, channel_ref: str) -> None:
        """Record the channel's id of a message we sent (its Message-ID, MessageSid…), so the
        customer's answer to it threads back here."""
        if not channel_ref or len(channel_ref) > MAX_REF_VALUE:
            raise InvalidInput("bad-channel-ref", f"channel_ref empty or longer than {MAX_REF_VALUE}")

        async def work(conn: Conn) -> None:
            await conn.execute(update(messages).where(messages.c.id == message_id,
                                                      messages.c.channel_ref.is_(None))
                               .values(channel_ref=channel_ref))

        await self._db.write(work)

    async def add_message(self, message: Message) -> bool:
        if message.channel_ref is not None and len(message.channel_ref) > MAX_REF_VALUE:
            raise InvalidInput("bad-channel-ref", f"channel_ref longer than {MAX_REF_VALUE}")
        values = {"id": message.id, "interaction_id": message.interaction_id,
                  "sender": message.sender.value, "body": message.body, "at": message.at,
                  "agent_id": message.agent_id, "channel_ref": message.channel_ref}

        async def work(conn: Conn) -> bool:
            # Nothing is stored when the id or (interaction, channel_ref) is already there.
            with _no_interaction(message.interaction_id):
                inserted = await conn.execute(_insert_message(conn.dialect.name), values)
            return inserted.first() is not None

        return await self._db.write(work)

    async def messages(self, interaction_id: str, *, limit: int) -> Sequence[Message]:
        """The latest ``limit`` messages, oldest first."""
        async with self._db.read() as conn:
            return await read_messages(conn, interaction_id, limit=limit)

    async def take_delivery(self, message_id: str) -> bool:
        """True for the one node that may send this reply now (it was never taken)."""
        async def work(conn: Conn) -> bool:
            m = messages.c
            done = await conn.execute(update(messages).where(m.id == message_id, m.delivery.is_(None))
                                      .values(delivery="sending"))
            return done.rowcount == 1

        return await self._db.write(work)

    async def set_delivery(self, message_id: str, status: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(update(messages).where(messages.c.id == message_id).values(delivery=status))

        await self._db.write(work)

    async def undelivered(self, *, since: float, before: float,
                          channels: Sequence[Channel]) -> list[tuple[Channel, Message]]:
        """Agents' replies on ``channels`` stored in [since, before) that no node ever took."""
        m, i = messages.c, interactions.c
        query = (select(i.channel, m.id, m.interaction_id, m.body, m.at, m.agent_id)
                 .join(interactions, i.id == m.interaction_id)
                 .where(m.sender == MessageSender.AGENT.value, m.delivery.is_(None), m.at >= since,
                        m.at < before, i.channel.in_([c.value for c in channels]))
                 .order_by(m.at).limit(500))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(Channel(r.channel), Message(id=r.id, interaction_id=r.interaction_id,
                                             sender=MessageSender.AGENT, body=r.body, at=r.at,
                                             agent_id=r.agent_id)) for r in rows]

    async def add_note(self, note: Note) -> None:
        values = {"id": note.id, "interaction_id": note.interaction_id, "author_id": note.author_id,
                  "body": note.body, "at": note.at}

        async def work(conn: Conn) -> None:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            with _no_interaction(note.interaction_id):
                await conn.execute(dialect.insert(notes).values(values).on_conflict_do_nothing())

        await self._db.write(work)

    async def notes(self, interaction_id: str) -> Sequence[Note]:
        async with self._db.read() as conn:
            return await read_notes(conn, interaction_id)

async def read_messages(conn: Conn, interaction_id: str, *, limit: int) -> list[Message]:
    """The latest ``limit`` messages, oldest first."""
    if limit < 1:
        raise InvalidInput("bad-limit", "'limit' must be at least 1")
    rows = (await conn.execute(_latest_messages(limit), {"w_id": interaction_id})).all()
    return [Message(id=r.id, interaction_id=r.interaction_id, sender=MessageSender(r.sender), body=r.body,
                    at=r.at, agent_id=r.agent_id, channel_ref=r.channel_ref) for r in reversed(rows)]


async def read_notes(conn: Conn, interaction_id: str) -> list[Note]:
    rows = (await conn.execute(_NOTES, {"w_id": interaction_id})).all()
    return [Note(id=r.id, interaction_id=r.interaction_id, author_id=r.author_id, body=r.body, at=r.at)
            for r in rows]


@contextmanager
def _no_interaction(interaction_id: str) -> Iterator[None]:
    """Around an insert that skips duplicates (ON CONFLICT DO NOTHING): the integrity error
    left is the foreign key to the interaction, so the interaction is not there. The database
    checks that anyway; a SELECT before the insert would only check it twice."""
    try:
        yield
    except IntegrityError as exc:
        raise NotFound("interaction-not-found", f"no interaction {interaction_id!r}",
                       interaction_id=interaction_id) from exc
