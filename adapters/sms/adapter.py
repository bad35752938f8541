"""The SMS channel: Twilio's messaging webhooks in, replies out through its REST API.

In: ``POST /webhooks/twilio/sms`` (configured on the Twilio number or Messaging Service) takes
each SMS or MMS, signed by Twilio with the account's auth token; the message continues the
sender's open SMS interaction within the window or starts a queued one. STOP and START change
the number's consent (``consent``). Twilio gets an empty TwiML answer: replies come from agents.

Out: an agent's reply goes through ``messages.create`` with a status callback to
``POST /webhooks/twilio/sms/status``, also signed, which tells the agent "delivered",
"undelivered" or "failed" as a ``message.status`` event.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

from adapters.channel import AdapterDeps, Delivery, InboundMessage, SendRefused, SendResult, deliver
from adapters.locks import KeyedLocks
from adapters.sms.config import SmsConfig
from adapters.sms.consent import ConsentStore
from adapters.sms.parsing import (
    UNSUBSCRIBED,
    Consent,
    InboundSms,
    consent_change,
    failure_why,
    message_body,
    parse_inbound,
    parse_status,
)
from adapters.sms.rest import SmsSendError, TwilioSender
from adapters.twilio_common import signed_form
from cti.domain import (
    Channel,
    Customer,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    Message,
)
from cti.errors import Conflict, InvalidInput, NotFound
from cti.events import MessageStatus
from cti.identities import normalise_phone
from cti.observe.metrics import count_webhook_refusal
from cti.ports import RecordedAttachment
from cti.redact import safe_url

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/sms/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
REF_CUSTOMER = "sms_customer"  # interaction ref: the customer's number, where replies go
REF_NUMBER = "sms_number"  # interaction ref: our number they wrote to, where replies come from
MAX_SMS_BODY = 1600  # Twilio refuses longer bodies (error 21617)
SEEN_STATUSES = 10_000


def twiml() -> web.Response:
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


def masked(phone: str) -> str:
    """A number as logs show it: enough to tell two apart, not enough to text them."""
    return f"…{phone[-4:]}"


class SmsAdapter:
    channel = Channel.SMS
    code_kind = IdentityKind.PHONE  # sends one-time codes to claimed numbers (cti.codes.CodeSender)

    def __init__(self, config: SmsConfig, deps: AdapterDeps) -> None:
        self._config = config
        self._deps = deps
        self._validator = RequestValidator(config.auth_token)
        self._consent = ConsentStore(deps.context)
        self._locks = KeyedLocks(deps.leases, "sms")  # texts of one number: one at a time, cluster-wide
        self._sender: TwilioSender | None = None
        # Status callbacks already published, so a redelivered one is not shown twice.
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    # ----- life cycle ----------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self.inbound)
        app.router.add_post(STATUS_PATH, self.status)

    async def start(self) -> None:
        if self._sender is None:
            self._sender = TwilioSender(
                account_sid=self._config.account_sid, auth_token=self._config.auth_token,
                api_base_url=self._config.api_base_url, timeout=self._config.timeout_seconds)
        log.info("sms channel ready webhook=%s%s numbers=%d", safe_url(self._config.public_url), WEBHOOK_PATH,
                 len(self._config.numbers) + (self._config.from_number is not None))

    async def aclose(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            await sender.aclose()

    # ----- webhooks ------------------------------------------------------------------------

    async def _signed_form(self, request: web.Request) -> MultiDictProxy[str] | None:
        return await signed_form(request, self._validator, self._config.public_url)

    async def inbound(self, request: web.Request) -> web.StreamResponse:
        form = await self._signed_form(request)
        if form is None:
            count_webhook_refusal(request, "sms", "bad-signature")
            log.warning("sms webhook refused: missing or invalid signature from %s", request.remote)
            return web.Response(status=403, text="invalid signature")
        try:
            sms = parse_inbound(form, region=self._deps.config.phone_region)
        except InvalidInput as exc:
            # A short code or alphanumeric sender is no customer we can answer.
            count_webhook_refusal(request, "sms", exc.error_id)
            log.warning("sms webhook refused: %s", exc.message)
            return web.Response(status=400, text=exc.message)
        # One message per number at a time, on every node: two texts sent together must not both
        # find no open interaction and start two.
        async with self._locks.hold(sms.from_phone):
            await self._take(sms)
        return twiml()

    async def _take(self, sms: InboundSms) -> None:
        change = consent_change(sms.text, sms.opt_out_type)
        if change is not None:
            await self._consent.record(sms.from_phone, change, message_sid=sms.message_sid, details={
                "keyword": sms.text.strip().upper()[:32], "to": sms.to_number or ""})
            if await self._open_interaction(sms.from_phone) is None:
                # Nothing for an agent to do: Twilio itself confirms the STOP or START.
                return
        refs = {REF_CUSTOMER: sms.from_phone}
        if sms.to_number:
            refs[REF_NUMBER] = sms.to_number
        body = message_body(sms.text, sms.media, limit=self._deps.config.max_message_chars)
        done = await self._deliver(InboundMessage(
            channel=Channel.SMS, body=body,
            # The sender's number from Twilio's signed webhook: asserted by the network.
            identities=[InboundIdentity(Identity(IdentityKind.PHONE, sms.from_phone), IdentityLevel.ASSERTED,
                                        "sms-sender")],
            message_ref=sms.message_sid, interaction_refs=refs, context=sms.location,
            queue=self._config.queue_for(sms.to_number),
            continue_open_within=self._config.window_seconds))
        if done.message is not None and sms.media:
            # The MMS media as Twilio sent them, recorded now (the body's links are only text).
            await self._deps.context.record_attachments(done.message.id, [
                RecordedAttachment(ref=m.url, filename=m.url.rsplit("/", 1)[-1],
                                   content_type=m.content_type or "application/octet-stream")
                for m in sms.media])
        log.info("sms in sid=%s interaction=%s new=%s duplicate=%s media=%d", sms.message_sid,
                 done.interaction.id, done.new_interaction, done.message is None, len(sms.media))

    async def _deliver(self, msg: InboundMessage) -> Delivery:
        d = self._deps
        try:
            return await deliver(d.interactions, d.context, d.clock, msg)
        except Conflict as exc:
            if exc.error_id != "interaction-closed":
                raise
            # Closed by its agent between the threading and the store: the text starts a new one.
            return await deliver(d.interactions, d.context, d.clock, msg)

    async def _open_interaction(self, phone: str) -> Interaction | None:
        """What ``deliver`` would continue for this number, without starting anything."""
        customer = await self._deps.context.find_customer(Identity(IdentityKind.PHONE, phone))
        if customer is None:
            return None
        now = self._deps.clock.now()
        for candidate in await self._deps.context.open_interactions(customer.id, Channel.SMS):
            if now - candidate.arrived_at <= self._config.window_seconds:
                return candidate
        return None

    async def status(self, request: web.Request) -> web.StreamResponse:
        form = await self._signed_form(request)
        if form is None:
            count_webhook_refusal(request, "sms", "bad-signature")
            log.warning("sms status callback refused: missing or invalid signature from %s",
                        request.remote)
            return web.Response(status=403, text="invalid signature")
        report = parse_status(form)
        if report is None or (report.message_sid, report.status) in self._seen:
            return twiml()
        found = await self._sent_message(request.query, report.message_sid)
        if found is None:
            log.info("sms status for an unknown message sid=%s status=%s", report.message_sid,
                     report.status)
            return twiml()
        interaction, message_id = found
        if report.error_code == UNSUBSCRIBED:
            await self._opted_out_at_twilio(interaction, form.get("To", ""), message_id)
        why = None if report.status == "delivered" else failure_why(report.error_code)
        await self._deps.hub.publish(MessageStatus(
            at=self._deps.clock.now(), interaction_id=interaction.id, agent_id=interaction.agent_id,
            message_id=message_id, status=report.status, why=why, channel_ref=report.message_sid))
        self._seen[(report.message_sid, report.status)] = None
        while len(self._seen) > SEEN_STATUSES:
            self._seen.popitem(last=False)
        return twiml()

    async def _sent_message(self, query: Mapping[str, str], sid: str) -> tuple[Interaction, str] | None:
        """The reply a status callback is about.

        Our callback URL names it (Twilio signs that URL, so it cannot be forged); the first
        callback may even come before the dispatcher has stored the MessageSid. A callback
        without those names is looked up by its MessageSid.
        """
        context = self._deps.context
        interaction_id, message_id = query.get("interaction"), query.get("message")
        if interaction_id and message_id:
            with contextlib.suppress(NotFound):
                return await context.interaction(interaction_id), message_id
            return None
        interaction = await context.find_interaction_by_message_ref([sid])
        if interaction is None:
            return None
        for message in await context.messages(interaction.id):
            if message.channel_ref == sid:
                return interaction, message.id
        return None

    async def _opted_out_at_twilio(self, interaction: Interaction, to: str, message_id: str) -> None:
        """Twilio holds a STOP we never saw (sent before we ran, or to another app): mirror it."""
        phone = interaction.channel_refs.get(REF_CUSTOMER) or to
        with contextlib.suppress(InvalidInput):
            phone = normalise_phone(phone, region=self._deps.config.phone_region)
            await self._consent.record(phone, Consent.OPT_OUT,
                                       details={"source": f"twilio-{UNSUBSCRIBED}", "message_id": message_id})

    # ----- replies -------------------------------------------------------------------------

    async def send_code(self, to: str, text: str) -> None:
        """A one-time code to a claimed number (``cti.codes.CodeSender``); raise on failure."""
        if await self._consent.opted_out(to):
            raise SendRefused("opted-out", "this number texted STOP: no message may be sent to it")
        from_ = self._config.sender_for(self._config.queue or "")
        if not from_:
            raise SendRefused("no-sender", "no SMS number is configured to send from")
        if self._sender is None:
            raise SmsSendError("not-started", "the SMS channel is not started")
        sid, _ = await self._sender.send(to=to, from_=from_, body=text,
                                         status_callback=f"{self._config.public_url}{STATUS_PATH}")
        log.info("sms code sid=%s to=%s", sid, masked(to))

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        to = interaction.channel_refs.get(REF_CUSTOMER) or _first_phone(customer)
        if not to:
            raise SendRefused("no-phone", "the customer has no phone number to text")
        if await self._consent.opted_out(to):
            raise SendRefused("opted-out", "the customer texted STOP: no message may be sent to this "
                              "number until they text START")
        from_ = interaction.channel_refs.get(REF_NUMBER) or self._config.sender_for(interaction.queue)
        if not from_:
            raise SendRefused("no-sender", f"no SMS number is configured for queue {interaction.queue!r}")
        if len(message.body) > MAX_SMS_BODY:
            raise SendRefused("too-long", f"an SMS reply is at most {MAX_SMS_BODY} characters")
        if self._sender is None:
            raise SmsSendError("not-started", "the SMS channel is not started")
        callback = f"{self._config.public_url}{STATUS_PATH}?" + urlencode(
            {"interaction": interaction.id, "message": message.id})
        try:
            sid, _ = await self._sender.send(to=to, from_=from_, body=message.body, status_callback=callback)
        except SmsSendError as exc:
            if exc.code == UNSUBSCRIBED:
                await self._consent.record(to, Consent.OPT_OUT, details={
                    "source": f"twilio-{UNSUBSCRIBED}", "message_id": message.id})
            log.warning("sms reply failed interaction=%s to=%s why=%s", interaction.id, masked(to), exc.why)
            raise
        log.info("sms out sid=%s interaction=%s to=%s", sid, interaction.id, masked(to))
        return SendResult(message_ref=sid, status="queued")


def _first_phone(customer: Customer) -> str | None:
    return next((i.value for i in customer.identities if i.kind is IdentityKind.PHONE), None)

