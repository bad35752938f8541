"""The agent's leg of a SIP-line call, on ``sipcore``: ring the agent's phone through the proxy and
say how it ended, hold and resume it by re-INVITE, hang it up.

What the adapter needs from issue 15, item 2: an answer (with the phone's media address and codec
for the relay), a rejection (486, 603 … → the caller is re-queued, the agent set away), no answer
within the ring time (CANCEL, its 487) or the caller hanging up while the phone rings (``cancel``).
``offers.py`` rings the agent's phone with it when the router offers a SIP-line call.
"""

from __future__ import annotations

import enum
import logging
import socket
from dataclasses import dataclass

from adapters.sip.sipcore.events import Answered, Ended, ReinviteDone, Rejected
from adapters.sip.sipcore.sdp import PCMA, PCMU, Media, SdpError, Session, parse
from adapters.sip.sipcore.transaction import TIMEOUT
from adapters.sip.sipcore.transport import SipEndpoint

log = logging.getLogger(__name__)

NO_ANSWER_STATUSES = frozenset({408, 480, 487})  # nobody took it, as opposed to a refusal


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    REJECTED = "rejected"  # the phone or the proxy refused: 486, 603, 404 …
    NO_ANSWER = "no-answer"  # rang out (our CANCEL, the proxy's 408) or cancelled by us


@dataclass(frozen=True)
class Ring:
    outcome: Outcome
    status: int  # the final status (200 when answered)
    media: Media | None = None  # the phone's stream, when answered


class AgentLeg:
    def __init__(self, endpoint: SipEndpoint, uri: str, *, from_uri: str, session: Session,
                 formats: tuple[int, ...] = (PCMU, PCMA)) -> None:
        self.endpoint, self.uri, self.from_uri, self.session = endpoint, uri, from_uri, session
        # Offer only the caller's codec to relay without transcoding.
        self.formats = formats
        self.id = ""
        self._cancelled = False

    async def ring(self, ring_seconds: float) -> Ring:
        """INVITE the phone; CANCEL it after ``ring_seconds`` without an answer."""
        core = self.endpoint.core
        self.id, actions = core.invite(self.uri, from_uri=self.from_uri,
                                       body=self.session.offer(self.formats))
        self.endpoint.run(actions)
        try:
            event = await self.endpoint.next_event((Answered, Rejected, Ended), self.id, ring_seconds)
        except TimeoutError:
            self.cancel()
            # the 487 (or an answer crossing the CANCEL, which the core ACKs and ends with BYE)
            event = await self.endpoint.next_event((Answered, Rejected, Ended), self.id, TIMEOUT + 1)
        if isinstance(event, Answered) and not self._cancelled:
            try:
                return Ring(Outcome.ANSWERED, 200, parse(event.body))
            except SdpError as exc:
                log.warning("sip.agent_answer_unusable", extra={"leg": self.id, "why": exc.message})
                self.hangup()
                return Ring(Outcome.REJECTED, 488)
        if isinstance(event, Rejected) and event.status not in NO_ANSWER_STATUSES and not self._cancelled:
            return Ring(Outcome.REJECTED, event.status)
        return Ring(Outcome.NO_ANSWER, event.status if isinstance(event, Rejected) else 487)

    def cancel(self) -> None:
        """Stop ringing (the caller hung up, or the ring time is over): CANCEL, or BYE if it was
        answered meanwhile."""
        self._cancelled = True
        self.endpoint.run(self.endpoint.core.cancel(self.id))

    async def hold(self, on: bool = True) -> bool:
        """Re-INVITE with ``a=sendonly`` (hold) or ``a=sendrecv`` (resume); True if accepted."""
        actions = self.endpoint.core.reinvite(self.id, self.session.offer(
            self.formats, direction="sendonly" if on else "sendrecv"))
        if not actions:
            return False
        self.endpoint.run(actions)
        try:
            done = await self.endpoint.next_event(ReinviteDone, self.id, TIMEOUT + 1)
        except TimeoutError:  # no final answer at all (the core's timer B ends the transaction)
            return False
        return isinstance(done, ReinviteDone) and 200 <= done.status < 300

    def hangup(self) -> None:
        self.endpoint.run(self.endpoint.core.bye(self.id))

    async def ended(self, timeout: float) -> str:
        """Wait for the leg's end: "remote" (the agent hung up), "local", or "no-ack"."""
        event = await self.endpoint.next_event(Ended, self.id, timeout)
        assert isinstance(event, Ended)
        return event.by


def phone_leg(endpoint: SipEndpoint, uri: str, *, from_uri: str, local_ip: str,
              formats: tuple[int, ...]) -> tuple[AgentLeg, socket.socket]:
    """A leg to ring through the proxy (an agent's, a supervisor's, a dialled customer's) and the
    RTP socket its offer names, bound on ``local_ip``; the socket is the caller's to close."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind((local_ip, 0))
    leg = AgentLeg(endpoint, uri, from_uri=from_uri, session=Session(local_ip, sock.getsockname()[1]),
                   formats=formats)
    return leg, sock
