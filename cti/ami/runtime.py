"""The Asterisk side of a running server: the bridge, its link, and (with Redis) the lease that
lets one node at a time hold the link and the relay that lets the others use it."""

from __future__ import annotations

from typing import Any

from cti.ami.bridge import AmiBridge
from cti.ami.lease import LeaseKeeper, RedisLease
from cti.ami.link import AmiLink
from cti.ami.relay import CommandRelay
from cti.config import AmiConfig


class AsteriskVoice:
    def __init__(self, *, ami: AmiConfig, bridge: AmiBridge, redis: Any | None, prefix: str,
                 node_id: str, lease_ttl: float = 15.0) -> None:
        self.bridge = bridge
        self._ami = ami
        self._links: list[AmiLink] = []
        self._keeper: LeaseKeeper | None = None
        self._relay: CommandRelay | None = None
        if redis is not None:
            self._keeper = LeaseKeeper(RedisLease(redis, f"{prefix}:ami:lease", node_id, ttl=lease_ttl),
                                       on_gained=self._start_link, on_lost=self._stop_link)
            self._relay = CommandRelay(redis, prefix=prefix, node_id=node_id)
            bridge.attach_relay(self._relay)

    async def start(self) -> None:
        await self.bridge.start()
        if self._relay is not None:
            await self._relay.start()
        await (self._keeper.start() if self._keeper is not None else self._start_link())

    async def aclose(self) -> None:
        await self.bridge.going_offline()
        await (self._keeper.aclose() if self._keeper is not None else self._stop_link())
        if self._relay is not None:
            await self._relay.aclose()
        await self.bridge.aclose()

    async def _start_link(self) -> None:
        bridge = self.bridge
        link = AmiLink(self._ami.host, self._ami.port, self._ami.username, self._ami.secret,
                       on_event=bridge.on_event, on_connected=bridge.on_connected,
                       on_disconnected=bridge.on_disconnected)
        bridge.attach(link)
        self._links.append(link)
        await link.start()  # connects in the background, retrying until Asterisk answers
        if self._relay is not None:
            self._relay.serve(bridge.serve_command)

    async def _stop_link(self) -> None:
        if self._relay is not None:
            self._relay.serve(None)
        while self._links:
            await self._links.pop().aclose()
