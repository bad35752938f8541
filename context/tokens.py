"""Revoked log-in tokens and one-time WebSocket tickets in the database: the shared record when
nodes have no Redis (one node, or several on PostgreSQL alone). Entries go when they expire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from context.db import Conn, Database
from context.models import revoked_tokens, ws_tickets
from cti.clock import Clock


class SqlTokenRecords:
    """The database is the record; revocations are also kept in memory, loaded once from it.

    This store serves only nodes without Redis, and nodes without Redis run alone (routing and
    events need Redis to span nodes), so this node made every revocation it must know of since
    it loaded the list: a token check costs no query (a query per request cost about 1 ms on
    SQLite). Tickets stay in the database: one per socket opened, rare.
    """

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._revoked: dict[str, float] | None = None  # jti -> expiry, once loaded
        self._loading = asyncio.Lock()

    async def revoke(self, jti: str, *, expires_at: float) -> None:
        now = self._clock.now()

        async def work(conn: Conn) -> None:
            # Expired entries are dropped here: a revoked token past its expiry is refused anyway.
            await conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at < now))
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            await conn.execute(dialect.insert(revoked_tokens).values(jti=jti, expires_at=expires_at)
                               .on_conflict_do_nothing())

        await self._db.write(work)
        known = await self._known()
        # Bounded as the table is: what expired goes, so the mirror holds one shift's revocations.
        for stale in [j for j, at in known.items() if at < now]:
            del known[stale]
        known[jti] = expires_at

    async def is_revoked(self, jti: str) -> bool:
        known = await self._known()
        expires_at = known.get(jti)
        if expires_at is not None and expires_at < self._clock.now():
            del known[jti]  # the token is refused for its age now
            return False
        return expires_at is not None

    async def _known(self) -> dict[str, float]:
        if self._revoked is None:
            async with self._loading:
                if self._revoked is None:
                    now = self._clock.now()
                    async with self._db.read() as conn:
                        rows = await conn.execute(select(revoked_tokens.c.jti, revoked_tokens.c.expires_at)
                                                  .where(revoked_tokens.c.expires_at >= now))
                        self._revoked = {r.jti: r.expires_at for r in rows}
        return self._revoked

    async def put_ticket(self, ticket: str, principal: Mapping[str, Any], *, expires_at: float) -> None:
        now = self._clock.now()

        async def work(conn: Conn) -> None:
            await conn.execute(delete(ws_tickets).where(ws_tickets.c.expires_at < now))
            await conn.execute(ws_tickets.insert().values(ticket=ticket, principal=json.dumps(principal),
                                                          expires_at=expires_at))

        await self._db.write(work)

    async def take_ticket(self, ticket: str) -> Mapping[str, Any] | None:
        now = self._clock.now()

        async def work(conn: Conn) -> Mapping[str, Any] | None:
            t = ws_tickets.c
            row = (await conn.execute(select(t.principal, t.expires_at).where(t.ticket == ticket))).first()
            if row is None:
                return None
            # The delete decides: of two nodes taking the same ticket at once, one deletes the row.
            gone = await conn.execute(delete(ws_tickets).where(t.ticket == ticket))
            if gone.rowcount != 1 or row.expires_at < now:
                return None
            found: Mapping[str, Any] = json.loads(row.principal)
            return found

        return await self._db.write(work)
