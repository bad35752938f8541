"""One attempt at one delivery: a signed POST, a bounded wait, redirects never followed.

The answer is an ``Attempt``, never an exception: a subscriber that is down, slow or answering
500 is the normal case here, and the worker decides what to do next from the outcome.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from cti.webhooks.addresses import AddressRefused, PublicOnlyResolver, check_url
from cti.webhooks.deliveries import Delivery
from cti.webhooks.signing import signed_headers

__all__ = ["Attempt", "Sender"]

USER_AGENT = "cti-webhooks/1"


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    status: int | None = None  # the subscriber's HTTP status, when it answered
    error: str | None = None  # why it failed, in words safe to log and show the admin


class Sender:
    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            # Without the private-address allowance, names are resolved through a resolver that
            # drops non-public addresses, so a name re-pointed at the inside is refused too.
            resolver = None if self._allow_private else PublicOnlyResolver()
            # No connection limit: each subscriber's lane sends one at a time, so there are never
            # more connections than subscribers, and a limit shared between subscribers on one
            # host would let a stuck one hold up the others.
            connector = aiohttp.TCPConnector(resolver=resolver, limit=0, limit_per_host=0)
            # trust_env off: no proxy from the environment sees the deliveries.
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  trust_env=False, headers={"User-Agent": USER_AGENT})

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, delivery: Delivery, *, url: str, secret: bytes, now: float) -> Attempt:
        if self._session is None:
            raise RuntimeError("the webhook sender is not started")
        try:
            check_url(url, allow_private=self._allow_private)
        except ValueError as exc:
            return Attempt(ok=False, error=f"refused-url: {exc}")
        headers = signed_headers(secret=secret, timestamp=int(now), body=delivery.body,
                                 delivery_id=delivery.id, event_type=delivery.event_type)
        try:
            async with self._session.post(url, data=delivery.body, headers=headers,
                                          allow_redirects=False) as response:
                status = response.status
        except TimeoutError:
            return Attempt(ok=False, error=f"timeout: no answer within {self._timeout.total:g} s")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):
                return Attempt(ok=False, error=f"refused-address: {exc.os_error}")
            return Attempt(ok=False, error=f"connect: {exc.os_error.strerror or type(exc.os_error).__name__}")
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            return Attempt(ok=False, error=f"http: {type(exc).__name__}")
        if 200 <= status < 300:
            return Attempt(ok=True, status=status)
        # A redirect is not followed: the subscriber must give the URL it means.
        return Attempt(ok=False, status=status, error=f"status {status}")
