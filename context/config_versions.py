"""The live configuration's versions in the database (see ``cti.live_config``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select

from context.audit import write_audit
from context.db import Conn, Database
from context.models import config_versions
from cti.clock import Clock, IdSource
from cti.errors import Conflict, NotFound
from cti.live_config import StoredVersion, VersionInfo

MAX_VERSIONS_PAGE = 500
_INFO = (config_versions.c.version, config_versions.c.at, config_versions.c.actor, config_versions.c.action,
         config_versions.c.summary)


def _info(row: Any) -> VersionInfo:
    return VersionInfo(version=row.version, at=row.at, actor=row.actor, action=row.action,
                       summary=tuple(row.summary or ()))


class SqlConfigVersions:
    def __init__(self, *, db: Database, clock: Clock, ids: IdSource) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids

    async def latest(self, *, actions: Collection[str] | None = None) -> StoredVersion | None:
        query = select(*_INFO, config_versions.c.document).order_by(config_versions.c.version.desc()).limit(1)
        if actions is not None:
            query = query.where(config_versions.c.action.in_(list(actions)))
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else StoredVersion(info=_info(row), document=dict(row.document))

    async def get(self, version: int) -> StoredVersion:
        async with self._db.read() as conn:
            row = (await conn.execute(select(*_INFO, config_versions.c.document)
                                      .where(config_versions.c.version == version))).first()
        if row is None:
            raise NotFound("version-not-found", f"no configuration version {version}", version=version)
        return StoredVersion(info=_info(row), document=dict(row.document))

    async def versions(self, *, limit: int) -> Sequence[VersionInfo]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(*_INFO).order_by(config_versions.c.version.desc())
                                       .limit(max(1, min(limit, MAX_VERSIONS_PAGE))))).all()
        return [_info(r) for r in rows]

    async def append(self, document: Mapping[str, Any], *, actor: str, action: str,
                     summary: Sequence[str], expected: int | None) -> VersionInfo:
        async def work(conn: Conn) -> VersionInfo:
            newest = (await conn.execute(select(func.max(config_versions.c.version)))).scalar() or 0
            if expected is not None and newest != expected:
                raise Conflict("config-changed", "the configuration changed meanwhile; reload and try again",
                               expected=expected, newest=newest)
            info = VersionInfo(version=newest + 1, at=self._clock.now(), actor=actor, action=action,
                               summary=tuple(summary))
            # Two nodes writing at once both read the same newest: the second insert fails on the
            # key and the database layer runs this again from the start (then as a conflict).
            await conn.execute(insert(config_versions).values(
                version=info.version, at=info.at, actor=actor, action=action, summary=list(summary),
                document=dict(document)))
            await write_audit(conn, clock=self._clock, ids=self._ids, actor=actor, action=f"config.{action}",
                              target="config", details={"version": info.version,
                                                        "summary": list(summary)[:50]})
            return info

        return await self._db.write(work)
