"""Surveys (CSAT): one question, a rating 1-5 and an optional comment, on every channel.

Pure parts: the rating and comment checks, the survey link's token, and the log entry.

The link's token
----------------
``<interaction id>.<expiry>.<signature>``, the signature an HMAC-SHA256 of the first two parts
under a key derived from the server's token secret (``survey_key``), so a link cannot be forged
or moved to another interaction, and it stops working at its expiry. It is **single-use** because
an answer is a log entry with the fixed key ``survey``: the log keeps one entry per key and
interaction, so the second answer through the same link (or any other way) writes nothing and is
refused. An interaction is rated once whatever the channel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, Protocol

from cti.domain import Interaction
from cti.errors import Forbidden, InvalidInput
from cti.eventlog import EntryKind, LogEntry
from cti.text import has_bad_line_chars

LINK_TTL = 7 * 86_400.0  # a survey link works for a week
MAX_COMMENT = 1000
SURVEY_KEY = "survey"  # the log entry's key: one answer per interaction


def survey_key(token_secret: str) -> bytes:
    """The survey links' own key: a leaked link key is never a log-in token key."""
    return hmac.new(token_secret.encode(), b"cti survey links v1", hashlib.sha256).digest()


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_link(key: bytes, interaction_id: str, *, expires_at: float) -> str:
    body = f"{interaction_id}.{int(expires_at)}"
    return f"{body}.{_mac(key, body)}"


def open_link(key: bytes, token: str, *, now: float) -> str:
    """The interaction id a token names; ``Forbidden`` when forged, tampered with or expired."""
    parts = token.rsplit(".", 2)
    if len(parts) != 3 or len(token) > 300:
        raise Forbidden("survey-link-invalid", "this survey link is not valid")
    interaction_id, expiry, signature = parts
    if not hmac.compare_digest(_mac(key, f"{interaction_id}.{expiry}"), signature):
        raise Forbidden("survey-link-invalid", "this survey link is not valid")
    if not expiry.isdigit() or int(expiry) <= now:
        raise Forbidden("survey-link-expired", "this survey link has expired")
    return interaction_id


def check_rating(value: Any) -> int:
    """1..5 as a whole number (a form sends it as text: "4" is 4; "four", 0, 6, 4.5 are refused)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidInput("bad-rating", "the rating is a whole number from 1 to 5", field="rating")
    return value


def check_comment(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("bad-comment", "the comment is text", field="comment")
    value = value.strip()
    if len(value) > MAX_COMMENT:
        raise InvalidInput("field-too-long", f"the comment exceeds {MAX_COMMENT} characters", field="comment")
    if has_bad_line_chars(value.replace("\n", " ").replace("\r", " ")):
        raise InvalidInput("bad-characters", "the comment holds control characters", field="comment")
    return value or None


def last_agent(log: Sequence[LogEntry], interaction: Interaction) -> str | None:
    """The agent of the last segment: who last accepted the interaction."""
    accepted = [e.agent_id for e in log if e.kind is EntryKind.ACCEPTED and e.agent_id]
    return accepted[-1] if accepted else interaction.agent_id


def answer_entry(interaction: Interaction, log: Sequence[LogEntry], *, rating: int, comment: str | None,
                 now: float, via: str) -> LogEntry:
    """The ``survey_answered`` entry (``via``: widget, link, dtmf, gather)."""
    agent = last_agent(log, interaction)
    return LogEntry(interaction_id=interaction.id, kind=EntryKind.SURVEY_ANSWERED, at=now,
                    channel=interaction.channel.value, queue=interaction.queue, agent_id=agent,
                    details={"rating": rating, "comment": comment, "agent": agent, "via": via},
                    key=SURVEY_KEY)


class SurveyAnswers(Protocol):
    """Where a channel hands a customer's answer (``cti.survey_service.SurveyService``)."""

    async def answer(self, interaction_id: str, rating: object, comment: object, *, via: str) -> LogEntry: ...
