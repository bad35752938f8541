"""Log-in throttling: growing delays, then a temporary lock-out, per account and per address.

Counting is the ``limits`` library's (its Redis storage when nodes share Redis, so a guesser
cannot spread attempts over nodes; its memory storage on one node). Three kinds of counters,
each keyed by scope (``account`` or ``address``) and the id or address:

- failures: a moving window of ``failure_window_seconds``;
- delay: after the n-th failure past the free ones, a fixed window of 2^k seconds that holds
  the next attempt back (k grows with n, capped at ``max_delay_seconds``);
- lock: once failures reach the lock-out count, a fixed window of ``lockout_seconds``.

Counters are updated after the password check, so attempts sent in parallel would all pass the
same check: one attempt per account at a time, and ``address_attempts_in_flight`` per address,
are let through on each node (the others get a 429 at once).

Unknown ids are counted like known ones, so throttling does not tell which ids exist. The clock
is the library's own (wall time), the same on every node.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from cti.errors import CtiError
from cti.settings.login import LoginSettings

__all__ = ["LoginThrottle", "TooManyAttempts"]


class TooManyAttempts(CtiError):
    """Too many failed log-ins for this account or from this address: wait ``retry_after`` s."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("too-many-attempts", "too many failed log-ins; try again later",
                         retry_after=retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Scope:
    name: str
    before_delay: int
    failures: RateLimitItem  # amount = the lock-out count: counting further changes nothing


class LoginThrottle:
    def __init__(self, *, settings: LoginSettings, storage: Storage) -> None:
        self._settings = settings
        self._storage = storage
        self._moving = MovingWindowRateLimiter(storage)
        self._fixed = FixedWindowRateLimiter(storage)
        window = settings.failure_window_seconds
        self._account = _Scope("account", settings.account_failures_before_delay,
                               RateLimitItemPerSecond(settings.account_failures_before_lockout, window))
        self._address = _Scope("address", settings.address_failures_before_delay,
                               RateLimitItemPerSecond(settings.address_failures_before_lockout, window))
        self._lock = RateLimitItemPerSecond(1, settings.lockout_seconds)
        self._accounts_busy: set[str] = set()
        self._addresses_busy: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def attempt(self, *, account: str, address: str) -> AsyncIterator[None]:
        """One attempt, checked now and counted by ``failed``/``succeeded`` before it ends.
        Raises TooManyAttempts while throttled or while too many attempts are in flight."""
        # Tested and taken with no await in between: the event loop makes it atomic.
        if (account in self._accounts_busy
                or self._addresses_busy[address] >= self._settings.address_attempts_in_flight):
            raise TooManyAttempts(retry_after=1)
        self._accounts_busy.add(account)
        self._addresses_busy[address] += 1
        try:
            await self.check(account=account, address=address)
            yield
        finally:
            self._accounts_busy.discard(account)
            self._addresses_busy[address] -= 1
            if self._addresses_busy[address] <= 0:
                del self._addresses_busy[address]

    async def check(self, *, account: str, address: str) -> None:
        """Raises TooManyAttempts while the account or the address must wait."""
        wait = max(await self._wait(self._account, account), await self._wait(self._address, address))
        if wait > 0:
            raise TooManyAttempts(retry_after=max(1, math.ceil(wait)))

    async def failed(self, *, account: str, address: str) -> None:
        for scope, key in ((self._account, account), (self._address, address)):
            await self._moving.hit(scope.failures, scope.name, key)
            count = await self._count(scope, key)
            if count >= scope.failures.amount:
                await self._fixed.hit(self._lock, scope.name, key)
            elif count >= scope.before_delay:
                await self._fixed.hit(self._delay(scope, count), scope.name, key)

    async def succeeded(self, *, account: str) -> None:
        """The account's failures are forgotten (the address's are not: it may be guessing)."""
        await self._moving.clear(self._account.failures, self._account.name, account)

    async def aclose(self) -> None:
        # The memory storage expires entries with a task of its own; it ends with the server.
        timer = getattr(self._storage, "timer", None)
        if timer is not None and not timer.done():
            timer.cancel()

    async def _wait(self, scope: _Scope, key: str) -> float:
        """Seconds this account or address must still wait (0: it may try now)."""
        now = time.time()
        lock = await self._fixed.get_window_stats(self._lock, scope.name, key)
        if lock.remaining == 0:
            return lock.reset_time - now
        count = await self._count(scope, key)
        if count >= scope.before_delay:
            delay = await self._fixed.get_window_stats(self._delay(scope, count), scope.name, key)
            if delay.remaining == 0:
                return delay.reset_time - now
        return 0.0

    async def _count(self, scope: _Scope, key: str) -> int:
        stats = await self._moving.get_window_stats(scope.failures, scope.name, key)
        return scope.failures.amount - stats.remaining

    def _delay(self, scope: _Scope, count: int) -> RateLimitItem:
        """1 s after the first failure past the free ones, then 2, 4 ... up to the cap. Each length
        is its own limits key, so the one the last failure set is the one the next attempt finds."""
        exponent = min(count - scope.before_delay, 16)
        return RateLimitItemPerSecond(1, min(2 ** exponent, self._settings.max_delay_seconds))
