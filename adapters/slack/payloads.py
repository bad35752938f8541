"""Events API payloads: what Slack posted, and whether it is a customer's message (pure).

Slack posts one JSON envelope per request: ``url_verification`` (answer the challenge),
``event_callback`` (one event, with an ``event_id`` that stays the same across retries), and a
few others (``app_rate_limited``) that need only an acknowledgement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.channel import InboundMessage
from adapters.slack.config import SlackConfig
from adapters.slack.text import bounded, plain_text
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity

# Refs stored on a new interaction: where its replies go, and which Slack thread it is.
REF_CHANNEL = "slack_channel"
REF_THREAD_TS = "slack_thread_ts"
REF_THREAD = "slack_thread"  # "{channel}:{root ts}", looked up to continue the thread
REF_FIRST_MESSAGE = "slack_first_message"  # message ref of the message that started it

# Subtypes that are still a person writing: a thread reply also sent to the channel, a file
# with its comment. Every other subtype (edits, deletions, joins, topic changes, bot_message…)
# is not a new customer message.
CUSTOMER_SUBTYPES = frozenset({"thread_broadcast", "file_share"})
MAX_FILES = 10

_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
_ID = re.compile(r"^[A-Z0-9]{2,40}$")
_MAX_EVENT_ID = 100
_MAX_CHALLENGE = 1000


class PayloadError(ValueError):
    """The body is not an Events API envelope we can read."""


@dataclass(frozen=True, slots=True)
class UrlVerification:
    challenge: str


@dataclass(frozen=True, slots=True)
class EventCallback:
    event_id: str
    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OtherEnvelope:
    type: str


Envelope = UrlVerification | EventCallback | OtherEnvelope


def parse_envelope(body: bytes) -> Envelope:
    try:
        data = json.loads(body)
    except RecursionError as exc:  # a signature proves the sender, not a sane body
        raise PayloadError("the body is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    kind = data.get("type")
    if kind == "url_verification":
        challenge = data.get("challenge")
        if not isinstance(challenge, str) or not 0 < len(challenge) <= _MAX_CHALLENGE:
            raise PayloadError("url_verification without a challenge")
        return UrlVerification(challenge)
    if kind == "event_callback":
        event_id, event = data.get("event_id"), data.get("event")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= _MAX_EVENT_ID:
            raise PayloadError("event_callback without an event_id")
        if not isinstance(event, dict):
            raise PayloadError("event_callback without an event")
        return EventCallback(event_id=event_id, event=event)
    return OtherEnvelope(str(kind)[:50])


def retry_of(headers: Mapping[str, str]) -> tuple[int, str] | None:
    """``(X-Slack-Retry-Num, X-Slack-Retry-Reason)`` when Slack says this is a redelivery."""
    raw = headers.get("X-Slack-Retry-Num")
    if raw is None:
        return None
    try:
        num = int(raw)
    except ValueError:
        num = -1
    return num, headers.get("X-Slack-Retry-Reason", "unknown")[:50]


def message_ref(channel: str, ts: str) -> str:
    """A Slack message's id: its channel and timestamp (``ts`` is unique within a channel)."""
    return f"slack:{channel}:{ts}"


def thread_key(channel: str, root_ts: str) -> str:
    return f"{channel}:{root_ts}"


@dataclass(frozen=True, slots=True)
class CustomerPost:
    """A message a customer wrote in a watched channel."""

    event_id: str
    channel: str
    user: str
    ts: str
    thread_ts: str | None  # the root of the thread it was written in; None: top level
    text: str  # plain text, with file links appended
    team: str | None = None  # the author's workspace

    @property
    def root_ts(self) -> str:
        """Where replies go: its thread, or a new thread under this message."""
        return self.thread_ts or self.ts

    @property
    def message_ref(self) -> str:
        return message_ref(self.channel, self.ts)

    @property
    def thread_key(self) -> str:
        return thread_key(self.channel, self.root_ts)


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


def classify(callback: EventCallback, cfg: SlackConfig) -> CustomerPost | Ignored:
    """A customer's message in a watched channel, or why this event is not one."""
    event = callback.event
    if event.get("type") != "message":
        return Ignored(f"event {str(event.get('type'))[:40]}")
    channel = event.get("channel")
    if not isinstance(channel, str) or channel not in cfg.channels:
        return Ignored("channel not watched")
    subtype = event.get("subtype")
    if subtype is not None and subtype not in CUSTOMER_SUBTYPES:
        return Ignored(f"subtype {str(subtype)[:40]}")
    if event.get("hidden") or event.get("bot_id") or event.get("bot_profile"):
        return Ignored("bot")  # our own replies come back like this too
    user = event.get("user")
    if not isinstance(user, str) or not _ID.match(user):
        return Ignored("no user")
    if user == cfg.bot_user_id:
        return Ignored("our bot")
    team = event.get("user_team") or event.get("team")
    team = team if isinstance(team, str) else None
    if cfg.team_id is not None and team == cfg.team_id:
        return Ignored("our own workspace")
    ts, thread_ts = event.get("ts"), event.get("thread_ts")
    if not isinstance(ts, str) or not _TS.match(ts):
        return Ignored("bad ts")
    if thread_ts is not None and (not isinstance(thread_ts, str) or not _TS.match(thread_ts)):
        return Ignored("bad thread_ts")
    text = _body(event)
    if not text.strip():
        return Ignored("empty")
    return CustomerPost(event_id=callback.event_id, channel=channel, user=user, ts=ts,
                        thread_ts=thread_ts if thread_ts != ts else None, text=text, team=team)


def _body(event: Mapping[str, Any]) -> str:
    raw = event.get("text")
    lines = [plain_text(raw)] if isinstance(raw, str) and raw.strip() else []
    files = event.get("files")
    for f in (files if isinstance(files, list) else [])[:MAX_FILES]:
        if not isinstance(f, dict):
            continue
        name = f.get("title") or f.get("name") or "file"
        link = f.get("permalink") or f.get("url_private") or ""
        lines.append(f"[file] {name}: {link}".rstrip(": "))
    return "\n".join(lines)


def inbound_message(post: CustomerPost, cfg: SlackConfig, *, display_name: str | None,
                    thread_refs: Sequence[str], max_chars: int) -> InboundMessage:
    watched = cfg.channels.get(post.channel)
    context = {REF_CHANNEL: post.channel}
    if watched is not None and watched.name:
        context["slack_channel_name"] = watched.name
    if post.team:
        context["slack_team"] = post.team
    return InboundMessage(
        channel=Channel.SLACK,
        # Slack signed the event that names this user: verified.
        identities=[InboundIdentity(Identity(IdentityKind.SLACK, post.user), IdentityLevel.VERIFIED,
                                    "slack-signed")],
        body=bounded(post.text, max_chars),
        message_ref=post.message_ref,
        display_name=display_name,
        thread_refs=tuple(thread_refs),
        interaction_refs={REF_CHANNEL: post.channel, REF_THREAD_TS: post.root_ts,
                          REF_THREAD: post.thread_key, REF_FIRST_MESSAGE: post.message_ref},
        context=context,
        queue=cfg.queue_for(post.channel),
    )
