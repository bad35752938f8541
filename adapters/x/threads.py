"""Which interaction an X event continues, and the ``InboundMessage`` it becomes (pure).

Every message's ``channel_ref`` is ``x-tweet:<tweet id>`` or ``x-dm:<DM event id>``; our own
replies get the same form (``SendResult.message_ref``), so a customer's tweet that answers our
reply finds the interaction through ``thread_refs`` alone. Since a conversation id *is* its root
tweet's id, ``x-tweet:<conversation id>`` threads onto the interaction holding the root.

Two lookups the message refs cannot do are kept as interaction refs and resolved by the adapter
before delivery (``thread_lookup``): a conversation whose root we never stored (a customer
answering someone else's tweet, mentioning us twice) by ``x_conversation``, and a customer's DMs
by ``x_dm_with`` (a one-to-one conversation is fixed by who the other participant is). The found
interaction's ``x_first`` (its first message's ref) then goes into ``thread_refs``, so ``deliver``
still makes the one decision, open interactions only.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.channel import InboundMessage
from adapters.x.events import Kind, XEvent
from cti.domain import Channel, IdentityKind, IdentityLevel, InboundIdentity
from cti.identities import normalise

TWEET_REF = "x-tweet:"
DM_REF = "x-dm:"

REF_KIND = "x_kind"  # "mention" | "dm": how replies go out
REF_USER = "x_user_id"  # the customer's X user id: the DM recipient
REF_HANDLE = "x_handle"
REF_CONVERSATION = "x_conversation"
REF_DM_WITH = "x_dm_with"
REF_FIRST = "x_first"

EMPTY_BODY = "(no text: the message has only an attachment)"


def tweet_ref(tweet_id: str) -> str:
    return TWEET_REF + tweet_id


def dm_ref(event_id: str) -> str:
    return DM_REF + event_id


def message_ref(event: XEvent) -> str:
    return tweet_ref(event.id) if event.kind is Kind.MENTION else dm_ref(event.id)


def is_own(event: XEvent, account_user_id: str) -> bool:
    """Our own tweets and DMs come back through the webhook too; answering them would loop."""
    return event.author_id == account_user_id


def thread_lookup(event: XEvent) -> tuple[str, str] | None:
    """The interaction ref (key, value) of the open interaction this event may continue."""
    if event.kind is Kind.DM:
        return REF_DM_WITH, event.author_id
    if event.conversation_id:
        return REF_CONVERSATION, event.conversation_id
    return None


def _body(text: str, max_chars: int) -> str:
    body = text.strip()
    if not body:
        return EMPTY_BODY
    # A DM may hold 10,000 characters; the core stores at most ``max_chars``: keep the start.
    return body if len(body) <= max_chars else body[: max_chars - 1] + "…"


def _refs(event: XEvent) -> dict[str, str]:
    refs = {REF_KIND: event.kind.value, REF_USER: event.author_id, REF_FIRST: message_ref(event)}
    if event.handle:
        refs[REF_HANDLE] = event.handle
    if event.kind is Kind.DM:
        refs[REF_DM_WITH] = event.author_id
    elif event.conversation_id:
        refs[REF_CONVERSATION] = event.conversation_id
    return refs


def _context(event: XEvent) -> dict[str, str]:
    context = {"x.kind": event.kind.value, "x.user_id": event.author_id}
    if event.handle:
        context["x.handle"] = "@" + event.handle
    if event.name:
        context["x.name"] = event.name
    if event.kind is Kind.MENTION and event.handle:
        context["x.url"] = f"https://x.com/{event.handle}/status/{event.id}"
    return context


def to_inbound(event: XEvent, *, queue: str | None, max_chars: int,
               continues: Mapping[str, str] | None = None) -> InboundMessage:
    """``continues``: the interaction refs of the open interaction ``thread_lookup`` found."""
    threads: list[str] = []
    if event.replied_to:
        threads.append(tweet_ref(event.replied_to))
    if event.conversation_id and event.conversation_id != event.id:
        threads.append(tweet_ref(event.conversation_id))
    if continues and continues.get(REF_FIRST):
        threads.append(continues[REF_FIRST])
    display = event.name or (f"@{event.handle}" if event.handle else None)
    return InboundMessage(
        # X's user id, from a signed webhook or X's own API: verified.
        channel=Channel.X, identities=[InboundIdentity(normalise(IdentityKind.X, event.author_id),
                                                       IdentityLevel.VERIFIED, "x-signed")],
        body=_body(event.text, max_chars), message_ref=message_ref(event), display_name=display,
        thread_refs=threads, interaction_refs=_refs(event), context=_context(event), queue=queue,
        continue_open_within=None)  # an open mention must not swallow a DM, nor the reverse
