"""The identities each inbound interaction presented, with their levels: claims live only here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, update

from context.db import Conn, Database
from context.models import interaction_identities
from cti.clock import Clock, IdSource
from cti.domain import Identity, IdentityKind, IdentityLevel, InboundIdentity
from cti.errors import InvalidInput, NotFound
from cti.ports import PresentedIdentity

MAX_SOURCE = 64
MAX_NAME = 200


class Presented:
    def __init__(self, *, db: Database, clock: Clock, ids: IdSource) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids

    async def record(self, interaction_id: str, presented: Sequence[InboundIdentity], *,
                     display_name: str | None) -> Sequence[PresentedIdentity]:
        now = self._clock.now()
        name = (display_name or "")[:MAX_NAME] or None
        rows = [PresentedIdentity(id=self._ids.new_id("idn"), interaction_id=interaction_id,
                                  identity=p.identity, level=p.level, source=p.source[:MAX_SOURCE],
                                  display_name=name, at=now)
                for p in dict.fromkeys(presented)]
        if rows:
            async def work(conn: Conn) -> None:
                await conn.execute(insert(interaction_identities), [
                    {"id": r.id, "interaction_id": r.interaction_id, "kind": r.identity.kind.value,
                     "value": r.identity.value, "level": r.level.value, "source": r.source,
                     "display_name": r.display_name, "at": r.at} for r in rows])

            await self._db.write(work)
        return rows

    async def of(self, interaction_id: str) -> Sequence[PresentedIdentity]:
        async with self._db.read() as conn:
            return await read_presented(conn, interaction_id)

    async def settle(self, claim_id: str, *, outcome: str, actor: str) -> None:
        """A claim proven: "verified" (its level becomes verified) or "linked" (by a person)."""
        if outcome not in ("verified", "linked"):
            raise InvalidInput("bad-outcome", "a claim is verified or linked")
        values: dict[str, object] = {"outcome": outcome, "outcome_by": actor, "outcome_at": self._clock.now()}
        if outcome == "verified":
            values["level"] = IdentityLevel.VERIFIED.value

        async def work(conn: Conn) -> int:
            result = await conn.execute(update(interaction_identities)
                                        .where(interaction_identities.c.id == claim_id).values(**values))
            return int(result.rowcount or 0)

        if not await self._db.write(work):
            raise NotFound("claim-not-found", f"no claim {claim_id!r}", claim_id=claim_id)


_OF_ONE = (select(interaction_identities).where(interaction_identities.c.interaction_id == bindparam("w_id"))
           .order_by(interaction_identities.c.at, interaction_identities.c.id))


async def read_presented(conn: Conn, interaction_id: str) -> list[PresentedIdentity]:
    found = (await conn.execute(_OF_ONE, {"w_id": interaction_id})).all()
    return [PresentedIdentity(
        id=r.id, interaction_id=r.interaction_id, identity=Identity(IdentityKind(r.kind), r.value),
        level=IdentityLevel(r.level), source=r.source, display_name=r.display_name, at=r.at,
        outcome=r.outcome, outcome_by=r.outcome_by, outcome_at=r.outcome_at) for r in found]
