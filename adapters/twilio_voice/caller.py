"""The caller's side of a Twilio call, by webhook and TwiML: the account number and reason they
key in, their wait in a Twilio queue of their own (from which the interaction is queued), the
queue or conference they leave (abandoned, or the end of the talk) and the post-call survey."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping

from aiohttp import web

from adapters.twilio_voice import twiml
from adapters.twilio_voice.refs import (
    REF_CALL_SID,
    REF_CALLER,
    REF_CONFERENCE,
    REF_NUMBER,
    REF_QUEUE,
    WAITING,
)
from adapters.twilio_voice.state import VoiceState, forbidden, xml
from cti.domain import (
    Channel,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
)
from cti.errors import CtiError, InvalidInput
from cti.identities import normalise_phone
from cti.observe.metrics import count_webhook_refusal

log = logging.getLogger(__name__)

SORRY = "Sorry, we cannot take your call right now. Please call again later."


class CallerWebhooks:
    def __init__(self, state: VoiceState) -> None:
        self._state = state
        self._deps = state.deps  # fixed for the adapter's life, unlike the config

    async def incoming(self, request: web.Request) -> web.StreamResponse:
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        sid = form.get("CallSid", "")
        if not sid:
            count_webhook_refusal(request, "twilio_voice", "missing-call-sid")
            return web.Response(status=400, text="CallSid is required")
        existing = await self._state.by_call(sid)
        if existing is not None:  # the webhook again (a retry): where the caller already is
            return xml(self._resume(existing))
        return xml(twiml.ask_account(self._state.config))

    async def account(self, request: web.Request) -> web.StreamResponse:
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        account = twiml.digits(form.get("Digits", ""), self._state.config.account_digits)
        return xml(twiml.ask_reason(self._state.config, account))

    async def reason(self, request: web.Request) -> web.StreamResponse:
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        sid = form.get("CallSid", "")
        if not sid:
            count_webhook_refusal(request, "twilio_voice", "missing-call-sid")
            return web.Response(status=400, text="CallSid is required")
        account = twiml.digits(request.query.get("account", ""), self._state.config.account_digits)
        key = form.get("Digits", "").strip()[:1]
        # One request per call at a time: a retried webhook must not queue the caller twice.
        async with self._state.locks.hold(f"call:{sid}"):
            interaction = await self._state.by_call(sid, open_only=False)
            if interaction is None:
                interaction = await self._queue_caller(form, account=account, key=key)
        return xml(self._resume(interaction))

    def _resume(self, interaction: Interaction) -> str:
        if interaction.state in WAITING:
            return twiml.enqueue(self._state.config,
                                 interaction.channel_refs.get(REF_QUEUE, interaction.id), interaction.id)
        return twiml.hang_up()

    async def _queue_caller(self, form: Mapping[str, str], *, account: str, key: str) -> Interaction:
        sid = form["CallSid"]
        country = self._deps.config.phone_region
        to_number: str | None = None
        with contextlib.suppress(InvalidInput):
            to_number = normalise_phone(form.get("To", ""), region=country)
        identities: list[InboundIdentity] = []
        with contextlib.suppress(InvalidInput):
            # Caller ID from a signed webhook: asserted by the network, not proven.
            identities.append(InboundIdentity(Identity(IdentityKind.PHONE, normalise_phone(
                form.get("From", ""), region=country)), IdentityLevel.ASSERTED, "caller-id"))
        if not identities:  # anonymous, or a Client/SIP caller: a customer of this call alone
            identities.append(InboundIdentity(Identity(IdentityKind.CALL, sid), IdentityLevel.ASSERTED,
                                              "call"))
        context = {"ivr.account": account, "ivr.reason": self._state.config.reasons.get(key, key),
                   "voice.did": to_number or ""}
        interaction_id = self._deps.ids.new_id("int")
        refs = {REF_CALL_SID: sid, REF_QUEUE: interaction_id, REF_NUMBER: to_number or form.get("To", ""),
                REF_CALLER: form.get("From", ""), REF_CONFERENCE: interaction_id}
        name = form.get("CallerName", "").strip() or None
        interaction = await self._deps.interactions.start_inbound(
            channel=Channel.VOICE, identities=identities, display_name=name,
            queue=self._state.config.queue_for(to_number), channel_refs={k: v for k, v in refs.items() if v},
            context={k: v for k, v in context.items() if v}, interaction_id=interaction_id)
        log.info("twilio caller queued call=%s interaction=%s", sid, interaction.id)
        return interaction

    async def wait(self, request: web.Request) -> web.StreamResponse:
        if await self._state.form_or_none(request) is None:
            return forbidden()
        return xml(twiml.hold_music(self._state.config))

    async def left(self, request: web.Request) -> web.StreamResponse:
        """The Enqueue's action: the caller left the Twilio queue (``QueueResult`` says how)."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        result = form.get("QueueResult", "").strip().lower()
        interaction = await self._state.interaction_of(request.query.get("interaction"),
                                                       form.get("CallSid", ""))
        if interaction is None:
            return xml(twiml.hang_up())
        if result in ("bridged", "bridging-in-process"):
            # After the talk, the caller is asked the survey, then the call ends; unless a transfer
            # put them back in a queue.
            if interaction.state in WAITING:
                return xml(twiml.empty())
            if self._deps.surveys is not None and self._deps.config.surveys.enabled:
                return xml(twiml.ask_survey(self._state.config, interaction.id))
            return xml(twiml.hang_up())
        if result == "redirected":
            return xml(twiml.empty())
        async with self._state.locks.hold(interaction.id):
            await self._caller_gone(interaction.id, why=result or "left")
        return xml(twiml.empty() if result == "hangup" else twiml.say_and_hang_up(SORRY))

    async def survey(self, request: web.Request) -> web.StreamResponse:
        """The survey's Gather action: the key the caller pressed is the rating (``cti.surveys``
        refuses anything but 1..5, and a second answer)."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        surveys = self._deps.surveys
        interaction = await self._state.interaction_of(request.query.get("interaction"),
                                                       form.get("CallSid", ""))
        if interaction is None or surveys is None:
            return xml(twiml.hang_up())
        try:
            async with self._state.locks.hold(interaction.id):
                current = await self._deps.context.interaction(interaction.id)
                if current.state is InteractionState.ACTIVE:
                    # The caller's leg left the agent's before the agent's call reported completed.
                    await self._deps.interactions.call_ended(current.id, why="call-ended")
                await surveys.answer(current.id, form.get("Digits", ""), None, via="gather")
        except CtiError as exc:
            log.info("twilio survey not recorded interaction=%s: %s", interaction.id, exc.error_id)
            return xml(twiml.hang_up())
        return xml(twiml.say_and_hang_up(twiml.SURVEY_THANKS))

    async def caller_status(self, request: web.Request) -> web.StreamResponse:
        """The number's call status callback: the caller's call ended."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        status = twiml.call_status(form)
        if status is None or status.status not in twiml.ENDED:
            return xml(twiml.empty())
        key = ("caller", status.call_sid, status.status)
        if key in self._state.seen:
            return xml(twiml.empty())
        interaction = await self._state.by_call(status.call_sid)
        if interaction is not None:
            async with self._state.locks.hold(interaction.id):
                await self._caller_gone(interaction.id, why=status.status)
        self._state.remember(key)
        return xml(twiml.empty())

    async def _caller_gone(self, interaction_id: str, *, why: str) -> None:
        interaction = await self._deps.context.interaction(interaction_id)
        if interaction.state in WAITING:
            log.info("twilio caller left while waiting interaction=%s why=%s", interaction_id, why)
            await self._deps.interactions.customer_left(interaction_id)  # abandoned
        elif interaction.state is InteractionState.ACTIVE:
            await self._deps.interactions.customer_left(interaction_id)  # wrap-up, customer-left

    async def caller_done(self, request: web.Request) -> web.StreamResponse:
        """The caller's ``<Dial><Conference>`` action: they left the conference. Hung up
        (``CallStatus`` completed) during the talk, the customer left; the conference ended under
        them (the agent left), their call ends too; unless a transfer put them back in a queue."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        interaction = await self._state.interaction_of(request.query.get("interaction"),
                                                       form.get("CallSid", ""))
        if interaction is None:
            return xml(twiml.hang_up())
        if interaction.state in WAITING:
            return xml(twiml.empty())
        if form.get("CallStatus", "").strip().lower() in twiml.ENDED:
            async with self._state.locks.hold(interaction.id):
                await self._caller_gone(interaction.id, why="hangup")
            return xml(twiml.hang_up())
        # The agent left and the caller is still on the line: the post-call survey, then the end.
        if self._deps.surveys is not None and self._deps.config.surveys.enabled:
            return xml(twiml.ask_survey(self._state.config, interaction.id))
        return xml(twiml.hang_up())
