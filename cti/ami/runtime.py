"""The Asterisk side of a running server: the bridge, its link, and (with Redis) the lease that
lets one node at a time hold the link and the relay that lets the others use it."""

from __future__ import annotations

from cti.ami.bridge import AmiBridge
from cti.ami.link import AmiLink
from cti.ami.relay import CommandRelay
from cti.config import AmiConfig
from cti.lease import Leases


class AsteriskVoice:
    def __init__(self, *, ami: AmiConfig, bridge: AmiBridge, leases: Leases) -> None:
        self.bridge = bridge
        self._ami = ami
        self._links: list[AmiLink] = []
        self._link_owner = leases.one_node("ami", start=self._start_link, stop=self._stop_link)
        self._relay: CommandRelay | None = None
        if leases.redis is not None:
            self._relay = CommandRelay(leases.redis, prefix=leases.prefix, node_id=leases.node_id)
            bridge.attach_relay(self._relay)

    @property
    def link_up(self) -> bool | None:
        """This node's AMI link is logged in (True) or not (False); None when another node
        holds the link (``cti.lease``): this node cannot tell from here."""
        if not self._links:
            return None
        return any(link.connected for link in self._links)

    async def start(self) -> None:
        await self.bridge.start()
        if self._relay is not None:
            await self._relay.start()
        await self._link_owner.start()

    async def aclose(self) -> None:
        await self.bridge.going_offline()
        await self._link_owner.aclose()
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
