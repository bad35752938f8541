"""A caller on the SIP line, from the contact center's side: the line's events for a call
(``on_incoming``, ``on_dtmf``, ``on_ended`` of the adapter), the answer with the greeting then
the hold audio, the IVR's keys (``account_of``: the account until '#' or ``account_digits``, then
the reason's key when ``reasons`` are set), the queued voice interaction of the customer who owns
the caller's number (``e164``), and the caller hanging up: abandoned while waiting, into wrap-up
once answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from adapters.sip.caller_leg import CallerCall
from adapters.sip.calls import REF_CALL_ID, REF_CALLER, WAITING, LiveCall
from adapters.sip.line import LineParts
from adapters.sip.media import MediaLeg
from cti.domain import (
    Channel,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
)
from cti.errors import InvalidInput
from cti.identities import normalise_phone

log = logging.getLogger(__name__)


def account_of(keys: str, limit: int) -> tuple[str, int, bool]:
    """(account, keys it used, complete) from the keys pressed so far: the digits before '#', at
    most ``limit`` of them; complete at '#' or at ``limit`` keys."""
    if "#" in keys[: limit + 1]:
        before = keys.split("#", 1)[0]
        return "".join(k for k in before if k.isdigit())[:limit], len(before) + 1, True
    return "".join(k for k in keys[:limit] if k.isdigit()), min(len(keys), limit), len(keys) >= limit


def e164(user: str, country: str) -> str:
    """The caller's number from a From user part: ``+1555…`` or ``1555…`` (11+ digits: already
    international, as trunks send it), else a national number in the default region."""
    digits = user.strip()
    if digits.isdigit() and len(digits) > 10:
        digits = "+" + digits
    return normalise_phone(digits, region=country)


class Ivr:
    def __init__(self, parts: LineParts) -> None:
        self._parts = parts

    # ----- events from the line (on the loop) ----------------------------------------------

    def incoming(self, call: CallerCall) -> None:
        live = LiveCall(call)
        self._parts.calls.callers[call.call_id] = live
        self._parts.spawn(self._answer(live))

    def key(self, call: CallerCall, digit: str) -> None:
        live = self._parts.calls.callers.get(call.call_id)
        if live is not None:
            # the account's digits, its '#', and the reason's key (``_collect_digits``)
            live.key(digit, keep=self._parts.config.account_digits + 2)

    def ended(self, call: CallerCall, why: str) -> None:
        live = self._parts.calls.callers.pop(call.call_id, None)
        if live is None or live.ended:
            return
        live.end(hang_up=False)  # a ringing agent is cancelled, a talking one hung up
        if live.recording is not None:
            self._parts.spawn(live.stop_recording())
        log.info("sip call ended call=%s why=%s interaction=%s", call.call_id, why, live.interaction_id)
        if live.interaction_id is not None:
            self._parts.spawn(self._caller_gone(live.interaction_id, why))

    # ----- the caller -----------------------------------------------------------------------

    async def _answer(self, live: LiveCall) -> None:
        call = live.call
        if live.ended:  # cancelled before its media was opened
            call.sock.close()
            return
        prompts = self._parts.prompts
        leg = await MediaLeg.open(call.sock, call.remote, call.payload_type,
                                  greeting=prompts.greeting, hold=prompts.hold,
                                  dtmf_payload_type=call.dtmf_payload_type,
                                  on_key=lambda key: self.key(call, key))
        if live.ended or not call.answer():  # cancelled meanwhile
            leg.close()
            return
        live.leg = call.media = leg
        leg.play(greeting=True)
        log.info("sip call answered call=%s from=%s codec=%d", call.call_id, call.caller, call.payload_type)
        account, reason = await self._collect_digits(live)
        if live.ended:
            return
        async with self._parts.locks.hold(call.call_id):
            live.interaction_id = (await self._queue_caller(live, account, reason)).id

    async def _collect_digits(self, live: LiveCall) -> tuple[str, str]:
        """The account (keys until '#' or ``account_digits``), then, when ``reasons`` are set, the
        next key as the reason; each wait bounded by ``digits_seconds``."""
        config = self._parts.config
        limit = config.account_digits
        await self._keys_until(live, lambda: account_of("".join(live.digits), limit)[2])
        account, used, _ = account_of("".join(live.digits), limit)
        if not config.reasons:
            return account, ""
        await self._keys_until(live, lambda: len(live.digits) > used)
        key = live.digits[used] if len(live.digits) > used else ""
        return account, config.reasons.get(key, key)

    async def _keys_until(self, live: LiveCall, done: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._parts.config.digits_seconds
        while not live.ended and not done():
            left = deadline - loop.time()
            if left <= 0:
                return
            live.digit_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.digit_event.wait(), left)

    async def _queue_caller(self, live: LiveCall, account: str, reason: str = "") -> Interaction:
        call = live.call
        caller = call.caller
        deps = self._parts.deps
        identities: list[InboundIdentity] = []
        with contextlib.suppress(InvalidInput):
            country = deps.config.phone_region
            # The trunk's caller ID: asserted by the network, not proven.
            identities.append(InboundIdentity(Identity(IdentityKind.PHONE, e164(caller, country)),
                                              IdentityLevel.ASSERTED, "caller-id"))
        if not identities:
            identities.append(InboundIdentity(Identity(IdentityKind.CALL, call.call_id),
                                              IdentityLevel.ASSERTED, "call"))
        context = {"ivr.account": account, "ivr.reason": reason, "voice.did": call.called}
        interaction = await deps.interactions.start_inbound(
            channel=Channel.VOICE, identities=identities, display_name=None, queue=self._parts.config.queue,
            channel_refs={REF_CALL_ID: call.call_id, REF_CALLER: caller},
            context={k: v for k, v in context.items() if v})
        log.info("sip caller queued call=%s interaction=%s account=%s", call.call_id, interaction.id,
                 account or "-")
        return interaction

    async def _caller_gone(self, interaction_id: str, why: str) -> None:
        deps = self._parts.deps
        async with self._parts.locks.hold(interaction_id):
            interaction = await deps.context.interaction(interaction_id)
            if interaction.state in WAITING:
                log.info("sip caller left while waiting interaction=%s why=%s", interaction_id, why)
                await deps.interactions.customer_left(interaction_id)  # abandoned
            elif interaction.state is InteractionState.ACTIVE:
                await deps.interactions.customer_left(interaction_id)  # wrap-up, customer-left
