"""Threading decisions for mail (pure): message ids, reference tags, subjects, reply headers.

A message continues a thread by its ``In-Reply-To`` and ``References`` (ids of earlier messages,
ours included: every reply we send records its Message-ID), and failing those by the reference
tag ``[#ABCD2345]`` that our acknowledgement and replies put in the subject. The tag of a new
interaction is derived from the Message-ID of its first mail, so it is known before the
interaction exists and a redelivered first mail gets the same one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence

MAX_ID = 250  # longer "Message-IDs" are not ids anyone will quote back
MAX_THREAD_REFS = 50
MAX_REFERENCES_OUT = 20  # RFC 5322 §3.6.4: the first and the most recent ones suffice
SYNTHETIC_DOMAIN = "no-message-id.invalid"
TAG_LENGTH = 8

_ID_IN_BRACKETS = re.compile(r"<([^<>\s]{1,250})>")
_BARE_ID = re.compile(r"^[^<>\s\"]{1,250}$")
_TAG = re.compile(r"\[#([A-Z2-7]{8})\]")
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|rv|antw|r)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def message_ids(value: str | None, *, limit: int = MAX_THREAD_REFS) -> list[str]:
    """The ids in a ``References``/``In-Reply-To`` value, without angle brackets, in order."""
    if not value:
        return []
    found = _ID_IN_BRACKETS.findall(value)
    if not found:
        bare = value.strip()
        found = [bare] if _BARE_ID.match(bare) else []
    return list(dict.fromkeys(found))[-limit:]


def message_id(value: str | None) -> str | None:
    ids = message_ids(value, limit=1)
    return ids[0] if ids else None


def synthetic_id(raw: bytes) -> str:
    """A stand-in for a missing Message-ID: the same bytes delivered twice are stored once."""
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@{SYNTHETIC_DOMAIN}"


def is_synthetic(ref: str) -> bool:
    return ref.endswith("@" + SYNTHETIC_DOMAIN)


def thread_refs(in_reply_to: Sequence[str], references: Sequence[str],
                extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Refs to look the thread up by, the most telling first: In-Reply-To, then References
    newest first, then ids found elsewhere (the original message quoted in a bounce)."""
    ordered = [*in_reply_to, *reversed(references), *extra]
    return tuple(dict.fromkeys(r for r in ordered if r and not is_synthetic(r)))[:MAX_THREAD_REFS]


def make_tag(seed: str) -> str:
    """Eight characters of base32 (40 bits) from the first message's id."""
    digest = hashlib.sha256(seed.encode("utf-8", "replace")).digest()
    return base64.b32encode(digest[:5]).decode("ascii")[:TAG_LENGTH]


def tags_in(subject: str) -> list[str]:
    """Reference tags in a subject, the last (most recently added) first."""
    return list(dict.fromkeys(reversed(_TAG.findall(subject))))


def clean_subject(subject: str, *, limit: int = 300) -> str:
    """The subject without reply/forward prefixes and reference tags."""
    text = _TAG.sub(" ", subject)
    text = _PREFIX.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:limit] or "(no subject)"


def reply_subject(subject: str | None, tag: str | None) -> str:
    base = f"Re: {clean_subject(subject or '')}"
    return f"{base} [#{tag}]" if tag else base


def reply_threading(refs: Iterable[str], in_reply_to: str | None) -> tuple[str | None, list[str]]:
    """``(In-Reply-To, References)`` for a message answering ``in_reply_to`` in a thread whose
    messages' ids are ``refs``, oldest first. Synthetic ids are ours alone and stay out."""
    chain = [r for r in dict.fromkeys(refs) if r and not is_synthetic(r)]
    if in_reply_to is not None and is_synthetic(in_reply_to):
        in_reply_to = None
    if in_reply_to is not None and in_reply_to in chain:
        # What they answered comes last, as their client would have put it.
        chain = [r for r in chain if r != in_reply_to] + [in_reply_to]
    if len(chain) > MAX_REFERENCES_OUT:
        chain = chain[:1] + chain[-(MAX_REFERENCES_OUT - 1):]
    return in_reply_to, chain


def bracket(ref: str) -> str:
    return f"<{ref}>"
