"""Polled channels' cursors: one value per name, replaced whole (an upsert)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from context.db import Conn, Database
from context.models import channel_cursors
from cti.errors import InvalidInput

MAX_NAME = 200
MAX_VALUE = 1000


class Cursors:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def get(self, name: str) -> str | None:
        async with self._db.read() as conn:
            value: str | None = (await conn.execute(
                select(channel_cursors.c.value).where(channel_cursors.c.name == name))).scalar_one_or_none()
        return value

    async def set(self, name: str, value: str, now: float) -> None:
        if not name or len(name) > MAX_NAME or not value or len(value) > MAX_VALUE:
            raise InvalidInput("bad-cursor", f"cursor name or value empty or too long ({name[:MAX_NAME]!r})")

        async def work(conn: Conn) -> None:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(channel_cursors).values(name=name, value=value, at=now)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[channel_cursors.c.name],
                                                          set_={"value": value, "at": now}))

        await self._db.write(work)
