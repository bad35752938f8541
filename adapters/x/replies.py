"""How an agent's reply goes out: a reply tweet or a direct message (pure).

A mention interaction is answered in public, in reply to the customer's latest tweet (so the
answer lands in the conversation they are reading); a DM interaction by a DM to the customer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.channel import SendRefused
from adapters.x.events import Kind
from adapters.x.threads import REF_FIRST, REF_HANDLE, REF_KIND, REF_USER, TWEET_REF
from cti.domain import Interaction, Message, MessageSender

TWEET_LIMIT = 280  # weighted characters (twitter-text v3)
DM_LIMIT = 10_000
URL_WEIGHT = 23  # every link is shortened to a t.co URL of this length
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Code points counted once; everything else (CJK, emoji…) counts twice (twitter-text v3 config).
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


@dataclass(frozen=True, slots=True)
class TweetReply:
    text: str
    in_reply_to: str


@dataclass(frozen=True, slots=True)
class DirectMessage:
    text: str
    participant_id: str


def weighted_length(text: str) -> int:
    """The length X counts against the 280 limit: links as 23, wide characters as 2."""
    normalised = unicodedata.normalize("NFC", text)
    links = _URL.findall(normalised)
    rest = _URL.sub("", normalised)
    weight = sum(1 if any(lo <= ord(c) <= hi for lo, hi in _LIGHT) else 2 for c in rest)
    return weight + URL_WEIGHT * len(links)


def _last_customer_tweet(messages: Sequence[Message]) -> str | None:
    for message in reversed(messages):
        ref = message.channel_ref or ""
        if message.sender is MessageSender.CUSTOMER and ref.startswith(TWEET_REF):
            return ref[len(TWEET_REF):]
    return None


def plan_reply(interaction: Interaction, messages: Sequence[Message], body: str, *,
               mention_in_reply: bool) -> TweetReply | DirectMessage:
    """Raises ``SendRefused`` when X would not carry it (too long, nothing to answer)."""
    refs = interaction.channel_refs
    text = body.strip()
    if refs.get(REF_KIND) == Kind.DM.value:
        user = refs.get(REF_USER)
        if not user:
            raise SendRefused("no-recipient", "this interaction has no X user to message")
        if len(text) > DM_LIMIT:
            raise SendRefused("too-long", f"a direct message holds at most {DM_LIMIT} characters")
        return DirectMessage(text=text, participant_id=user)
    target = _last_customer_tweet(messages)
    if target is None and refs.get(REF_FIRST, "").startswith(TWEET_REF):
        target = refs[REF_FIRST][len(TWEET_REF):]
    if target is None:
        raise SendRefused("no-tweet", "there is no customer tweet to reply to")
    handle = refs.get(REF_HANDLE)
    # The v2 reply carries its "Replying to @…" itself; the handle in the text is optional.
    if mention_in_reply and handle and not re.match(rf"@{re.escape(handle)}\b", text, re.IGNORECASE):
        text = f"@{handle} {text}"
    length = weighted_length(text)
    if length > TWEET_LIMIT:
        raise SendRefused("too-long", f"the reply counts {length} characters; a tweet holds {TWEET_LIMIT}")
    return TweetReply(text=text, in_reply_to=target)
