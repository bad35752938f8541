"""Who a request comes from: the peer address, or what a trusted reverse proxy says it is.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
peer is one of ``trusted_proxies``; then the right-most address that is not a trusted proxy is
the client (the left part of the header is the client's own writing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from aiohttp import hdrs, web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def in_networks(address: str, networks: Sequence[Network]) -> bool:
    """``address`` is an IP address inside one of ``networks`` (False for anything else)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request, trusted_proxies: tuple[str, ...] = ()) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    address = str(peer[0]) if peer else "unknown"
    networks = parse_networks(trusted_proxies)
    if not networks or not in_networks(address, networks):
        return address
    hops = [h.strip() for h in ",".join(request.headers.getall(hdrs.X_FORWARDED_FOR, [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not in_networks(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # a proxy we trust wrote nonsense: fall back to the peer
    return address
