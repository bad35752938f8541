"""The connection cap refuses exactly the connections past ``http_max_connections`` open ones,
and lets new ones in again once others closed, though it no longer reads aiohttp's list of
open connections at every accept."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from cti.serve import ConnectionCap


class FakeServer:
    """aiohttp's server as the cap sees it: its open connections, and a protocol per accept."""

    def __init__(self) -> None:
        self.open: list[asyncio.Protocol] = []
        self.readings = 0

    @property
    def connections(self) -> list[asyncio.Protocol]:
        self.readings += 1
        return list(self.open)

    def __call__(self) -> asyncio.Protocol:
        protocol = asyncio.Protocol()
        self.open.append(protocol)  # as if started at once
        return protocol


def accept(cap: ConnectionCap, server: FakeServer, count: int) -> list[bool]:
    """For each of ``count`` accepts, whether it got the server's protocol (not refused)."""
    results = []
    for _ in range(count):
        before = len(server.open)
        cap()
        results.append(len(server.open) > before)
    return results


def make(limit: int) -> tuple[ConnectionCap, FakeServer]:
    server = FakeServer()
    return ConnectionCap(cast(Any, server), limit), server


def test_connections_past_the_cap_are_refused() -> None:
    cap, server = make(5)
    try:
        assert accept(cap, server, 8) == [True] * 5 + [False] * 3
        assert len(server.open) == 5
    finally:
        cap.close()


def test_room_made_by_closed_connections_is_given_again() -> None:
    cap, server = make(5)
    try:
        accept(cap, server, 5)
        del server.open[:2]  # two clients left
        assert accept(cap, server, 3) == [True, True, False]
    finally:
        cap.close()


def test_accepts_below_the_cap_do_not_read_the_open_connections() -> None:
    # The list is a copy of every open connection: reading it at each accept made a burst of
    # N connections cost N * N.
    cap, server = make(1000)
    try:
        accept(cap, server, 999)
        assert server.readings == 0
    finally:
        cap.close()

