"""Which subscriber URLs and addresses the server may call.

A webhook URL is typed by an admin, but the server calls it from inside the network: without a
check, a subscription is a way to make the server reach its own database, a cloud metadata
service or anything else only it can see. So: http or https only, no credentials in the URL, and
no private, loopback, link-local or otherwise non-public address unless the configuration allows
them (``webhooks.allow_private_addresses``: a receiver on the same network, or tests).

A name is checked after it is resolved, by the resolver the sender connects through, not when
the configuration is read: a name that resolved to a public address then may resolve to a
private one later (DNS rebinding). aiohttp does not ask the resolver about an address written in
the URL, so those are checked here, in ``check_url``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["AddressRefused", "PublicOnlyResolver", "check_url", "is_public"]

SCHEMES = frozenset({"http", "https"})


class AddressRefused(OSError):
    """A subscriber's host resolved only to addresses the server may not call."""


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is not part of it
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if the server may post to it; ValueError saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"the scheme must be http or https, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        # They would be sent in clear on every attempt and shown wherever the URL is.
        raise ValueError("no user or password in the URL: the subscriber's secret signs each delivery")
    if port == 0:
        raise ValueError("port 0 is not a port one can post to")
    if not allow_private:
        literal = _literal(host)
        if literal is not None and not is_public(literal):
            raise ValueError(f"{host} is not a public address (set webhooks.allow_private_addresses "
                             "to call one on purpose)")
        if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
            raise ValueError(f"{host} is this machine (set webhooks.allow_private_addresses to call "
                             "it on purpose)")
    return url


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


class PublicOnlyResolver(AbstractResolver):
    """The default resolver, with every non-public address taken out of its answer."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if is_public(r["host"])]
        if not allowed:
            raise AddressRefused(f"{host} resolves only to addresses that are not public")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
