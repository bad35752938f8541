"""Log-in: throttle, check the password off the event loop, upgrade a legacy hash.

The order of one attempt::

    throttle.attempt(account, address)     429 too-many-attempts while either must wait, or while
                                           another attempt for the account is in flight
    configured hash (or its stored upgrade)
    checker.check(hash or None, password)  a worker thread; an unknown id costs a dummy hash
    failure -> throttle.failed, logged (agent id and address, never the password)
    success -> throttle.succeeded; a pbkdf2 (or outdated argon2) hash is re-hashed as argon2id
               and stored beside the fingerprint of the configured hash it replaces
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cti.clock import Clock
from cti.config import AppConfig
from cti.domain import AgentProfile
from cti.login_throttle import LoginThrottle
from cti.passwords import HASHER, HashKind, PasswordChecker, fingerprint, hash_kind

__all__ = ["CredentialStore", "LoginService"]

log = logging.getLogger(__name__)


class CredentialStore(Protocol):
    async def get(self, agent_id: str, *, replaces: str) -> str | None: ...

    async def put(self, agent_id: str, *, replaces: str, hash: str, now: float) -> None: ...


class LoginService:
    def __init__(self, *, config: Callable[[], AppConfig], checker: PasswordChecker, throttle: LoginThrottle,
                 credentials: CredentialStore, clock: Clock) -> None:
        # Read at every log-in: a reloaded configuration's agents and roles count at once.
        self._config = config
        self._checker = checker
        self._throttle = throttle
        self._credentials = credentials
        self._clock = clock

    async def log_in(self, agent_id: str, password: str, *, client: str) -> AgentProfile | None:
        """The agent when the password is right; None otherwise (unknown id or wrong password,
        told apart only in the log). Raises TooManyAttempts while throttled."""
        async with self._throttle.attempt(account=agent_id, address=client):
            return await self._check(agent_id, password, client=client)

    async def _check(self, agent_id: str, password: str, *, client: str) -> AgentProfile | None:
        profile = self._config().agents.get(agent_id)
        configured = profile.password if profile is not None else None
        stored = configured
        if configured is not None and self._may_have_upgrade(configured):
            stored = await self._credentials.get(agent_id, replaces=fingerprint(configured)) or configured
        result = await self._checker.check(stored, password)
        if not result.ok:
            await self._throttle.failed(account=agent_id, address=client)
            # %r: the id is what the client typed; repr keeps control characters out of the log.
            log.warning("log-in failed agent_id=%r client=%s known=%s", agent_id, client,
                        profile is not None,
                        extra={"agent_id": agent_id, "client": client, "known_agent": profile is not None})
            return None
        await self._throttle.succeeded(account=agent_id)
        if result.upgrade is not None and configured is not None:
            await self._credentials.put(agent_id, replaces=fingerprint(configured), hash=result.upgrade,
                                        now=self._clock.now())
            log.info("password hash of agent_id=%r upgraded to argon2id", agent_id,
                     extra={"agent_id": agent_id})
        return profile

    async def aclose(self) -> None:
        self._checker.close()
        await self._throttle.aclose()

    @staticmethod
    def _may_have_upgrade(configured: str) -> bool:
        kind = hash_kind(configured)
        return kind is HashKind.PBKDF2 or (kind is HashKind.ARGON2 and HASHER.check_needs_rehash(configured))
