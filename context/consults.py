"""Consults about chats (``cti.consult.ConsultRecords``) in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from context.db import Conn, Database
from context.models import chat_consults
from cti.consult import Consult

COLUMNS = (chat_consults.c.id, chat_consults.c.interaction_id, chat_consults.c.from_agent,
           chat_consults.c.to_agent, chat_consults.c.started_at, chat_consults.c.ended_at,
           chat_consults.c.ended_why)


def _consult(row: Any) -> Consult:
    return Consult(id=row[0], interaction_id=row[1], from_agent=row[2], to_agent=row[3], started_at=row[4],
                   ended_at=row[5], ended_why=row[6])


class SqlConsults:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def add(self, consult: Consult) -> bool:
        values = {"id": consult.id, "interaction_id": consult.interaction_id,
                  "from_agent": consult.from_agent, "to_agent": consult.to_agent,
                  "started_at": consult.started_at}

        async def work(conn: Conn) -> bool:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            # The chat's open consult (uq_chat_consults_open) wins: nothing is written.
            stmt = dialect.insert(chat_consults).values(**values).on_conflict_do_nothing()
            # A row comes back only when one was written (rowcount is not that on every driver).
            result = await conn.execute(stmt.returning(chat_consults.c.id))
            return result.first() is not None

        return await self._db.write(work)

    async def get(self, consult_id: str) -> Consult | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(*COLUMNS).where(chat_consults.c.id == consult_id))).first()
        return None if row is None else _consult(row)

    async def open_for(self, interaction_id: str) -> Consult | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(*COLUMNS).where(
                chat_consults.c.interaction_id == interaction_id,
                chat_consults.c.ended_at.is_(None)))).first()
        return None if row is None else _consult(row)

    async def end(self, consult_id: str, *, at: float, why: str) -> bool:
        async def work(conn: Conn) -> bool:
            result = await conn.execute(update(chat_consults).where(
                chat_consults.c.id == consult_id, chat_consults.c.ended_at.is_(None)).values(
                ended_at=at, ended_why=why))
            return bool(result.rowcount)

        return await self._db.write(work)
