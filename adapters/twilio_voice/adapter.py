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

This module keeps the channel's life cycle, its routes and the methods the core and the desktop
call; the work is done by ``caller`` (the caller's webhooks), ``agent_leg`` (the callbacks of the
calls we place, of the conference and of recordings), ``ringing`` (offers ring agents),
``call_control`` (hang up, transfer, record), ``conference`` (hold, consult, supervision) and
``click_to_dial``, all sharing one ``state.VoiceState``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.channel import AdapterDeps, SendRefused, SendResult
from adapters.twilio_voice import twiml
from adapters.twilio_voice.agent_leg import AgentLegWebhooks
from adapters.twilio_voice.call_control import CallControl
from adapters.twilio_voice.caller import CallerWebhooks
from adapters.twilio_voice.click_to_dial import ClickToDial
from adapters.twilio_voice.conference import ConferenceControls
from adapters.twilio_voice.config import TwilioVoiceConfig
from adapters.twilio_voice.refs import REF_CALL_SID, REF_OUTBOUND
from adapters.twilio_voice.rest import TwilioCalls
from adapters.twilio_voice.ringing import Ringer
from adapters.twilio_voice.state import VoiceState, mine
from cti.domain import Channel, Customer, Interaction, Message
from cti.redact import safe_url

log = logging.getLogger(__name__)


class TwilioVoiceAdapter:
    channel = Channel.VOICE
    # The desk's buttons for Twilio calls (``cti.ports.DeskButtons``): as on Asterisk.
    call_refs: tuple[str, ...] = (REF_CALL_SID, REF_OUTBOUND)
    desk_controls: tuple[str, ...] = ("hold", "record", "consult")

    def __init__(self, config: TwilioVoiceConfig, deps: AdapterDeps) -> None:
        self._state = VoiceState(config, deps)
        self._caller = CallerWebhooks(self._state)
        self._conference = ConferenceControls(self._state)
        self._dialer = ClickToDial(self._state)
        self._agent_leg = AgentLegWebhooks(self._state, self._conference, self._dialer)
        self._ringer = Ringer(self._state)
        self._control = CallControl(self._state)

    # ----- life cycle ----------------------------------------------------------------------

    def reconfigure(self, config: TwilioVoiceConfig) -> None:
        """The section read again against a new live configuration (agents' endpoints); the
        credentials and the URL are the file's and do not change."""
        self._state.config = config

    def mount(self, app: web.Application) -> None:
        caller, agent_leg = self._caller, self._agent_leg
        for path, handler in ((twiml.VOICE_PATH, caller.incoming), (twiml.ACCOUNT_PATH, caller.account),
                              (twiml.REASON_PATH, caller.reason), (twiml.WAIT_PATH, caller.wait),
                              (twiml.LEFT_PATH, caller.left), (twiml.STATUS_PATH, caller.caller_status),
                              (twiml.AGENT_PATH, agent_leg.agent_status),
                              (twiml.RECORDING_PATH, agent_leg.recording),
                              (twiml.CONFERENCE_PATH, agent_leg.conference_status),
                              (twiml.PARTICIPANT_PATH, agent_leg.participant_status),
                              (twiml.DONE_PATH, caller.caller_done), (twiml.SURVEY_PATH, caller.survey)):
            app.router.add_post(path, handler)

    async def start(self) -> None:
        state = self._state
        config = state.config
        if state.calls is None:
            state.calls = TwilioCalls(account_sid=config.account_sid, auth_token=config.auth_token,
                                      api_base_url=config.api_base_url, timeout=config.timeout_seconds)
        self._ringer.start()
        log.info("twilio voice ready webhook=%s%s agents=%d", safe_url(config.public_url),
                 twiml.VOICE_PATH, len(config.endpoints))

    async def aclose(self) -> None:
        await self._ringer.aclose()
        calls, self._state.calls = self._state.calls, None
        if calls is not None:
            await calls.aclose()

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        """A call carries no written replies (kept for the written channels' registry shape)."""
        raise SendRefused("voice-call", "a call has no written replies")

    # ----- call control (desktop) ----------------------------------------------------------

    def handles(self, interaction: Interaction) -> bool:
        return mine(interaction)

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        """End the caller's call (the agent's leg ends with it); the interaction goes to wrap-up."""
        await self._control.hangup(interaction_id, agent_id)

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None = None, note: str | None = None) -> Interaction:
        """A blind transfer: the caller back on hold in their Twilio queue, the interaction (its
        context, notes and wait target) queued to ``to_queue`` or offered to ``to_agent``."""
        return await self._control.transfer(interaction_id, agent_id, to_queue=to_queue, to_agent=to_agent,
                                            note=note)

    async def record(self, interaction_id: str, agent_id: str, action: str) -> None:
        """The desk's recording of the caller's call: ``start``, ``pause``, ``resume``, ``stop``."""
        await self._control.record(interaction_id, agent_id, action)

    # ----- hold, consult, supervision and click-to-dial (the call's conference) ------------

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        """The caller on hold in the conference, hearing our hold audio; resume takes them off hold."""
        await self._conference.hold(interaction_id, agent_id, on=on)

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        """The agent talks to ``to_agent`` (dialled into the conference) while the caller holds."""
        await self._conference.consult(interaction_id, agent_id, to_agent)

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        """Back to the caller: the consulted agent's leg ends, the caller comes off hold."""
        await self._conference.cancel_consult(interaction_id, agent_id)

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        """The consulting agent leaves; the caller stays with the consulted agent (a warm transfer)."""
        await self._conference.complete_consult(interaction_id, agent_id)

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        """Listen to, whisper to or barge into an agent's call from the supervisor's Twilio phone."""
        await self._conference.monitor(supervisor_id, agent_id, mode)

    def dials_for(self, agent_id: str) -> bool:
        return self._dialer.dials_for(agent_id)

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        """Click-to-dial: the agent's phone rings first, then the customer is dialled in."""
        return await self._dialer.dial(agent_id, number, queue=queue)
