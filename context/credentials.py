"""Password hashes upgraded at log-in, one per agent, with the configured hash they replace.

The configuration file stays the source of passwords: an upgrade is used only while the
configured hash is still the one it replaced (by fingerprint), so an administrator who sets a new
hash in the file takes precedence over the stored upgrade.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from context.db import Conn, Database
from context.models import credential_upgrades


class CredentialUpgrades:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def get(self, agent_id: str, *, replaces: str) -> str | None:
        """The upgraded hash of ``agent_id`` if it replaced the configured hash ``replaces``."""
        async with self._db.read() as conn:
            value: str | None = (await conn.execute(
                select(credential_upgrades.c.hash).where(credential_upgrades.c.agent_id == agent_id,
                                                         credential_upgrades.c.replaces == replaces))
            ).scalar_one_or_none()
        return value

    async def put(self, agent_id: str, *, replaces: str, hash: str, now: float) -> None:
        async def work(conn: Conn) -> None:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            values = {"replaces": replaces, "hash": hash, "at": now}
            stmt = dialect.insert(credential_upgrades).values(agent_id=agent_id, **values)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[credential_upgrades.c.agent_id], set_=values))

        await self._db.write(work)
