"""Click-to-dial on the SIP line: the agent's phone rings first (through the proxy); when they
answer, the customer is called through the trunk with the codec the phone chose, and the two legs
are relayed (a ``calls.Dialled``, from then on a talk like a caller's). Either side hanging up ends
the other and the call goes to wrap-up; a dialled customer hanging up while waiting after a
transfer abandons it.
"""

from __future__ import annotations

import contextlib
import logging
import socket

from adapters.sip.agent_leg import AgentLeg, Outcome, Ring
from adapters.sip.calls import REF_DIALLED, WAITING, Dialled
from adapters.sip.line import LineParts
from adapters.sip.media import MediaLeg
from adapters.sip.offers import Offers
from adapters.sip.sipcore.sdp import PCMA, PCMU
from cti.domain import Channel, Identity, IdentityKind, Interaction, InteractionState
from cti.errors import Conflict, InvalidInput, NotFound, Unavailable
from cti.identities import normalise_phone

log = logging.getLogger(__name__)


class ClickToDial:
    def __init__(self, parts: LineParts, offers: Offers) -> None:
        self._parts = parts
        self._offers = offers  # follows the agent's leg once it answered, as for a caller's call

    def dials_for(self, agent_id: str) -> bool:
        return agent_id in self._parts.config.endpoints

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        """Click-to-dial: the agent's phone rings first (through the proxy); when they answer, the
        customer is called through the trunk with the codec the phone chose, and the two legs are
        relayed. Either side hanging up ends the other and the call goes to wrap-up."""
        parts = self._parts
        config = parts.deps.config
        uri = parts.config.endpoints.get(agent_id)
        if agent_id not in config.agents or not uri:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=agent_id)
        if queue is not None and queue not in config.queues:
            raise NotFound("queue-not-found", f"no queue {queue!r}", queue=queue)
        if parts.endpoint is None:
            raise Unavailable("sip-not-started", "the SIP line is not running")
        phone = normalise_phone(number, region=config.phone_region)
        dialled = number if number.isdigit() else phone.lstrip("+")
        interaction, _ = await parts.deps.interactions.start_active(
            channel=Channel.VOICE, agent_id=agent_id, identities=[Identity(IdentityKind.PHONE, phone)],
            display_name=None, queue=queue, channel_refs={REF_DIALLED: dialled},
            context={"voice.dialled": dialled})
        call = Dialled(interaction_id=interaction.id)
        parts.calls.dialled[interaction.id] = call
        parts.spawn(self._dial_legs(call, agent_id, uri, dialled))
        log.info("sip click-to-dial agent=%s interaction=%s", agent_id, interaction.id)
        return interaction

    async def _ring_or_close(self, leg: AgentLeg, sock: socket.socket) -> Ring:
        try:
            return await leg.ring(self._parts.config.ring_seconds)
        except BaseException:
            sock.close()
            raise

    async def _dial_legs(self, call: Dialled, agent_id: str, agent_uri: str, number: str) -> None:
        """The agent's phone, then the customer: once both answered, a talk like a caller's (the
        agent's BYE is followed by ``Offers.agent_hangs_up``, the desk's controls act on it), until
        the customer or our side ends it."""
        parts = self._parts
        c = parts.config
        why = "hung-up"
        agent: AgentLeg | None = None
        customer: AgentLeg | None = None
        followed = False  # the agent's leg is followed (and forgotten) by agent_hangs_up
        try:
            agent, sock = parts.new_leg(agent_uri, (PCMU, PCMA))
            call.agent, call.agent_id = agent, agent_id
            ring = await self._ring_or_close(agent, sock)
            media = ring.media
            if media is None or media.codec is None or call.ended:
                sock.close()
                why = "agent-no-answer"
                return  # an answer the call cannot use is ended with it (``drop_agent``)
            pt = media.codec
            agent_media = await MediaLeg.open(sock, (media.address, media.port), pt)
            if call.ended:
                agent_media.close()
                return
            call.agent_media = agent_media
            followed = True
            parts.spawn(self._offers.agent_hangs_up(call, agent))
            customer, sock = parts.new_leg(f"sip:{number}@{c.server}:{c.port}", (pt,))
            call.customer = customer
            ring = await self._ring_or_close(customer, sock)
            call.customer_answered = ring.outcome is Outcome.ANSWERED
            media = ring.media
            if media is None or call.ended or media.codec != pt:
                sock.close()
                why = "no-answer" if ring.outcome is Outcome.NO_ANSWER else "customer-refused"
                return
            leg = await MediaLeg.open(sock, (media.address, media.port), pt, hold=parts.prompts.hold)
            if call.ended:
                leg.close()
                return
            call.leg = leg
            call.connect(agent_media)
            log.info("sip click-to-dial answered interaction=%s codec=%d", call.interaction_id, pt)
            await customer.ended(timeout=24 * 3600.0)
        finally:
            for done in (customer, None if followed else agent):
                if done is not None:
                    done.endpoint.discard(done.id)
            if not call.ended:  # not our side (the desk, the agent, a stop): the customer, or no answer
                call.end()
                parts.calls.dialled.pop(call.interaction_id, None)
                await call.stop_recording()
                async with parts.locks.hold(call.interaction_id):
                    with contextlib.suppress(Conflict, NotFound):
                        await self._customer_gone(call.interaction_id, why)

    async def _customer_gone(self, interaction_id: str, why: str) -> None:
        """A dialled customer hung up: waiting after a transfer, the call is abandoned; talking,
        it ends into wrap-up."""
        deps = self._parts.deps
        interaction = await deps.context.interaction(interaction_id)
        if interaction.state in WAITING:
            await deps.interactions.customer_left(interaction_id)
        elif interaction.state is InteractionState.ACTIVE:
            await deps.interactions.call_ended(interaction_id, why=why)
