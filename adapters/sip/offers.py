"""The agent's leg of a SIP-line call from the contact center's side: an offer of one of the
line's calls rings the agent's SIP phone (``agent_leg``, through the proxy, offering only the
customer's codec), and its answer is the accept; a refusal or no answer declines the offer
"no-answer"; an offer withdrawn stops the ringing; the agent's BYE ends the customer's call into
wrap-up. An agent without a ``sip`` endpoint accepts on the desktop (the caller stays on the hold
audio).
"""

from __future__ import annotations

import contextlib
import logging

from adapters.sip.agent_leg import AgentLeg, Outcome
from adapters.sip.line import LineParts
from adapters.sip.media import MediaLeg
from adapters.sip.talk import Talk
from cti.errors import Conflict, NotFound
from cti.events import DomainEvent, InteractionOffered, OfferWithdrawn
from cti.hub import Subscription

log = logging.getLogger(__name__)


class Offers:
    def __init__(self, parts: LineParts) -> None:
        self._parts = parts

    async def watch(self, sub: Subscription) -> None:
        try:
            while True:
                event: DomainEvent = await sub.get()
                if isinstance(event, InteractionOffered):
                    self._parts.spawn(self._ring(event))
                elif isinstance(event, OfferWithdrawn):
                    live = self._parts.calls.call_for(event.interaction_id)
                    if live is not None and live.agent is not None and live.agent_media is None:
                        live.drop_agent()  # the offer expired or went elsewhere: stop ringing
        finally:
            sub.close()

    async def _ring(self, offer: InteractionOffered) -> None:
        """Ring the offered agent's phone (through the proxy, sipcore). Answered: the accept, and
        the two legs' RTP relayed as it comes (the agent is offered the caller's codec only, so
        nothing is transcoded). Refused or not answered: the offer is declined "no-answer" (the
        core re-queues the caller with the wait kept and sets the agent away)."""
        parts = self._parts
        live = parts.calls.call_for(offer.interaction_id)
        uri = parts.config.endpoints.get(offer.agent_id)
        endpoint = parts.endpoint
        if live is None or live.leg is None or live.ended or uri is None or endpoint is None:
            return  # no phone: the agent accepts on the desktop, the caller stays on hold audio
        if live.agent is not None:
            live.drop_agent()
        c = parts.config
        pt = live.leg.payload_type
        leg, sock = parts.new_leg(uri, (pt,))
        live.agent, live.agent_id = leg, offer.agent_id
        log.info("sip ringing agent interaction=%s agent=%s", offer.interaction_id, offer.agent_id)
        try:
            ring = await leg.ring(c.ring_seconds)
        except BaseException:  # stopped while ringing (the server's shutdown CANCELs the leg), or
            sock.close()       # no final answer at all to our CANCEL
            if live.agent is leg:
                live.agent = live.agent_id = None
            raise
        still_ours = live.agent is leg and not live.ended
        media = ring.media
        if ring.outcome is not Outcome.ANSWERED or media is None or not still_ours or media.codec != pt:
            sock.close()
            if live.agent is leg:
                live.agent = live.agent_id = None
            if ring.outcome is Outcome.ANSWERED:
                leg.hangup()  # answered too late, or with another codec than the caller's
            log.info("sip agent leg not connected interaction=%s agent=%s outcome=%s status=%d",
                     offer.interaction_id, offer.agent_id, ring.outcome.value, ring.status)
            endpoint.discard(leg.id)
            if still_ours:
                with contextlib.suppress(Conflict, NotFound):
                    await parts.deps.interactions.reject(offer.interaction_id, offer.agent_id,
                                                         why="no-answer")
            return
        agent_media = await MediaLeg.open(sock, (media.address, media.port), pt)
        try:
            await parts.deps.interactions.accept(offer.interaction_id, offer.agent_id)
        except (Conflict, NotFound):  # the offer expired a moment before
            agent_media.close()
            if live.agent is leg:
                live.agent = live.agent_id = None
            leg.hangup()
            parts.spawn(self.agent_hangs_up(live, leg))  # only to forget its events when it ends
            return
        live.connect(agent_media)
        log.info("sip agent answered interaction=%s agent=%s codec=%d", offer.interaction_id,
                 offer.agent_id, pt)
        parts.spawn(self.agent_hangs_up(live, leg))

    async def agent_hangs_up(self, live: Talk, leg: AgentLeg) -> None:
        """Follow the agent's leg to its end (and forget its events then); the agent's BYE ends
        the customer's call into wrap-up."""
        try:
            by = await leg.ended(timeout=24 * 3600.0)
        finally:
            leg.endpoint.discard(leg.id)
        if by != "remote" or live.agent is not leg or live.ended:
            return  # we ended it (caller gone, desktop hang-up, transfer)
        interaction_id = live.interaction_id
        await self._parts.calls.end_customer(live)
        if interaction_id is not None:
            async with self._parts.locks.hold(interaction_id):
                with contextlib.suppress(Conflict, NotFound):
                    await self._parts.deps.interactions.call_ended(interaction_id, why="agent-hung-up")
        log.info("sip agent hung up interaction=%s", interaction_id)
