"""Where threading looks interactions up: the store one mail at a time, or a batch's lookups.

``InboundMail._thread`` asks a ``Finder`` the same two questions either way: which interaction
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
from adapters.email.threads import thread_refs
from cti.domain import Interaction
from cti.ports import ContextStore

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
