"""What the parts of the SIP line's adapter share (``ivr``, ``offers``, ``desk``,
``click_to_dial``): the configuration, the server's ports, the prompts, the per-call locks, the
calls table (``calls``), the endpoint the phones are rung from, and the background steps of the
calls, each guarded so one call's trouble does not stop the others'.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.channel import AdapterDeps
from adapters.locks import KeyedLocks
from adapters.sip import g711
from adapters.sip.agent_leg import AgentLeg, phone_leg
from adapters.sip.calls import REF_CALL_ID, REF_DIALLED, Calls
from adapters.sip.config import SipConfig
from adapters.sip.sipcore.transport import SipEndpoint
from cti.calls import owned_live_call
from cti.domain import Channel, Interaction
from cti.errors import Conflict, NotFound, Unavailable
from cti.events import CallUpdated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prompts:
    """What a waiting caller hears: the greeting once, then the hold audio (None: a tone)."""

    greeting: g711.Prompt | None = None
    hold: g711.Prompt | None = None


def carries(interaction: Interaction) -> bool:
    """A voice interaction with a call on this line: a caller's, or a click-to-dial's."""
    refs = interaction.channel_refs
    return interaction.channel is Channel.VOICE and bool(refs.get(REF_CALL_ID) or refs.get(REF_DIALLED))


class LineParts:
    def __init__(self, config: SipConfig, deps: AdapterDeps, prompts: Prompts) -> None:
        self.config = config
        self.deps = deps
        self.prompts = prompts
        self.locks = KeyedLocks()
        self.calls = Calls()
        self.endpoint: SipEndpoint | None = None  # the agent legs (sipcore), through the same proxy
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except (NotFound, Conflict) as exc:
            log.info("sip line: step skipped: %s", exc)
        except Exception:  # one call's trouble must not stop the others'
            log.exception("sip line: step failed")

    def new_leg(self, uri: str, formats: tuple[int, ...]) -> tuple[AgentLeg, socket.socket]:
        """A leg to ring through the proxy, and the RTP socket its offer names."""
        endpoint = self.endpoint
        if endpoint is None:
            raise Unavailable("sip-not-started", "the SIP line is not running")
        c = self.config
        return phone_leg(endpoint, uri, from_uri=f"sip:{c.user}@{c.server}", local_ip=c.local_ip,
                         formats=formats)

    async def live(self, interaction_id: str, agent_id: str) -> Interaction:
        return await owned_live_call(self.deps.context, interaction_id, agent_id, carried=carries,
                                     not_carried="not-a-sip-call")

    async def call_updated(self, interaction_id: str, agent_id: str | None, what: str,
                           details: Mapping[str, Any]) -> None:
        await self.deps.hub.publish(CallUpdated(at=self.deps.clock.now(), interaction_id=interaction_id,
                                                agent_id=agent_id, what=what, details=dict(details)))
