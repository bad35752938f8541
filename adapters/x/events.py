"""X payloads, as documented, turned into one plain ``XEvent`` each (pure).

Two shapes arrive:

- the v2 API we poll (``GET /2/users/:id/mentions``, ``GET /2/dm_events``): tweets carry
  ``conversation_id`` and ``referenced_tweets``; DM events carry ``dm_conversation_id``;
- the Account Activity webhook, which still posts v1.1 objects: ``tweet_create_events`` (no
  conversation id, only ``in_reply_to_status_id_str``) and ``direct_message_events``
  (``message_create``), with the users in a side map.

Anything malformed is skipped, never raised: one odd event must not lose the rest of a delivery.
"""

from __future__ import annotations

import enum
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Kind(enum.StrEnum):
    MENTION = "mention"  # a public tweet that mentions or answers the account
    DM = "dm"


@dataclass(frozen=True, slots=True)
class XEvent:
    kind: Kind
    id: str  # the tweet id or the DM event id
    author_id: str
    text: str
    handle: str | None = None  # the author's @username, without the @
    name: str | None = None
    created_at: float | None = None  # epoch seconds
    conversation_id: str | None = None  # tweets from v2: the id of the conversation's root tweet
    replied_to: str | None = None  # tweets: the tweet this one answers
    dm_conversation_id: str | None = None


def _id(value: Any) -> str | None:
    """X ids are decimal strings (v1.1 also sends lossy numbers: only ``*_str`` is used)."""
    return value if isinstance(value, str) and value.isdigit() else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _iso(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(value).timestamp() if isinstance(value, str) else None
    except ValueError:
        return None


def _millis(value: Any) -> float | None:
    try:
        return int(value) / 1000.0 if isinstance(value, str | int) else None
    except ValueError:
        return None


def _dicts(value: Any) -> Iterable[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _tweet_text(raw: str) -> str:
    # Tweet text comes with &, < and > HTML-escaped; agents should read what the customer typed.
    return html.unescape(raw)


def id_key(event_id: str) -> int:
    """Snowflake ids grow with time: sorting by this is sorting oldest first."""
    return int(event_id) if event_id.isdigit() else 0


# ----- v2 API (polling) ---------------------------------------------------------------------


def _v2_users(payload: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    includes = payload.get("includes")
    users = includes.get("users") if isinstance(includes, Mapping) else None
    return {u["id"]: u for u in _dicts(users) if _id(u.get("id"))}


def mentions_from_v2(payload: Mapping[str, Any]) -> list[XEvent]:
    """A page of ``GET /2/users/:id/mentions`` (expansions=author_id)."""
    users = _v2_users(payload)
    out: list[XEvent] = []
    for tweet in _dicts(payload.get("data")):
        tweet_id, author = _id(tweet.get("id")), _id(tweet.get("author_id"))
        text = _str(tweet.get("text"))
        if tweet_id is None or author is None or text is None:
            continue
        refs = {_str(r.get("type")): _id(r.get("id")) for r in _dicts(tweet.get("referenced_tweets"))}
        if "retweeted" in refs:
            continue  # a retweet repeats someone else's words: nobody is asking us anything
        user = users.get(author, {})
        out.append(XEvent(
            kind=Kind.MENTION, id=tweet_id, author_id=author, text=_tweet_text(text),
            handle=_str(user.get("username")), name=_str(user.get("name")),
            created_at=_iso(tweet.get("created_at")), conversation_id=_id(tweet.get("conversation_id")),
            replied_to=refs.get("replied_to")))
    return out


def dms_from_v2(payload: Mapping[str, Any]) -> list[XEvent]:
    """A page of ``GET /2/dm_events`` (event_types=MessageCreate, expansions=sender_id)."""
    users = _v2_users(payload)
    out: list[XEvent] = []
    for event in _dicts(payload.get("data")):
        if event.get("event_type", "MessageCreate") != "MessageCreate":
            continue
        event_id, sender = _id(event.get("id")), _id(event.get("sender_id"))
        if event_id is None or sender is None:
            continue
        user = users.get(sender, {})
        out.append(XEvent(
            kind=Kind.DM, id=event_id, author_id=sender, text=_str(event.get("text")) or "",
            handle=_str(user.get("username")), name=_str(user.get("name")),
            created_at=_iso(event.get("created_at")),
            dm_conversation_id=_str(event.get("dm_conversation_id"))))
    return out


# ----- Account Activity webhook (v1.1 objects) ----------------------------------------------


def _v11_text(tweet: Mapping[str, Any]) -> str | None:
    extended = tweet.get("extended_tweet")
    if isinstance(extended, Mapping) and isinstance(extended.get("full_text"), str):
        return str(extended["full_text"])  # a long tweet arrives truncated, in full only here
    return _str(tweet.get("full_text")) or _str(tweet.get("text"))


def _addresses(tweet: Mapping[str, Any], account_id: str) -> bool:
    """Whether the tweet speaks to the account: mentions it or answers one of its tweets."""
    if _id(tweet.get("in_reply_to_user_id_str")) == account_id:
        return True
    entities = tweet.get("entities")
    mentions = entities.get("user_mentions") if isinstance(entities, Mapping) else None
    return any(_id(m.get("id_str")) == account_id for m in _dicts(mentions))


def _activity_tweet(tweet: Mapping[str, Any], account_id: str) -> XEvent | None:
    user = tweet.get("user")
    if not isinstance(user, Mapping) or "retweeted_status" in tweet:
        return None
    tweet_id, author, text = _id(tweet.get("id_str")), _id(user.get("id_str")), _v11_text(tweet)
    if tweet_id is None or author is None or text is None or not _addresses(tweet, account_id):
        return None
    return XEvent(
        kind=Kind.MENTION, id=tweet_id, author_id=author, text=_tweet_text(text),
        handle=_str(user.get("screen_name")), name=_str(user.get("name")),
        created_at=_millis(tweet.get("timestamp_ms")),
        replied_to=_id(tweet.get("in_reply_to_status_id_str")))


def _activity_dm(event: Mapping[str, Any], users: Mapping[str, Any]) -> XEvent | None:
    create = event.get("message_create")
    if event.get("type") != "message_create" or not isinstance(create, Mapping):
        return None
    event_id, sender = _id(event.get("id")), _id(create.get("sender_id"))
    data = create.get("message_data")
    text = _str(data.get("text")) if isinstance(data, Mapping) else None
    if event_id is None or sender is None:
        return None
    user = users.get(sender)
    user = user if isinstance(user, Mapping) else {}
    return XEvent(
        kind=Kind.DM, id=event_id, author_id=sender, text=text or "",
        handle=_str(user.get("screen_name")), name=_str(user.get("name")),
        created_at=_millis(event.get("created_timestamp")))


def from_activity(payload: Mapping[str, Any], account_id: str) -> list[XEvent]:
    """One Account Activity delivery; events of another subscribed account are not ours."""
    if payload.get("for_user_id") not in (None, account_id):
        return []
    out: list[XEvent] = []
    for tweet in _dicts(payload.get("tweet_create_events")):
        if (found := _activity_tweet(tweet, account_id)) is not None:
            out.append(found)
    users = payload.get("users")
    for dm in _dicts(payload.get("direct_message_events")):
        if (event := _activity_dm(dm, users if isinstance(users, Mapping) else {})) is not None:
            out.append(event)
    return out


def oldest_first(events: Sequence[XEvent]) -> list[XEvent]:
    return sorted(events, key=lambda e: id_key(e.id))
