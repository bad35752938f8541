"""A supervisor listening to, whispering to or barging into a SIP-line call, on their own SIP phone.

The line rings the supervisor's phone through the proxy (``AgentLeg`` on ``sipcore``, offering the
caller's G.711 law first and the other one second: the mix transcodes, so either will do). Once it
answers, the call's relay becomes a ``Conference`` (``media.py``, ``mixer.py``) in the asked mode;
a new mode from the same supervisor changes it on the same leg. The supervisor hanging up ends
only their leg (the caller and the agent are bridged again as before); the call ending, or leaving
the agent, ends it: a BYE, or a CANCEL while it rings.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.sip.agent_leg import AgentLeg, Outcome, phone_leg
from adapters.sip.media import Conference, MediaLeg
from adapters.sip.mixer import Party
from adapters.sip.sipcore.sdp import PCMA, PCMU
from adapters.sip.sipcore.transport import SipEndpoint

log = logging.getLogger(__name__)

LONGEST_CALL = 24 * 3600.0

# What the call offers the mix now: the caller's leg, the agent's, and whether it is on hold;
# None once the supervisor's leg has nothing to join (the call ended or went to another agent).
CallLegs = Callable[[], tuple[MediaLeg, MediaLeg, bool] | None]


@dataclass
class Supervision:
    supervisor_id: str
    agent_id: str
    interaction_id: str
    mode: str
    leg: AgentLeg
    sock: socket.socket
    media: MediaLeg | None = None
    conference: Conference | None = None
    answered: bool = False
    ended: bool = False

    @classmethod
    def open(cls, endpoint: SipEndpoint, uri: str, *, from_uri: str, local_ip: str, law: int,
             supervisor_id: str, agent_id: str, interaction_id: str, mode: str) -> Supervision:
        leg, sock = phone_leg(endpoint, uri, from_uri=from_uri, local_ip=local_ip,
                              formats=(law, PCMA if law == PCMU else PCMU))
        return cls(supervisor_id, agent_id, interaction_id, mode, leg, sock)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if self.conference is not None:
            self.conference.set_mode(mode)

    async def run(self, ring_seconds: float, call: CallLegs,
                  changed: Callable[[bool], Awaitable[None]]) -> None:
        """Ring, join the call's relay when answered, and wait for either side to end it."""
        try:
            ring = await self.leg.ring(ring_seconds)
        except BaseException:  # stopped while ringing
            self.sock.close()
            raise
        media, legs = ring.media, call()
        if ring.outcome is not Outcome.ANSWERED or media is None or media.codec is None or self.ended \
                or legs is None:
            self.sock.close()
            if ring.outcome is Outcome.ANSWERED:
                self.leg.hangup()  # answered after the call ended, or with no G.711 we offered
            self.leg.endpoint.discard(self.leg.id)
            self.ended = True
            log.info("sip supervisor leg not connected interaction=%s supervisor=%s outcome=%s status=%d",
                     self.interaction_id, self.supervisor_id, ring.outcome.value, ring.status)
            return
        self.answered = True
        self.media = await MediaLeg.open(self.sock, (media.address, media.port), media.codec)
        legs = call()
        if self.ended or legs is None:  # the call ended while the socket was being set up
            self.media.close()
            self.end()
            self.leg.endpoint.discard(self.leg.id)
            return
        caller, agent, held = legs
        self.conference = Conference({Party.CALLER: caller, Party.AGENT: agent, Party.SUPERVISOR: self.media},
                                     self.mode)
        self.conference.start(paused=held)
        log.info("sip supervisor joined interaction=%s supervisor=%s mode=%s codec=%d", self.interaction_id,
                 self.supervisor_id, self.mode, media.codec)
        await changed(True)
        try:
            by = await self.leg.ended(timeout=LONGEST_CALL)
        finally:
            self.leg.endpoint.discard(self.leg.id)
        self.end()
        log.info("sip supervisor left interaction=%s supervisor=%s by=%s", self.interaction_id,
                 self.supervisor_id, by)
        await changed(False)

    def end(self) -> None:
        """The supervisor's leg ends (BYE once answered, CANCEL while ringing); the caller and the
        agent are bridged again as they were."""
        if self.ended:
            return
        self.ended = True
        if self.conference is not None:
            self.conference.close()
            self.conference = None
        if self.media is not None:
            self.media.close()
        if self.answered:
            self.leg.hangup()  # nothing is sent if the phone's BYE ended it already
        else:
            self.leg.cancel()
