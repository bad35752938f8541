"""Voice through Twilio: calls in by webhook and TwiML, agents connected through the REST API.

In: Twilio posts each call to ``POST /webhooks/twilio/voice`` (the number's "A call comes in"
webhook). The caller keys an account number and a reason (``<Gather>``, DTMF), then waits in a
Twilio queue of their own, named after the interaction (``<Enqueue>``, hold music from the wait
URL): from that moment the call is a queued voice interaction of the customer who owns the
caller's number, with the digits as collected context (``ivr.account``, ``ivr.reason``).

Out: when the router offers it, ``calls.create`` rings the agent (their ``endpoints.twilio``:
a number, ``client:<identity>`` or ``sip:<uri>``) with TwiML that puts them, once they answer,
in a conference of the call's own, named after the interaction (``<Dial><Conference>``). The
call's status callbacks drive the interaction: answered is an accept (and the caller is moved
out of the Twilio queue into the same conference), completed is the end of the call (wrap-up),
busy / no-answer / failed puts the caller back in our queue with the wait kept and the router
offers them to someone else.

The conference gives the desk its controls (Participants API): hold and resume (``hold``,
``holdUrl``), consult (the second agent dialled in while the caller holds; handed over or
cancelled), a supervisor's listen (``muted``), whisper (``coaching``, ``callSidToCoach``) and
barge; click-to-dial rings the agent into a new conference, then the customer. The desk's
recording button records the caller's call (Recordings API: start, pause, resume, stop). The conference's
and the added participants' status callbacks are signed webhooks like the others. The caller
leaving the Twilio queue (the Enqueue action) or hanging up (the number's status callback) while
waiting abandons it. When the agent's leg ends, the caller's Enqueue action answers with the
post-call survey (``<Gather>`` of one key, 1 to 5), whose action records the rating
(``cti.survey_service``) on the interaction's log. Recording callbacks put the recording's URL
in the interaction's context.

Every webhook is signed by Twilio (``X-Twilio-Signature``, the SDK's ``RequestValidator``,
against ``public_url`` + the path and query Twilio called): unsigned or forged gets 403 and
changes nothing. Status callbacks are taken once per (CallSid, status), and each step checks the
interaction's state and the agent leg it is about, so a redelivered or late callback is a no-op.

From the desktop: ``hangup`` ends the caller's call, ``transfer`` moves the caller back into the
interaction's Twilio queue and the interaction to the new queue (or agent). A transfer made
through the core's generic transfer (which knows nothing of Twilio) is followed too.

A voice interaction's channel references: ``twilio_call_sid`` (the caller's call),
``twilio_queue`` (the Twilio queue it waits in), ``twilio_number`` (our number they called),
``twilio_caller`` (their number as Twilio gave it), ``twilio_agent_leg`` (the token of the
current call to an agent, "" when none), ``twilio_agent_call_sid``, ``twilio_conference`` and
``twilio_conference_sid`` (the call's conference), ``twilio_held``, ``twilio_outbound``
(click-to-dial), ``twilio_consult_*`` (a consult under way) and ``twilio_recording_sid`` (the
desk's recording, while it runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine, Mapping
from typing import Any

from aiohttp import web

from adapters.channel import AdapterDeps, SendRefused, SendResult
from adapters.twilio_voice import twiml
from adapters.twilio_voice.config import ENDPOINT, TwilioVoiceConfig, endpoint
from adapters.twilio_voice.refs import (
    CONSULT_CLEARED,
    MONITOR_MODES,
    RECORDING_STATUS,
    REF_AGENT_CALL_SID,
    REF_AGENT_LEG,
    REF_AGENT_OFFER,
    REF_CALL_SID,
    REF_CALLER,
    REF_CONFERENCE,
    REF_CONFERENCE_SID,
    REF_CONSULT_AGENT,
    REF_CONSULT_ANSWERED,
    REF_CONSULT_CALL_SID,
    REF_CONSULT_LEG,
    REF_HELD,
    REF_MOVED,
    REF_NUMBER,
    REF_OUTBOUND,
    REF_QUEUE,
    REF_RECORDING_SID,
    WAITING,
)
from adapters.twilio_voice.rest import TwilioCallError, TwilioCalls
from adapters.twilio_voice.state import VoiceState, conference_name, conference_sid, forbidden, mine, xml
from cti.calls import audit_monitor, may_monitor, recording_step
from cti.domain import (
    Channel,
    Customer,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
)
from cti.errors import Conflict, CtiError, InvalidInput, NotFound
from cti.events import (
    DomainEvent,
    InteractionAbandoned,
    InteractionOffered,
    InteractionTransferred,
    OfferWithdrawn,
    SupervisionChanged,
    offered_on,
)
from cti.hub import Subscription
from cti.identities import normalise_phone
from cti.observe.metrics import count_webhook_refusal
from cti.redact import safe_url
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

SORRY = "Sorry, we cannot take your call right now. Please call again later."



class TwilioVoiceAdapter:
    channel = Channel.VOICE
    # The desk's buttons for Twilio calls (``cti.ports.DeskButtons``): as on Asterisk.
    call_refs: tuple[str, ...] = (REF_CALL_SID, REF_OUTBOUND)
    desk_controls: tuple[str, ...] = ("hold", "record", "consult")

    def __init__(self, config: TwilioVoiceConfig, deps: AdapterDeps) -> None:
        self._state = VoiceState(config, deps)
        self._deps = deps
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ----- life cycle ----------------------------------------------------------------------


    def reconfigure(self, config: TwilioVoiceConfig) -> None:
        """The section read again against a new live configuration (agents' endpoints); the
        credentials and the URL are the file's and do not change."""
        self._state.config = config
    def mount(self, app: web.Application) -> None:
        for path, handler in ((twiml.VOICE_PATH, self.incoming), (twiml.ACCOUNT_PATH, self.account),
                              (twiml.REASON_PATH, self.reason), (twiml.WAIT_PATH, self.wait),
                              (twiml.LEFT_PATH, self.left), (twiml.STATUS_PATH, self.caller_status),
                              (twiml.AGENT_PATH, self.agent_status),
                              (twiml.RECORDING_PATH, self.recording),
                              (twiml.CONFERENCE_PATH, self.conference_status),
                              (twiml.PARTICIPANT_PATH, self.participant_status),
                              (twiml.DONE_PATH, self.caller_done), (twiml.SURVEY_PATH, self.survey)):
            app.router.add_post(path, handler)

    async def start(self) -> None:
        if self._state.calls is None:
            self._state.calls = TwilioCalls(account_sid=self._state.config.account_sid,
                                      auth_token=self._state.config.auth_token,
                                      api_base_url=self._state.config.api_base_url,
                                      timeout=self._state.config.timeout_seconds)
        if self._watcher is None:
            sub = self._deps.hub.subscribe(maxsize=10_000, wants=lambda e: offered_on(e, "voice")
                                           or isinstance(e, OfferWithdrawn | InteractionAbandoned
                                                         | InteractionTransferred))
            self._watcher = asyncio.create_task(self._watch(sub), name="twilio-voice-hub")
        log.info("twilio voice ready webhook=%s%s agents=%d", safe_url(self._state.config.public_url),
                 twiml.VOICE_PATH, len(self._state.config.endpoints))

    async def aclose(self) -> None:
        tasks = [t for t in (self._watcher, *self._tasks) if t is not None]
        self._watcher = None
        self._tasks.clear()
        await stop_tasks(tasks)
        calls, self._state.calls = self._state.calls, None
        if calls is not None:
            await calls.aclose()

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        """A call carries no written replies (kept for the written channels' registry shape)."""
        raise SendRefused("voice-call", "a call has no written replies")

    # ----- webhooks: the caller ------------------------------------------------------------

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

    # ----- webhooks: the agent's call and recordings ---------------------------------------

    async def agent_status(self, request: web.Request) -> web.StreamResponse:
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        status = twiml.call_status(form)
        interaction_id = request.query.get("interaction", "")
        agent_id, leg = request.query.get("agent", ""), request.query.get("leg", "")
        if status is None or not interaction_id:
            return xml(twiml.empty())
        key = ("agent", status.call_sid, status.status)
        async with self._state.locks.hold(interaction_id):
            if key in self._state.seen:
                log.info("twilio duplicate agent callback call=%s status=%s", status.call_sid, status.status)
                return xml(twiml.empty())
            try:
                interaction = await self._deps.context.interaction(interaction_id)
            except NotFound:
                return xml(twiml.empty())
            await self._agent_call_changed(interaction, agent_id, leg, status)
            self._state.remember(key)
        return xml(twiml.empty())

    async def _agent_call_changed(self, interaction: Interaction, agent_id: str, leg: str,
                                  status: twiml.CallStatus) -> None:
        current = (bool(leg) and interaction.channel_refs.get(REF_AGENT_LEG) == leg
                   and interaction.agent_id == agent_id)
        log.info("twilio agent call=%s status=%s interaction=%s agent=%s current=%s state=%s",
                 status.call_sid, status.status, interaction.id, agent_id, current, interaction.state.value)
        if not current:
            return  # a leg given up (withdrawn, transferred): what it does now changes nothing
        interactions = self._deps.interactions
        ringing_sid = interaction.channel_refs.get(REF_AGENT_CALL_SID)
        if status.status in twiml.ENDED and ringing_sid == status.call_sid:
            # Ended by itself: nothing left for ``_stop_ringing`` to cancel.
            await interactions.update_refs(interaction.id, refs={REF_AGENT_CALL_SID: ""})
        state = interaction.state
        if status.status == "ringing" and state is InteractionState.OFFERED:
            await self._state.call_updated(interaction.id, agent_id, "ringing-agent",
                                           {"call_sid": status.call_sid})
        elif status.status == "in-progress" and state is InteractionState.OFFERED:
            try:
                await interactions.accept(interaction.id, agent_id)
            except Conflict:  # the offer expired a moment before: the agent's leg is not wanted
                with contextlib.suppress(TwilioCallError):
                    await self._state.require_calls().update(status.call_sid, status="completed")
                return
            # The agent is in the conference: the caller leaves the Twilio queue to join them.
            try:
                await self._state.require_calls().update(
                    interaction.channel_refs[REF_CALL_SID],
                    twiml=twiml.connect_caller(self._state.config, conference_name(interaction)))
            except TwilioCallError as exc:  # the agent can still hang up or transfer it back
                log.warning("twilio: cannot move the caller into the conference interaction=%s why=%s",
                            interaction.id, exc.why)
        elif (status.status == "in-progress" and state is InteractionState.ACTIVE
              and interaction.channel_refs.get(REF_OUTBOUND)
              and not interaction.channel_refs.get(REF_CALL_SID)):
            await self._dial_customer(interaction, agent_id)
        elif status.status in twiml.UNANSWERED and state is InteractionState.OFFERED:
            with contextlib.suppress(Conflict, NotFound):
                await interactions.reject(interaction.id, agent_id, why="no-answer")
        elif status.status in twiml.UNANSWERED and state is InteractionState.ACTIVE \
                and interaction.channel_refs.get(REF_OUTBOUND):
            await interactions.call_ended(interaction.id, why="agent-not-reached")
        elif status.status == "completed" and state is InteractionState.ACTIVE:
            await interactions.call_ended(interaction.id, why="call-ended")

    async def recording(self, request: web.Request) -> web.StreamResponse:
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        sid, url = form.get("RecordingSid", ""), form.get("RecordingUrl", "")
        if form.get("RecordingStatus", "").lower() != "completed" or not sid or not url:
            return xml(twiml.empty())
        interaction = await self._state.interaction_of(request.query.get("interaction"),
                                                       form.get("CallSid", ""))
        key = ("recording", sid, "completed")
        if interaction is None or key in self._state.seen:
            return xml(twiml.empty())
        context = {"voice.recording": url, "voice.recording_sid": sid}
        if form.get("RecordingDuration", "").isdigit():
            context["voice.recording_seconds"] = form["RecordingDuration"]
        refs = {REF_RECORDING_SID: ""} if interaction.channel_refs.get(REF_RECORDING_SID) == sid else None
        await self._deps.interactions.update_refs(interaction.id, refs=refs, context=context)
        await self._state.call_updated(interaction.id, interaction.agent_id, "recording-ready",
                                       {"url": url, "recording_sid": sid})
        self._state.remember(key)
        return xml(twiml.empty())

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

    async def conference_status(self, request: web.Request) -> web.StreamResponse:
        """The call's conference: its SID (needed to hold, add or coach participants), and a
        consulted agent who leaves it."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        event = twiml.conference_event(form)
        interaction_id = request.query.get("interaction", "")
        if event is None or not interaction_id:
            return xml(twiml.empty())
        key = ("conference", event.conference_sid, f"{event.sequence}:{event.event}:{event.call_sid}")
        async with self._state.locks.hold(interaction_id):
            if key in self._state.seen:
                return xml(twiml.empty())
            try:
                interaction = await self._deps.context.interaction(interaction_id)
            except NotFound:
                return xml(twiml.empty())
            if not mine(interaction):
                return xml(twiml.empty())
            refs = interaction.channel_refs
            log.info("twilio conference=%s event=%s call=%s interaction=%s", event.conference_sid,
                     event.event, event.call_sid, interaction.id)
            caller_joined = event.event == "participant-join" and event.call_sid == refs.get(REF_CALL_SID)
            if event.event != "conference-end" and refs.get(REF_CONFERENCE_SID) != event.conference_sid and (
                    caller_joined or not refs.get(REF_CONFERENCE_SID)):
                await self._deps.interactions.update_refs(interaction.id,
                                                          refs={REF_CONFERENCE_SID: event.conference_sid})
            elif event.event == "conference-end" and refs.get(REF_CONFERENCE_SID) == event.conference_sid:
                # A later conference of the same name (after a transfer) is another one.
                await self._deps.interactions.update_refs(interaction.id, refs={REF_CONFERENCE_SID: "",
                                                                                REF_HELD: ""})
            if (event.event == "participant-leave" and event.call_sid
                    and event.call_sid == refs.get(REF_CONSULT_CALL_SID)):
                await self._end_consult(interaction, "target-left")
            self._state.remember(key)
        return xml(twiml.empty())

    async def participant_status(self, request: web.Request) -> web.StreamResponse:
        """Call progress of a participant we added: a consulted agent, a supervisor, or the
        customer of a click-to-dial call."""
        form = await self._state.form_or_none(request)
        if form is None:
            return forbidden()
        status = twiml.call_status(form)
        query = request.query
        interaction_id, role, leg = query.get("interaction", ""), query.get("role", ""), query.get("leg", "")
        if status is None or not interaction_id:
            return xml(twiml.empty())
        key = ("participant", status.call_sid, status.status)
        async with self._state.locks.hold(interaction_id):
            if key in self._state.seen:
                log.info("twilio duplicate participant callback call=%s status=%s", status.call_sid,
                         status.status)
                return xml(twiml.empty())
            try:
                interaction = await self._deps.context.interaction(interaction_id)
            except NotFound:
                return xml(twiml.empty())
            if mine(interaction):
                await self._participant_changed(interaction, role, leg, query, status)
            self._state.remember(key)
        return xml(twiml.empty())

    async def _participant_changed(self, interaction: Interaction, role: str, leg: str,
                                   query: Mapping[str, str], status: twiml.CallStatus) -> None:
        refs = interaction.channel_refs
        agent_id = query.get("agent", "")
        if leg and leg == refs.get(REF_AGENT_LEG):
            # A consulted agent the call was handed to: their leg is now the agent's leg.
            await self._agent_call_changed(interaction, agent_id, leg, status)
        elif role == "consult" and leg and leg == refs.get(REF_CONSULT_LEG):
            if status.status == "in-progress" and not refs.get(REF_CONSULT_ANSWERED):
                await self._deps.interactions.update_refs(interaction.id, refs={REF_CONSULT_ANSWERED: "1"})
                for who, other in ((interaction.agent_id, {"to_agent": agent_id}),
                                   (agent_id, {"from_agent": interaction.agent_id})):
                    await self._state.call_updated(interaction.id, who, "consult-answered", other)
            elif status.status in twiml.ENDED:
                await self._end_consult(interaction, "no-answer" if status.status in twiml.UNANSWERED
                                        else "target-left")
        elif role in MONITOR_MODES:
            supervisor = query.get("supervisor", "")
            active = {"in-progress": True, **dict.fromkeys(twiml.ENDED, False)}.get(status.status)
            if active is not None and supervisor and agent_id:
                await self._deps.hub.publish(SupervisionChanged(
                    at=self._deps.clock.now(), supervisor_id=supervisor, agent_id=agent_id, mode=role,
                    active=active, interaction_id=interaction.id))
        elif role == "customer" and status.call_sid == refs.get(REF_CALL_SID) \
                and interaction.state is InteractionState.ACTIVE:
            if status.status == "in-progress":
                await self._state.call_updated(interaction.id, interaction.agent_id, "customer-answered",
                                               {"number": refs.get(REF_CALLER, "")})
            elif status.status in twiml.ENDED:
                why = "customer-not-reached" if status.status in twiml.UNANSWERED else "call-ended"
                await self._deps.interactions.call_ended(interaction.id, why=why)
                if status.status in twiml.UNANSWERED:  # the agent waits alone in the conference
                    await self._state.hang_up_quietly(refs.get(REF_AGENT_CALL_SID))

    # ----- hub: offers ring agents, withdrawn offers stop ringing --------------------------

    async def _watch(self, sub: Subscription) -> None:
        try:
            while True:
                event: DomainEvent = await sub.get()
                if isinstance(event, InteractionOffered):
                    self._spawn(self._ring(event))
                elif isinstance(event, OfferWithdrawn | InteractionAbandoned):
                    self._spawn(self._stop_ringing(event))
                elif isinstance(event, InteractionTransferred):
                    self._spawn(self._follow_transfer(event))
        finally:
            sub.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:  # one call's trouble must not stop the others'
            log.exception("twilio voice: step failed")

    async def _ring(self, offer: InteractionOffered) -> None:
        async with self._state.locks.hold(offer.interaction_id):
            interaction = await self._deps.context.interaction(offer.interaction_id)
            if (not mine(interaction) or interaction.state is not InteractionState.OFFERED
                    or interaction.offered_at != offer.at  # a later offer replaced this one
                    or interaction.channel_refs.get(REF_AGENT_OFFER) == repr(offer.at)):
                return  # every node hears the offer: the first to hold the lock rings, once
            interactions = self._deps.interactions
            target = self._state.config.endpoints.get(offer.agent_id)
            from_ = self._state.caller_id_for(interaction, target or "")
            if not target or not from_:
                log.warning("twilio: agent %s has no endpoints.twilio (or no caller id) interaction=%s",
                            offer.agent_id, interaction.id)
                with contextlib.suppress(Conflict, NotFound):
                    await interactions.reject(interaction.id, offer.agent_id, why="no-phone")
                return
            leg = secrets.token_hex(8)
            await interactions.update_refs(interaction.id, refs={REF_AGENT_LEG: leg, REF_AGENT_CALL_SID: ""})
            ring = int(max(5, min(self._state.config.ring_seconds, offer.expires_at - offer.at - 1)))
            callback = twiml.url(self._state.config, twiml.AGENT_PATH,
                                 {"interaction": interaction.id, "agent": offer.agent_id, "leg": leg})
            try:
                sid = await self._state.require_calls().create(
                    to=target, from_=from_, status_callback=callback, timeout=ring,
                    twiml=twiml.connect_agent(self._state.config, conference_name(interaction)))
            except TwilioCallError as exc:
                log.warning("twilio: cannot call agent=%s interaction=%s why=%s", offer.agent_id,
                            interaction.id, exc.why)
                with contextlib.suppress(Conflict, NotFound):
                    await interactions.reject(interaction.id, offer.agent_id, why="dial-failed")
                return
            # In the interaction, not in this node's memory: whichever node hears the offer end
            # can stop the ringing.
            await interactions.update_refs(interaction.id, refs={REF_AGENT_CALL_SID: sid,
                                                                REF_AGENT_OFFER: repr(offer.at)})
            log.info("twilio ringing agent=%s call=%s interaction=%s", offer.agent_id, sid, interaction.id)

    async def _stop_ringing(self, event: OfferWithdrawn | InteractionAbandoned) -> None:
        """The offer ended unanswered (timed out, declined on the desktop, the caller left): the
        agent's phone stops ringing. One node does it, whichever placed the call."""
        interaction_id = event.interaction_id
        before = await self._deps.context.interaction(interaction_id)
        if not mine(before) or not before.channel_refs.get(REF_AGENT_CALL_SID):
            return  # every channel's ended offers pass by: only our ringing calls are stopped
        async with self._state.locks.hold(interaction_id):  # whoever comes second finds the call cleared
            interaction = await self._deps.context.interaction(interaction_id)
            refs = interaction.channel_refs
            sid = refs.get(REF_AGENT_CALL_SID)
            if not sid or not mine(interaction) or interaction.state not in (
                    InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.ABANDONED):
                return  # nothing ringing, or answered: not ours to stop
            if (interaction.state is InteractionState.OFFERED
                    and refs.get(REF_AGENT_OFFER) == repr(interaction.offered_at)):
                return  # the call of a later offer: it rings on
            await self._deps.interactions.update_refs(interaction_id, refs={REF_AGENT_CALL_SID: ""})
            try:
                await self._state.require_calls().update(sid, status="canceled")
            except TwilioCallError:
                with contextlib.suppress(TwilioCallError):  # answered meanwhile: hang it up
                    await self._state.require_calls().update(sid, status="completed")
            log.info("twilio stopped ringing interaction=%s call=%s", interaction_id, sid)

    async def _follow_transfer(self, event: InteractionTransferred) -> None:
        """A transfer made by the core alone: the caller goes back into their Twilio queue."""
        interaction_id = event.interaction_id
        if not mine(await self._deps.context.interaction(interaction_id)):
            return  # every channel's transfers pass by: only calls of ours are followed
        if not await self._once("follow", interaction_id, repr(event.at)):
            return
        async with self._state.locks.hold(interaction_id):
            interaction = await self._deps.context.interaction(interaction_id)
            if interaction.channel_refs.get(REF_MOVED):
                # Our own ``transfer`` (on whichever node) moved the caller already.
                await self._deps.interactions.update_refs(interaction_id, refs={REF_MOVED: ""})
                return
            if not mine(interaction) or interaction.state not in WAITING:
                return
            await self._deps.interactions.update_refs(interaction_id, refs={REF_AGENT_LEG: ""})
            await self._state.redirect_to_queue(interaction)

    async def _once(self, *key: str) -> bool:
        """True on the one node that takes this piece of work (an event every node hears)."""
        return await self._deps.context.claim_inbound(":".join(("twilio-voice", *key)))

    # ----- call control (desktop) ----------------------------------------------------------

    def handles(self, interaction: Interaction) -> bool:
        return mine(interaction)

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        """End the caller's call (the agent's leg ends with it); the interaction goes to wrap-up."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            await self._state.require_calls().update(interaction.channel_refs[REF_CALL_SID],
                                                     status="completed")
            await self._deps.interactions.call_ended(interaction_id, why="agent-hung-up")
        log.info("twilio hang-up from the desktop interaction=%s agent=%s", interaction_id, agent_id)

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None = None, note: str | None = None) -> Interaction:
        """A blind transfer: the caller back on hold in their Twilio queue, the interaction (its
        context, notes and wait target) queued to ``to_queue`` or offered to ``to_agent``."""
        config = self._deps.config
        if (to_queue is None) == (to_agent is None):
            raise InvalidInput("bad-transfer-target", "give exactly one of queue or agent_id")
        if to_queue is not None and to_queue not in config.queues:
            raise NotFound("queue-not-found", f"no queue {to_queue!r}", queue=to_queue)
        if to_agent is not None and to_agent not in config.agents:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        if to_agent == agent_id:
            raise InvalidInput("bad-transfer-target", "cannot transfer to yourself")
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            leg = interaction.channel_refs.get(REF_AGENT_LEG, "")
            # The agent's leg ends when the caller leaves it: that end is not the call's.
            refs = self._deps.interactions.update_refs
            await refs(interaction_id, refs={REF_AGENT_LEG: "", REF_MOVED: "1"})
            try:
                await self._state.redirect_to_queue(interaction)
            except TwilioCallError:
                await refs(interaction_id, refs={REF_AGENT_LEG: leg, REF_MOVED: ""})
                raise
            try:
                moved = await self._deps.interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                               to_agent=to_agent, note=note)
            except BaseException:
                await refs(interaction_id, refs={REF_MOVED: ""})
                raise
        log.info("twilio transfer interaction=%s from=%s to_queue=%s to_agent=%s", interaction_id,
                 agent_id, to_queue, to_agent)
        return moved

    async def record(self, interaction_id: str, agent_id: str, action: str) -> None:
        """The desk's recording of the caller's call (Twilio's Recordings API, two channels):
        ``start``, ``pause`` (silence kept in its place), ``resume``, ``stop``. Its status
        callback (signed, like every webhook) puts the finished recording's URL in the
        interaction's context; the call's end stops it too."""
        what = recording_step(action)
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            conference_sid(interaction)  # connected: the caller (or dialled customer) is in it
            call_sid = interaction.channel_refs[REF_CALL_SID]
            recording = interaction.channel_refs.get(REF_RECORDING_SID, "")
            calls = self._state.require_calls()
            if action == "start":
                if recording:
                    raise Conflict("recording-in-progress", "the call is being recorded",
                                   interaction_id=interaction_id)
                sid = await calls.start_recording(call_sid, status_callback=twiml.url(
                    self._state.config, twiml.RECORDING_PATH, {"interaction": interaction_id}))
                await self._deps.interactions.update_refs(interaction_id, refs={REF_RECORDING_SID: sid})
            elif not recording:
                raise Conflict("not-recording", "the call is not being recorded",
                               interaction_id=interaction_id)
            else:
                await calls.update_recording(call_sid, recording, RECORDING_STATUS[action])
                if action == "stop":
                    await self._deps.interactions.update_refs(interaction_id, refs={REF_RECORDING_SID: ""})
        await self._state.call_updated(interaction_id, agent_id, what, {"by": "desktop"})
        log.info("twilio recording %s interaction=%s agent=%s", action, interaction_id, agent_id)

    # ----- hold, consult, supervision and click-to-dial (the call's conference) ------------

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        """The caller on hold in the conference, hearing our hold audio (``holdUrl``: the same
        TwiML as the queue's music); resume takes them off hold."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            await self._hold_caller(interaction, on=on)
            await self._deps.interactions.update_refs(interaction_id, refs={REF_HELD: "1" if on else ""})
        await self._state.call_updated(interaction_id, agent_id, "held" if on else "resumed",
                                       {"by": "desktop"})
        log.info("twilio %s interaction=%s agent=%s", "hold" if on else "resume", interaction_id, agent_id)

    async def _hold_caller(self, interaction: Interaction, *, on: bool) -> None:
        await self._state.require_calls().update_participant(
            conference_sid(interaction), interaction.channel_refs[REF_CALL_SID], hold=on,
            **({"hold_url": twiml.url(self._state.config, twiml.WAIT_PATH), "hold_method": "POST"}
               if on else {}))

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        """The agent talks to ``to_agent`` (dialled into the conference) while the caller holds;
        ``complete_consult`` hands the caller over, ``cancel_consult`` goes back to them."""
        if to_agent == agent_id:
            raise InvalidInput("bad-consult-target", "cannot consult yourself")
        if to_agent not in self._deps.config.agents:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        target = self._state.config.endpoints.get(to_agent)
        if not target:
            raise InvalidInput("no-phone", f"agent {to_agent!r} has no Twilio phone", agent_id=to_agent)
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            if interaction.channel_refs.get(REF_CONSULT_AGENT):
                raise Conflict("consult-in-progress", "a consult is already in progress",
                               interaction_id=interaction_id)
            conference = conference_sid(interaction)
            leg = secrets.token_hex(8)
            await self._hold_caller(interaction, on=True)
            try:
                sid = await self._state.require_calls().add_participant(
                    conference, to=target, from_=self._state.caller_id_for(interaction, target),
                    timeout=self._state.config.ring_seconds, end_conference_on_exit=False,
                    status_callback=twiml.url(self._state.config, twiml.PARTICIPANT_PATH, {
                        "interaction": interaction_id, "role": "consult", "agent": to_agent, "leg": leg}))
            except TwilioCallError:
                with contextlib.suppress(TwilioCallError):
                    await self._hold_caller(interaction, on=False)
                raise
            await self._deps.interactions.update_refs(interaction_id, refs={
                REF_CONSULT_AGENT: to_agent, REF_CONSULT_CALL_SID: sid, REF_CONSULT_LEG: leg,
                REF_CONSULT_ANSWERED: "", REF_HELD: "1"})
        await self._state.call_updated(interaction_id, agent_id, "consult-started", {"to_agent": to_agent})
        # The consulted agent sees who is waiting before they pick up.
        pop = await self._deps.interactions.screen_pop(await self._deps.context.interaction(interaction_id))
        await self._state.call_updated(interaction_id, to_agent, "consult-incoming",
                                       {"from_agent": agent_id, "screen_pop": pop})
        log.info("twilio consult interaction=%s from=%s to=%s call=%s", interaction_id, agent_id,
                 to_agent, sid)

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        """Back to the caller: the consulted agent's leg ends, the caller comes off hold."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._consulting(interaction_id, agent_id)
            await self._state.hang_up_quietly(interaction.channel_refs.get(REF_CONSULT_CALL_SID))
            await self._state.call_updated(interaction_id, agent_id, "consult-cancelled", {})
            await self._end_consult(interaction, "cancelled")

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        """The consulting agent leaves; the caller, off hold, stays with the consulted agent, whose
        interaction it is now (a warm transfer)."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._consulting(interaction_id, agent_id)
            refs = interaction.channel_refs
            if not refs.get(REF_CONSULT_ANSWERED):
                raise Conflict("consult-not-answered", "the consulted agent has not answered yet",
                               interaction_id=interaction_id)
            to_agent, sid, leg = refs[REF_CONSULT_AGENT], refs[REF_CONSULT_CALL_SID], refs[REF_CONSULT_LEG]
            conference, calls = conference_sid(interaction), self._state.require_calls()
            # The new agent's leaving ends the call from now on; the old agent's no longer does.
            await calls.update_participant(conference, sid, end_conference_on_exit=True)
            old_sid = refs.get(REF_AGENT_CALL_SID, "")
            if old_sid:
                with contextlib.suppress(TwilioCallError):  # gone already: nothing to keep alive
                    await calls.update_participant(conference, old_sid, end_conference_on_exit=False)
            await self._hold_caller(interaction, on=False)
            await self._deps.interactions.update_refs(interaction_id, refs={
                **CONSULT_CLEARED, REF_AGENT_LEG: leg, REF_AGENT_CALL_SID: sid, REF_HELD: ""})
            await self._deps.interactions.reassign(interaction_id, to_agent, why="consult transfer completed")
            for who, other in ((agent_id, {"to_agent": to_agent}), (to_agent, {"from_agent": agent_id})):
                await self._state.call_updated(interaction_id, who, "consult-ended",
                                               {"why": "completed", **other})
            await self._state.hang_up_quietly(old_sid)
        log.info("twilio consult completed interaction=%s from=%s to=%s", interaction_id, agent_id, to_agent)

    async def _consulting(self, interaction_id: str, agent_id: str) -> Interaction:
        interaction = await self._state.live(interaction_id, agent_id)
        if not interaction.channel_refs.get(REF_CONSULT_AGENT):
            raise Conflict("no-consult", "no consult in progress", interaction_id=interaction_id)
        return interaction

    async def _end_consult(self, interaction: Interaction, why: str) -> None:
        """Once per consult (under the call's lock): the caller off hold, both desks told."""
        refs = interaction.channel_refs
        to_agent = refs.get(REF_CONSULT_AGENT)
        if not to_agent:
            return
        await self._deps.interactions.update_refs(interaction.id, refs={**CONSULT_CLEARED, REF_HELD: ""})
        if interaction.state is InteractionState.ACTIVE and refs.get(REF_CONFERENCE_SID):
            with contextlib.suppress(TwilioCallError):  # the caller may have gone meanwhile
                await self._hold_caller(interaction, on=False)
        for who, other in ((interaction.agent_id, {"to_agent": to_agent}),
                           (to_agent, {"from_agent": interaction.agent_id})):
            await self._state.call_updated(interaction.id, who, "consult-ended", {"why": why, **other})

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        """Listen to (``muted``), whisper to (``coaching``, heard by the agent only) or barge into
        an agent's call: the supervisor's own Twilio phone is dialled into its conference."""
        config = self._deps.config
        supervisor = may_monitor(config, supervisor_id, agent_id, mode)
        raw = supervisor.endpoints.get(ENDPOINT)
        phone = endpoint(raw, supervisor_id, config.phone_region) if raw else ""
        if not phone:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=supervisor_id)
        live = [i for i in await self._deps.context.list_interactions(agent_id=agent_id, open_only=True)
                if mine(i) and i.state is InteractionState.ACTIVE and not i.customer_left
                and i.channel_refs.get(REF_CONFERENCE_SID)]
        if not live:
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        target = live[0]
        options: dict[str, Any] = {"end_conference_on_exit": False, **MONITOR_MODES[mode]}
        if mode == "whisper":
            options["call_sid_to_coach"] = target.channel_refs.get(REF_AGENT_CALL_SID, "")
        await audit_monitor(self._deps.context, supervisor_id, agent_id, mode, target.id)
        sid = await self._state.require_calls().add_participant(
            conference_sid(target), to=phone, from_=self._state.config.caller_id
            or target.channel_refs.get(REF_NUMBER, "") or phone, timeout=self._state.config.ring_seconds,
            status_callback=twiml.url(self._state.config, twiml.PARTICIPANT_PATH, {
                "interaction": target.id, "role": mode, "agent": agent_id, "supervisor": supervisor_id}),
            **options)
        log.info("twilio %s supervisor=%s agent=%s interaction=%s call=%s", mode, supervisor_id, agent_id,
                 target.id, sid)

    def dials_for(self, agent_id: str) -> bool:
        return bool(self._state.config.endpoints.get(agent_id))

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        """Click-to-dial: the agent's phone rings first (into the call's conference); when they
        answer, the customer is dialled into it."""
        config = self._deps.config
        target = self._state.config.endpoints.get(agent_id)
        if agent_id not in config.agents or not target:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=agent_id)
        if queue is not None and queue not in config.queues:
            raise NotFound("queue-not-found", f"no queue {queue!r}", queue=queue)
        phone = normalise_phone(number, region=config.phone_region)
        from_ = self._state.config.caller_id or next(iter(self._state.config.numbers), "")
        if not from_:
            raise InvalidInput("no-caller-id", "the Twilio channel has no number to call from")
        interaction, _ = await self._deps.interactions.start_active(
            channel=Channel.VOICE, agent_id=agent_id, identities=[Identity(IdentityKind.PHONE, phone)],
            display_name=None, queue=queue, context={"voice.dialled": phone})
        leg = secrets.token_hex(8)
        await self._deps.interactions.update_refs(interaction.id, refs={
            REF_CONFERENCE: interaction.id, REF_OUTBOUND: "1", REF_AGENT_LEG: leg, REF_NUMBER: from_,
            REF_CALLER: phone})
        try:
            sid = await self._state.require_calls().create(
                to=target, from_=from_ if not target.startswith("client:") else phone,
                timeout=self._state.config.ring_seconds,
                twiml=twiml.connect_agent(self._state.config, interaction.id),
                status_callback=twiml.url(self._state.config, twiml.AGENT_PATH,
                                          {"interaction": interaction.id, "agent": agent_id, "leg": leg}))
        except TwilioCallError:
            await self._deps.interactions.call_ended(interaction.id, why="dial-failed")
            raise
        await self._deps.interactions.update_refs(interaction.id, refs={REF_AGENT_CALL_SID: sid})
        log.info("twilio click-to-dial agent=%s call=%s interaction=%s", agent_id, sid, interaction.id)
        return await self._deps.context.interaction(interaction.id)

    async def _dial_customer(self, interaction: Interaction, agent_id: str) -> None:
        refs = interaction.channel_refs
        phone = refs.get(REF_CALLER, "")
        try:
            sid = await self._state.require_calls().add_participant(
                conference_name(interaction), to=phone, from_=refs.get(REF_NUMBER, ""),
                timeout=self._state.config.ring_seconds, end_conference_on_exit=True,
                status_callback=twiml.url(self._state.config, twiml.PARTICIPANT_PATH,
                                          {"interaction": interaction.id, "role": "customer",
                                           "agent": agent_id}))
        except TwilioCallError as exc:
            log.warning("twilio: cannot dial the customer interaction=%s why=%s", interaction.id, exc.why)
            await self._deps.interactions.call_ended(interaction.id, why="dial-failed")
            await self._state.hang_up_quietly(refs.get(REF_AGENT_CALL_SID))
            return
        await self._deps.interactions.update_refs(interaction.id, refs={REF_CALL_SID: sid})
