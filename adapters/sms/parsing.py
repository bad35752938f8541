"""What Twilio posts to us, read into plain values (pure: no I/O, no clock).

The incoming-message webhook and the status callback are form-encoded; these functions take
the form as a mapping of field to first value and never raise on a missing or odd field other
than the sender, which must be a phone number to be a customer at all.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cti.errors import InvalidInput
from cti.identities import normalise_phone

MAX_MEDIA = 10  # Twilio delivers at most ten media items with one MMS
EMPTY_BODY = "[empty message]"

# Twilio's default keywords on long codes and toll-free numbers (its "SMS STOP filtering"): a
# message whose whole body is one of them, in any case, changes the number's consent. Matching
# exactly what Twilio matches keeps our state and Twilio's block list the same.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})

# Twilio's status callback: only outcomes the agent must see are published; "queued", "sent"
# and the like are progress the dispatcher already reported as "queued".
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed"})
UNSUBSCRIBED = "21610"  # Twilio: "Attempt to send to unsubscribed recipient"


class Consent(enum.StrEnum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    content_type: str | None


@dataclass(frozen=True, slots=True)
class InboundSms:
    message_sid: str
    from_phone: str  # E.164: the customer
    to_number: str | None  # E.164 when it is a phone number: which of our numbers was written to
    text: str
    media: Sequence[Media]
    opt_out_type: str | None  # set by Twilio's Advanced Opt-Out: STOP, START or HELP
    location: Mapping[str, str]  # FromCity, FromState, FromCountry when Twilio knows them


@dataclass(frozen=True, slots=True)
class StatusReport:
    message_sid: str
    status: str  # one of FINAL_STATUSES
    error_code: str | None


def parse_inbound(form: Mapping[str, str], *, region: str | None = None,
                  default_country_code: str | None = None) -> InboundSms:
    sid = form.get("MessageSid", "").strip()
    if not sid:
        raise InvalidInput("missing-field", "MessageSid is required", field="MessageSid")
    raw_to = form.get("To", "")
    try:
        to_number: str | None = normalise_phone(raw_to, region=region,
                                                default_country_code=default_country_code)
    except InvalidInput:
        to_number = None  # a short code or channel address: no per-number queue
    return InboundSms(
        message_sid=sid,
        from_phone=normalise_phone(form.get("From", ""), region=region,
                                   default_country_code=default_country_code),
        to_number=to_number,
        text=form.get("Body", ""),
        media=parse_media(form),
        opt_out_type=(form.get("OptOutType") or "").strip().upper() or None,
        location={key: form[key].strip() for key in ("FromCity", "FromState", "FromCountry")
                  if form.get(key, "").strip()},
    )


def parse_media(form: Mapping[str, str]) -> list[Media]:
    try:
        count = int(form.get("NumMedia", "0"))
    except ValueError:
        count = 0
    media: list[Media] = []
    for n in range(max(0, min(count, MAX_MEDIA))):
        url = form.get(f"MediaUrl{n}", "").strip()
        # Only web links: a body line is shown to agents as a link.
        if not url.lower().startswith(("https://", "http://")):
            continue
        media.append(Media(url=url, content_type=form.get(f"MediaContentType{n}", "").strip() or None))
    return media


def consent_change(text: str, opt_out_type: str | None = None) -> Consent | None:
    """Whether the message opts the number out or back in; None for any other message.

    Twilio's own verdict (``OptOutType``, sent when a Messaging Service has Advanced Opt-Out
    with its own keywords) wins over our keyword list.
    """
    if opt_out_type == "STOP":
        return Consent.OPT_OUT
    if opt_out_type == "START":
        return Consent.OPT_IN
    if opt_out_type:  # HELP, or a type Twilio adds later: not a consent change
        return None
    word = text.strip().upper()
    if word in OPT_OUT_WORDS:
        return Consent.OPT_OUT
    if word in OPT_IN_WORDS:
        return Consent.OPT_IN
    return None


def message_body(text: str, media: Sequence[Media], *, limit: int) -> str:
    """The stored message: the text, then one line per media link, within ``limit`` characters.

    The links live in the body because it is what the desktop, the timeline and every later
    screen pop show; an interaction's context is set once, when it starts, so the pictures of a
    continued conversation would be lost there. Text is shortened before a link is.
    """
    links = "\n".join(f"[{m.content_type or 'media'}] {m.url}" for m in media)
    text = text.strip()
    if not links:
        return (text or EMPTY_BODY)[:limit]
    if not text:
        return links[:limit]
    room = limit - len(links) - 1
    if room <= 1:
        return links[:limit]
    if len(text) > room:
        text = text[:room - 1] + "…"
    return f"{text}\n{links}"


def parse_status(form: Mapping[str, str]) -> StatusReport | None:
    """The outcome in a status callback, or None for progress the agent need not see."""
    sid = form.get("MessageSid", "").strip()
    status = form.get("MessageStatus", "").strip().lower()
    if not sid or status not in FINAL_STATUSES:
        return None
    code = form.get("ErrorCode", "").strip() or None
    return StatusReport(message_sid=sid, status=status, error_code=code)


def failure_why(code: str | int | None) -> str:
    """The ``why`` of a failed reply, as the desktop shows it: the provider's error code."""
    return f"twilio-{code}" if code not in (None, "") else "twilio-error"
