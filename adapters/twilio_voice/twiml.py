"""The TwiML documents the voice channel answers with, and what Twilio posts, read (pure).

Every URL in them is absolute, on the configured ``public_url``: Twilio signs the URL it
requests, and we check the signature against that same URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, VoiceResponse

from adapters.twilio_voice.config import TwilioVoiceConfig

VOICE_PATH = "/webhooks/twilio/voice"  # the number's "A call comes in" webhook
ACCOUNT_PATH = "/webhooks/twilio/voice/account"  # Gather action: the account number
REASON_PATH = "/webhooks/twilio/voice/reason"  # Gather action: the reason; the caller is queued
WAIT_PATH = "/webhooks/twilio/voice/wait"  # Enqueue waitUrl: hold music
LEFT_PATH = "/webhooks/twilio/voice/left"  # Enqueue action: the caller left the Twilio queue
STATUS_PATH = "/webhooks/twilio/voice/status"  # the number's call status callback (the caller's leg)
AGENT_PATH = "/webhooks/twilio/voice/agent"  # status callback of the call to an agent
RECORDING_PATH = "/webhooks/twilio/voice/recording"  # recording status callback
SURVEY_PATH = "/webhooks/twilio/voice/survey"  # Gather action: the post-call rating
SURVEY_PROMPT = "Before you go: how did we do? Press 1 to 5, 5 being excellent."
SURVEY_THANKS = "Thank you for your answer. Goodbye."
CONFERENCE_PATH = "/webhooks/twilio/voice/conference"  # the call's conference: status callback
PARTICIPANT_PATH = "/webhooks/twilio/voice/participant"  # a participant we added: its call's progress
DONE_PATH = "/webhooks/twilio/voice/done"  # the caller's <Dial><Conference> action: they left it

# What the call's conference reports (``statusCallbackEvent`` of <Conference>).
CONFERENCE_EVENTS = "start end join leave hold"
# Twilio's CallStatus values that end a call, and those that end it unanswered.
ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
UNANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


def url(config: TwilioVoiceConfig, path: str, query: Mapping[str, str] | None = None) -> str:
    return config.public_url + path + ("?" + urlencode(dict(query)) if query else "")


def xml(response: VoiceResponse) -> str:
    return str(response.to_xml())


def ask_account(config: TwilioVoiceConfig) -> str:
    """First answer to a call: key the account number (ends with # or after the timeout)."""
    r = VoiceResponse()
    if config.account_digits <= 0:
        r.redirect(url(config, ACCOUNT_PATH), method="POST")
        return xml(r)
    gather = r.gather(input="dtmf", action=url(config, ACCOUNT_PATH), method="POST",
                      timeout=config.gather_timeout_seconds, finish_on_key="#",
                      num_digits=config.account_digits, action_on_empty_result=True)
    gather.say(config.account_prompt)
    return xml(r)


def ask_reason(config: TwilioVoiceConfig, account: str) -> str:
    """Second: one key for the reason; the account travels in the (signed) action URL."""
    r = VoiceResponse()
    action = url(config, REASON_PATH, {"account": account} if account else None)
    if not config.reasons:
        r.redirect(action, method="POST")
        return xml(r)
    gather = r.gather(input="dtmf", action=action, method="POST", timeout=config.gather_timeout_seconds,
                      num_digits=1, action_on_empty_result=True)
    menu = " ".join(f"For {reason}, press {key}." for key, reason in config.reasons.items())
    gather.say(f"{config.reason_prompt} {menu}")
    return xml(r)


def enqueue(config: TwilioVoiceConfig, queue_name: str, interaction_id: str) -> str:
    """The caller into the Twilio queue tied to the interaction, hearing hold music."""
    r = VoiceResponse()
    r.enqueue(name=queue_name, action=url(config, LEFT_PATH, {"interaction": interaction_id}),
              method="POST", wait_url=url(config, WAIT_PATH), wait_url_method="POST")
    return xml(r)


def hold_music(config: TwilioVoiceConfig) -> str:
    r = VoiceResponse()
    r.play(config.hold_music_url, loop=0)
    return xml(r)


def conference(config: TwilioVoiceConfig, interaction_id: str, *, action: str | None = None) -> str:
    """Into the call's own conference, named after the interaction (caller and agent alike, as
    Twilio Flex does): it starts when they enter and ends when either leaves (a consulted agent
    or a supervisor is added with the Participants API, without that power)."""
    r = VoiceResponse()
    dial = Dial(action=action, method="POST") if action else Dial()
    options: dict[str, str] = {}
    if config.record:
        # Conference recordings are taken once per conference, whichever leg asks first.
        options = {"record": "record-from-start",
                   "recording_status_callback": url(config, RECORDING_PATH, {"interaction": interaction_id}),
                   "recording_status_callback_method": "POST",
                   "recording_status_callback_event": "completed"}
    dial.conference(interaction_id, start_conference_on_enter=True, end_conference_on_exit=True,
                    beep=False, wait_url="", status_callback_event=CONFERENCE_EVENTS,
                    status_callback=url(config, CONFERENCE_PATH, {"interaction": interaction_id}),
                    status_callback_method="POST", **options)
    r.append(dial)
    return xml(r)


def ask_survey(config: TwilioVoiceConfig, interaction_id: str) -> str:
    """After the agent's leg ended: one key for the rating; no key, and the call ends."""
    r = VoiceResponse()
    gather = r.gather(input="dtmf", action=url(config, SURVEY_PATH, {"interaction": interaction_id}),
                      method="POST", timeout=config.gather_timeout_seconds, num_digits=1)
    gather.say(SURVEY_PROMPT)
    r.hangup()
    return xml(r)
def connect_agent(config: TwilioVoiceConfig, interaction_id: str) -> str:
    """The agent's call: once answered, into the call's conference (the caller is moved there)."""
    return conference(config, interaction_id)


def connect_caller(config: TwilioVoiceConfig, interaction_id: str) -> str:
    """The caller, out of their Twilio queue into the conference where the agent is; the
    ``<Dial>``'s action tells us when they leave it."""
    return conference(config, interaction_id,
                      action=url(config, DONE_PATH, {"interaction": interaction_id}))


def say_and_hang_up(text: str) -> str:
    r = VoiceResponse()
    r.say(text)
    r.hangup()
    return xml(r)


def hang_up() -> str:
    r = VoiceResponse()
    r.hangup()
    return xml(r)


def empty() -> str:
    return xml(VoiceResponse())


def digits(value: str, limit: int) -> str:
    """The keys pressed, digits only (the # that ended the input is not one), at most ``limit``."""
    return "".join(c for c in value if c.isdigit())[:limit]


@dataclass(frozen=True, slots=True)
class CallStatus:
    call_sid: str
    status: str  # Twilio's CallStatus, lower case


def call_status(form: Mapping[str, str]) -> CallStatus | None:
    sid = form.get("CallSid", "").strip()
    status = form.get("CallStatus", "").strip().lower()
    return CallStatus(sid, status) if sid and status else None


@dataclass(frozen=True, slots=True)
class ConferenceEvent:
    conference_sid: str
    event: str  # Twilio's StatusCallbackEvent: participant-join, participant-leave, conference-end…
    call_sid: str  # the participant's call ("" for conference-start and -end)
    sequence: str


def conference_event(form: Mapping[str, str]) -> ConferenceEvent | None:
    sid = form.get("ConferenceSid", "").strip()
    event = form.get("StatusCallbackEvent", "").strip().lower()
    if not sid or not event:
        return None
    return ConferenceEvent(sid, event, form.get("CallSid", "").strip(),
                           form.get("SequenceNumber", "").strip())
