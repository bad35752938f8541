"""Chat visitors' sessions: the hash of each browser's secret, shared by every node.

Only the hash is kept (and never in anything agents or the API read), so neither a database
reader nor an agent can present it as the visitor's browser.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from context.db import Conn, Database
from context.models import chat_sessions
from cti.domain import ChatSession
from cti.errors import InvalidInput

HASH_LENGTH = 64  # SHA-256 in hex


def check_session(session: ChatSession) -> None:
    if len(session.secret_hash) != HASH_LENGTH or not session.visitor_id or len(session.visitor_id) > 64:
        raise InvalidInput("bad-chat-session", "a chat session needs a visitor id and a SHA-256 hash")


async def keep_session(conn: Conn, session: ChatSession, now: float) -> None:
    """Record a visitor's session once, or mark it used now; a later call never replaces the
    hash (a visitor's secret never changes, and a racing node cannot replace it)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(chat_sessions).values(
        visitor_id=session.visitor_id, secret_hash=session.secret_hash, created_at=now, last_used_at=now)
    await conn.execute(stmt.on_conflict_do_update(index_elements=[chat_sessions.c.visitor_id],
                                                  set_={"last_used_at": now}))


class ChatSessionStore:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def secret_hash(self, visitor_id: str) -> str | None:
        async with self._db.read() as conn:
            value: str | None = (await conn.execute(
                select(chat_sessions.c.secret_hash).where(chat_sessions.c.visitor_id == visitor_id))
            ).scalar_one_or_none()
        return value

    async def keep(self, session: ChatSession, now: float) -> None:
        """``keep_session`` in a transaction of its own."""
        check_session(session)

        async def work(conn: Conn) -> None:
            await keep_session(conn, session, now)

        await self._db.write(work)

    async def purge(self, before: float) -> int:
        """Drop sessions last used before ``before``; how many were dropped."""
        async def work(conn: Conn) -> int:
            done = await conn.execute(delete(chat_sessions).where(chat_sessions.c.last_used_at < before))
            return int(done.rowcount or 0)

        return await self._db.write(work)
