"""Threading a mail (``thread_of``), and where it looks interactions up: the store one mail at a
time, or a batch's lookups.

``thread_of`` asks a ``Finder`` the same two questions either way: which interaction
holds a message with one of these refs (``by_message_refs``), and which carries this reference
(``by_ref``). ``BatchFinder`` answers a batch's header and acknowledgement lookups from a few
``IN (...)`` queries made up front, and puts what the batch itself stores on top: a mail that
answers an earlier one of the same batch finds that one's interaction, as it would have had the
earlier one been stored first. Subject tags, rarely needed, are read from the store as asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from adapters.email.mime import ParsedMail
from adapters.email.threads import tags_in, thread_refs
from cti.domain import Channel, Identity, IdentityLevel, Interaction
from cti.lifecycle import OPEN_STATES
from cti.ports import ContextStore

REF_TAG = "email_tag"  # interaction ref: the reference tag in our subjects
REF_ROOT = "email_root"  # interaction ref: the Message-ID of the mail that started it
REF_ACK = "email_ack"  # interaction ref: the Message-ID of our acknowledgement
ACK_REFS_EACH = 5  # as many In-Reply-To and report refs tried against acknowledgements


def ack_candidates(parsed: ParsedMail) -> list[str]:
    """The refs that may name our acknowledgement, in the order they are tried."""
    return [*parsed.in_reply_to, *parsed.report_refs][:ACK_REFS_EACH]


class Finder(Protocol):
    async def by_message_refs(self, refs: Sequence[str]) -> Interaction | None: ...
    async def by_ref(self, key: str, value: str) -> Interaction | None: ...


class StoreFinder:
    def __init__(self, context: ContextStore) -> None:
        self._context = context

    async def by_message_refs(self, refs: Sequence[str]) -> Interaction | None:
        return await self._context.find_interaction_by_message_ref(refs)

    async def by_ref(self, key: str, value: str) -> Interaction | None:
        return await self._context.find_interaction_by_ref(key, value)


class BatchFinder:
    """The lookups of one batch, read at once (``load``); ``add`` records what the batch stores."""

    def __init__(self, context: ContextStore, by_refs: Mapping[tuple[str, ...], Interaction | None],
                 by_ack: Mapping[str, Interaction], ack_key: str) -> None:
        self._context = context
        self._by_refs = by_refs
        self._by_ack = by_ack
        self._ack_key = ack_key
        self._here: dict[str, Interaction] = {}  # Message-ID of a mail of the batch -> its interaction

    @classmethod
    async def load(cls, context: ContextStore, mails: Sequence[ParsedMail], *, ack_key: str) -> BatchFinder:
        groups = list(dict.fromkeys(
            [(m.message_id,) for m in mails]
            + [tuple(thread_refs(m.in_reply_to, m.references, m.report_refs)) for m in mails]))
        groups = [g for g in groups if g]
        found = await context.find_interactions_by_message_refs(groups) if groups else []
        acks = [ref for m in mails for ref in ack_candidates(m)]
        by_ack = await context.find_interactions_by_ref(ack_key, acks) if acks else {}
        return cls(context, dict(zip(groups, found, strict=True)), by_ack, ack_key)

    def of_batch(self, message_id: str) -> Interaction | None:
        """The interaction a mail of this batch with this Message-ID went to, if one did."""
        return self._here.get(message_id)

    def add(self, message_id: str, interaction: Interaction) -> None:
        self._here[message_id] = interaction

    async def by_message_refs(self, refs: Sequence[str]) -> Interaction | None:
        # Newer than anything stored before: the latest of the batch's own mails named wins.
        here = [self._here[r] for r in refs if r in self._here]
        if here:
            return here[-1] if len(here) == 1 else self._latest(refs)
        key = tuple(refs)
        if key in self._by_refs:
            return self._by_refs[key]
        return await self._context.find_interaction_by_message_ref(refs)

    async def by_ref(self, key: str, value: str) -> Interaction | None:
        if key == self._ack_key:
            return self._by_ack.get(value)
        return await self._context.find_interaction_by_ref(key, value)

    def _latest(self, refs: Sequence[str]) -> Interaction:
        order = list(self._here)
        newest = max((r for r in refs if r in self._here), key=order.index)
        return self._here[newest]


async def thread_of(parsed: ParsedMail, identity: Identity, level: IdentityLevel, finder: Finder,
                    context: ContextStore) -> tuple[list[str], Interaction | None, str | None]:
    """``(thread_refs, open interaction it continues or None, closed one it refers to)``.

    Headers first (any of our or the customer's earlier Message-IDs), then a reply to our
    acknowledgement, then the subject tag, which only threads a customer's mail onto that
    customer's own interaction (a tag is short enough to guess).
    """
    refs = list(thread_refs(parsed.in_reply_to, parsed.references, parsed.report_refs))
    follows: str | None = None
    if refs:
        found = await finder.by_message_refs(refs)
        if found is not None and found.channel is Channel.EMAIL:
            if found.state in OPEN_STATES:
                return refs, found, None
            follows = found.id
    for ref in ack_candidates(parsed):
        found = await finder.by_ref(REF_ACK, ref)
        if found is not None and found.channel is Channel.EMAIL:
            if found.state in OPEN_STATES and REF_ROOT in found.channel_refs:
                return [found.channel_refs[REF_ROOT]], found, None
            follows = follows or found.id
    for tag in tags_in(parsed.subject)[:3]:
        found = await finder.by_ref(REF_TAG, tag)
        if found is None or found.channel is not Channel.EMAIL:
            continue
        if found.state in OPEN_STATES and REF_ROOT in found.channel_refs:
            # A claimed sender (DMARC failed) is nobody's: the tag alone threads nothing.
            if level is not IdentityLevel.CLAIMED and await _same_customer(context, identity, found):
                return [found.channel_refs[REF_ROOT]], found, None
        elif found.state not in OPEN_STATES:
            follows = follows or found.id
    return refs, None, follows


async def _same_customer(context: ContextStore, identity: Identity, interaction: Interaction) -> bool:
    customer = await context.find_customer(identity)
    if customer is None:
        return False
    # The merge tree's open interactions: right even when the customer was merged since.
    mine = await context.open_interactions(customer.id, Channel.EMAIL)
    return any(i.id == interaction.id for i in mine)
