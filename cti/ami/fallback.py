"""Calls in Asterisk's fallback queue are calls of the center (``asterisk-config/queues.conf``).

The dial plan sends a caller to app_queue ``fallback`` when the hold timed out, when the server
was offline, or when the server itself redirected them there (``UserEvent CtiFallback``, ``Why:
timeout | offline | server``). From then on app_queue rings the agents' phones, but the call is
still the center's: an interaction that waits (queued, out of the router, which must not offer it
too), is answered by the member who picks up (active with them, on their voice load) and ends
(wrap-up), or is abandoned if the caller gives up. A caller who reached the fallback without ever
being held for the server (``Why: offline``) becomes an interaction there and then.

Checked against ``tests/fixtures/ami/live2/agent_busy_on_fallback_call.jsonl`` and
``clean_stop_redirects_waiting_caller.jsonl``, and the first set's ``fallback_queue_*``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from cti.ami.channels import ChannelView
from cti.ami.signals import CallerFallback
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity, Interaction
from cti.errors import InvalidInput
from cti.identities import normalise_phone
from cti.service import InteractionService

log = logging.getLogger(__name__)

FALLBACK = "voice.fallback"  # context: the app_queue queue the caller went to
FALLBACK_WHY = "voice.fallback_why"  # context: timeout, offline or server


def caller_identities(number: str, uniqueid: str, *, region: str | None) -> list[InboundIdentity]:
    """Caller ID as the network gives it: asserted (it finds the customer, never merges); an
    anonymous caller is still a customer, one per call."""
    try:
        phone = normalise_phone(number, region=region)
        return [InboundIdentity(Identity(IdentityKind.PHONE, phone), IdentityLevel.ASSERTED, "caller-id")]
    except InvalidInput:
        log.info("caller without a usable number uniqueid=%s", uniqueid)
        return [InboundIdentity(Identity(IdentityKind.CALL, uniqueid), IdentityLevel.ASSERTED, "call")]


def caller_context(ivr: Mapping[str, str], did: str) -> dict[str, str]:
    """What the IVR collected and the number dialled, as the interaction's context."""
    context = {f"ivr.{k}": v for k, v in ivr.items() if v}
    if did:
        context["voice.did"] = did
    return context


class FallbackCalls:
    """The interaction side of app_queue's calls; the bridge calls it under its event lock."""

    def __init__(self, *, interactions: InteractionService, region: str | None, queue: str,
                 refs: Mapping[str, str]) -> None:
        self._interactions = interactions
        self._region = region
        self._queue = queue  # the CTI queue a caller who was never held for us is counted in
        self._refs = refs  # uniqueid, channel, linkedid: the bridge's channel_refs keys

    async def arrived(self, s: CallerFallback, existing: Interaction | None,
                      caller: ChannelView | None) -> Interaction:
        """The caller joined the fallback queue: their interaction waits there now."""
        if existing is not None:
            await self._interactions.update_refs(existing.id, context=_marks(s))
            return await self._interactions.hand_off(existing.id, to=s.queue, why="fallback")
        number = caller.caller_num if caller is not None else ""
        name = caller.caller_name if caller is not None else ""
        context = caller_context(caller.ivr if caller is not None else {},
                                 caller.did if caller is not None else "")
        context.update(_marks(s))
        interaction = await self._interactions.start_inbound(
            channel=Channel.VOICE, identities=caller_identities(number, s.uniqueid, region=self._region),
            display_name=name if name and name != number else None, queue=self._queue, context=context,
            channel_refs={self._refs["uniqueid"]: s.uniqueid, self._refs["channel"]: s.channel,
                          self._refs["linkedid"]: (caller.linkedid if caller is not None else "")
                          or s.uniqueid},
            routed_elsewhere=s.queue)
        log.info("fallback caller is an interaction uniqueid=%s interaction=%s why=%s", s.uniqueid,
                 interaction.id, s.why)
        return interaction

    async def answered(self, interaction: Interaction, agent_id: str, agent_channel: str) -> Interaction:
        """A member's phone answered the caller in the fallback queue."""
        refs = {self._refs["agent_channel"]: agent_channel}
        await self._interactions.update_refs(interaction.id, refs=refs)
        return await self._interactions.answered_elsewhere(interaction.id, agent_id)


def _marks(s: CallerFallback) -> dict[str, str]:
    return {FALLBACK: s.queue, **({FALLBACK_WHY: s.why} if s.why else {})}


def waits_in_fallback(interaction: Interaction) -> bool:
    return bool(interaction.context.get(FALLBACK))
