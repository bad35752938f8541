"""Password hashes: argon2id for new ones, legacy pbkdf2 still read, plain text for the demo only.

The formats a configured ``password`` may take::

    $argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>   argon2-cffi's encoding; what we write
    pbkdf2_sha256$<iterations>$<salt>$<hex digest>    the earlier format; upgraded at log-in
    anything else                                     plain text, accepted in a demo only

Checking a password costs tens of milliseconds of CPU on purpose, so ``PasswordChecker`` runs it
on worker threads (argon2-cffi and hashlib release the GIL while they hash), never on the event
loop, and at most ``workers`` at a time. An unknown id is checked against a dummy hash of the same
cost, so the time of the answer does not tell which ids exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type

__all__ = ["Check", "HashKind", "PasswordChecker", "fingerprint", "hash_kind", "hash_password",
           "pbkdf2_hash"]

PBKDF2_PREFIX = "pbkdf2_sha256$"
ARGON2_PREFIX = "$argon2"

# argon2-cffi's defaults are RFC 9106's second recommended set (argon2id, t=3, m=64 MiB, p=4):
# about 50 ms on one core of a current server, which a log-in can afford and a guesser cannot.
# Kept as they are, so hashes made by `cti hash-password` and upgrades agree, and a later
# argon2-cffi that raises them makes `check_needs_rehash` upgrade the stored hashes at log-in.
HASHER = PasswordHasher()


class HashKind(Enum):
    ARGON2 = "argon2"
    PBKDF2 = "pbkdf2"
    PLAIN = "plain"
    NONE = "none"  # no password: nobody logs in as this agent


def hash_kind(stored: str) -> HashKind:
    """Which format ``stored`` is in; ValueError when it looks like a hash but is not a valid one."""
    if not stored:
        return HashKind.NONE
    if stored.startswith(ARGON2_PREFIX):
        try:
            params = extract_parameters(stored)
        except InvalidHashError as exc:
            raise ValueError("a malformed argon2 hash") from exc
        if params.type is not Type.ID:
            raise ValueError("an argon2 hash of another variant than argon2id")
        return HashKind.ARGON2
    if stored.startswith(PBKDF2_PREFIX):
        parts = stored.split("$")
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2] or not _is_hex(parts[3]):
            raise ValueError("a malformed pbkdf2_sha256 hash (pbkdf2_sha256$<iterations>$<salt>$<hex>)")
        return HashKind.PBKDF2
    return HashKind.PLAIN


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return bool(text)


def hash_password(password: str) -> str:
    """A new argon2id hash (blocking: call it on a worker thread from async code)."""
    return HASHER.hash(password)


def pbkdf2_hash(password: str, *, salt: str, iterations: int = 200_000) -> str:
    """The legacy format, still read; kept to check old hashes and to make them in tests."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{PBKDF2_PREFIX}{iterations}${salt}${digest.hex()}"


def fingerprint(stored: str) -> str:
    """Names a configured hash without repeating it (upgrades remember which one they replace)."""
    return hashlib.sha256(stored.encode()).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    """What an unknown id is checked against: the cost of a real hash, matching no password.
    Made at the first log-in rather than at import, which every ``cti`` command pays for."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    upgrade: str | None = None  # a new argon2id hash to store, when the one checked is outdated


def check(stored: str | None, password: str) -> Check:
    """Blocking: verify ``password`` against ``stored`` (None: an unknown id, checked against the
    dummy), and on success make the upgraded hash when ``stored`` is not current argon2id."""
    kind = HashKind.NONE if stored is None else hash_kind(stored)
    if kind is HashKind.ARGON2 and stored is not None:
        try:
            HASHER.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Check(ok=False)
        return Check(ok=True, upgrade=hash_password(password) if HASHER.check_needs_rehash(stored) else None)
    if kind is HashKind.PBKDF2 and stored is not None:
        _, iterations, salt, _digest = stored.split("$")
        ok = hmac.compare_digest(pbkdf2_hash(password, salt=salt, iterations=int(iterations)), stored)
        return Check(ok=ok, upgrade=hash_password(password) if ok else None)
    # An unknown id, an agent without a password, or a demo's plain password: the dummy costs
    # what a real check costs, so none of them answers sooner than a known id.
    _burn(password)
    if kind is HashKind.PLAIN and stored is not None:
        return Check(ok=hmac.compare_digest(stored.encode(), password.encode()))
    return Check(ok=False)


def _burn(password: str) -> None:
    with contextlib.suppress(VerificationError):
        HASHER.verify(_dummy_hash(), password)


class PasswordChecker:
    """Runs ``check`` on its own worker threads, ``workers`` at a time; the rest wait their turn
    in the executor's queue (the log-in throttle bounds how many a client can add)."""

    def __init__(self, *, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-check")

    async def check(self, stored: str | None, password: str) -> Check:
        return await asyncio.get_running_loop().run_in_executor(self._executor, check, stored, password)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._executor, hash_password, password)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
