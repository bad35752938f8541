"""One-time codes in the database: six digits, kept as a salted SHA-256, with an expiry and a
shared count of wrong tries per interaction.

The hash keeps the codes out of backups and logs; it does not make a six-digit code strong
offline (a million guesses), which is why the expiry and the attempt limit, enforced here in
the one write transaction, are what protect it. A new code for an interaction inherits the wrong
tries of its recent codes, so asking for another code never buys more guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from context.db import Conn, Database
from context.models import one_time_codes
from cti.clock import Clock, IdSource
from cti.domain import Identity, IdentityKind
from cti.errors import Conflict, InvalidInput
from cti.settings.identity import CodeSettings

log = logging.getLogger(__name__)

DIGITS = 6
SEND_WINDOW = 3600.0  # seconds over which identity.codes.max_sends_per_hour counts


def _hash(salt: str, scope: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{scope}:{code}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Outcome:
    identity: Identity | None
    error: str | None = None
    attempts_left: int = 0


class SqlCodeStore:
    def __init__(self, *, db: Database, clock: Clock, ids: IdSource, settings: CodeSettings) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._settings = settings

    async def issue_code(self, target: Identity, interaction_id: str) -> str:
        code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
        salt = secrets.token_hex(16)
        now = self._clock.now()
        c = one_time_codes.c

        async def work(conn: Conn) -> None:
            recent = (await conn.execute(select(func.count(), func.max(c.failures))
                                         .where(c.scope == interaction_id, c.at > now - SEND_WINDOW))).one()
            if recent[0] >= self._settings.max_sends_per_hour:
                raise Conflict("code-send-limit", "too many codes were sent for this interaction; try later",
                               limit=self._settings.max_sends_per_hour)
            # The earlier live codes of this target are replaced: only the newest one works.
            await conn.execute(update(one_time_codes).where(
                c.scope == interaction_id, c.kind == target.kind.value, c.value == target.value,
                c.used_at.is_(None)).values(used_at=now))
            await conn.execute(insert(one_time_codes).values(
                id=self._ids.new_id("otc"), scope=interaction_id, kind=target.kind.value, value=target.value,
                salt=salt, code_hash=_hash(salt, interaction_id, code), at=now,
                expires_at=now + self._settings.ttl_seconds, failures=int(recent[1] or 0)))

        await self._db.write(work)
        log.info("one-time code issued scope=%s kind=%s", interaction_id, target.kind.value)
        return code

    async def check_code(self, interaction_id: str, code: str, *, target: Identity | None = None) -> Identity:
        given = code.strip() if isinstance(code, str) else ""
        if not (given.isascii() and given.isdigit() and len(given) == DIGITS):
            raise InvalidInput("bad-code", f"a code is {DIGITS} digits", field="code")
        now = self._clock.now()
        limit = self._settings.max_attempts
        c = one_time_codes.c

        async def work(conn: Conn) -> _Outcome:
            query = (select(one_time_codes).where(c.scope == interaction_id, c.used_at.is_(None),
                                                  c.expires_at > now).with_for_update())
            if target is not None:
                query = query.where(c.kind == target.kind.value, c.value == target.value)
            live = (await conn.execute(query)).all()
            if not live:
                return _Outcome(None, "code-expired")
            failures = max(r.failures for r in live)
            if failures >= limit:
                return _Outcome(None, "code-locked")
            for row in live:
                if hmac.compare_digest(row.code_hash, _hash(row.salt, interaction_id, given)):
                    await conn.execute(update(one_time_codes).where(c.id == row.id).values(used_at=now))
                    return _Outcome(Identity(IdentityKind(row.kind), row.value))
            # A wrong try counts against every live code of the interaction (committed, not
            # rolled back with the refusal).
            await conn.execute(update(one_time_codes).where(c.id.in_([r.id for r in live]))
                               .values(failures=failures + 1))
            left = limit - failures - 1
            return _Outcome(None, "code-wrong" if left > 0 else "code-locked", left)

        outcome = await self._db.write(work)
        if outcome.identity is not None:
            log.info("one-time code accepted scope=%s kind=%s", interaction_id, outcome.identity.kind.value)
            return outcome.identity
        log.warning("one-time code refused scope=%s why=%s", interaction_id, outcome.error)
        if outcome.error == "code-wrong":
            raise InvalidInput("code-wrong", "the code is wrong", attempts_left=outcome.attempts_left)
        if outcome.error == "code-locked":
            raise Conflict("code-locked", "too many wrong codes; this interaction's codes are locked")
        raise Conflict("code-expired", "no code is waiting for this interaction; send a new one")
