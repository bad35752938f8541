"""The persistence contract the core needs; ``context/`` implements it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cti.access import Reach
from cti.domain import (
    Channel,
    ChatSession,
    Customer,
    Identity,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
    Note,
)
from cti.service_level import Outcome


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a customer's unified history, across channels."""

    kind: str  # "interaction" (it started) | "message" | "note"
    id: str  # the interaction, message or note id
    at: float
    interaction_id: str
    channel: Channel
    customer_id: str  # the customer the entry was recorded for (differs after a merge)
    summary: str  # message/note body (bounded) or "<channel> <direction> <state>"
    sender: str | None = None  # customer | agent | system, for messages; author for notes
    state: str | None = None  # interaction state, for kind == "interaction"


@dataclass(frozen=True, slots=True)
class TimelinePage:
    entries: Sequence[TimelineEntry]
    next_cursor: str | None  # opaque; pass as ``before`` for the next (older) page


@dataclass(frozen=True, slots=True)
class MergeRecord:
    id: str
    survivor_id: str
    merged_id: str
    reason: str
    actor: str
    at: float
    undone_at: float | None = None


@dataclass(frozen=True, slots=True)
class PresentedIdentity:
    """An identity an inbound interaction presented, with how it was established. A claimed one
    is only this record: never a customer's identity (see ``context.customers``)."""

    id: str
    interaction_id: str
    identity: Identity
    level: IdentityLevel
    source: str
    display_name: str | None
    at: float
    outcome: str | None = None  # of a claim: "verified" (a code came back) or "linked" (by hand)
    outcome_by: str | None = None
    outcome_at: float | None = None


@dataclass(frozen=True, slots=True)
class MergeSuggestion:
    """Two customers an interaction's (not verified) identities tied together, for a person."""

    id: str
    customer_ids: tuple[str, str]  # as recorded: the interaction's customer, the other one
    identity: Identity  # what pointed at the other one
    reason: str
    at: float
    status: str  # open | confirmed | dismissed
    decided_by: str | None = None
    decided_at: float | None = None
    decided_reason: str | None = None


@dataclass(frozen=True, slots=True)
class InteractionView:
    """What an agent's screen pop shows of an interaction, read in one transaction."""

    customer: Customer
    timeline: TimelinePage
    messages: Sequence[Message]
    notes: Sequence[Note]
    presented: Sequence[PresentedIdentity]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: float
    actor: str
    action: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class CallControl(Protocol):
    """A telephony path's desktop controls (the Asterisk bridge, Twilio voice)."""

    def handles(self, interaction: Interaction) -> bool:
        """True when this path carries the interaction's live call."""
        ...

    async def hangup(self, interaction_id: str, agent_id: str) -> None: ...

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None, note: str | None) -> Interaction: ...


@runtime_checkable
class DeskCallControl(CallControl, Protocol):
    """A telephony path with the desk's other controls: hold, consult, click-to-dial and
    supervision (listen, whisper, barge), with the same checks and errors on every path."""

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None: ...
    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None: ...
    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None: ...
    async def complete_consult(self, interaction_id: str, agent_id: str) -> None: ...

    def dials_for(self, agent_id: str) -> bool:
        """True when click-to-dial for this agent goes through this path (their phone is on it)."""
        ...

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction: ...
    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None: ...


@runtime_checkable
class DeskButtons(Protocol):
    """What a telephony path tells the agent desk about its calls (the agent socket's hello): a
    call whose channel references hold one of ``call_refs`` is this path's, and gets the buttons
    ``desk_controls`` names ("hold", "record", "consult") beside hang-up and transfer, which
    every path has. The desk draws no button its path would refuse."""

    call_refs: tuple[str, ...]
    desk_controls: tuple[str, ...]


@runtime_checkable
class CallRecorder(Protocol):
    """A telephony path that records its calls itself from the desk's recording button (the
    SIP line's relay); the Asterisk bridge answers for the calls no such path carries."""

    def handles(self, interaction: Interaction) -> bool: ...

    async def record(self, interaction_id: str, agent_id: str, action: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    path: Path
    filename: str  # as the customer named it: for the download, never for our file system
    content_type: str


@dataclass(frozen=True, slots=True)
class RecordedAttachment:
    """A file a customer message carried, recorded by its channel when the message arrived."""

    ref: str  # sha256:<hex> of a kept file, or the provider's media URL (MMS)
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class InboundWrite:
    """One customer message of a batch stored in one transaction (``ContextStore.store_inbound``).

    ``start``: the new interaction the message starts (its ``customer_id`` is ignored: the
    customer is resolved from ``identities``, as ``resolve_inbound`` does, in the same
    transaction). None: the message goes on the open interaction ``message.interaction_id``,
    an existing one or one that an earlier item of the same batch starts. Items are told apart by
    their messages' ids (and claims), which are unique in a batch.
    """

    claim: str | None  # the inbound claim taken for it (``claim_inbound``), in the same transaction
    message: Message | None  # None only with ``start``: a new interaction without a first message
    start: Interaction | None = None
    identities: Sequence[InboundIdentity] = ()
    display_name: str | None = None
    reason: str = ""
    attachments: Sequence[RecordedAttachment] = ()
    # A chat visitor's session, kept in the same transaction as the conversation it starts: a
    # reconnect to any node finds the session as soon as the conversation exists.
    chat_session: ChatSession | None = None


@dataclass(frozen=True, slots=True)
class InboundWritten:
    """What became of one ``InboundWrite``. ``why`` says why nothing was stored: "claimed" (being
    stored by someone else), "closed" (the interaction it continues is closed or gone),
    "invalid" (refused by a check), "after" (it continues an item of the batch that was not
    stored). The caller stores those one by one, as it would have without the batch."""

    # The new interaction as stored (also for a message continuing one of the batch); None for a
    # message on an interaction that existed before.
    interaction: Interaction | None
    message_stored: bool = False  # False on an existing interaction: that message was already there
    working_agent: str | None = None  # of a new one: who works another open one of its customer
    agent_id: str | None = None  # of an existing one continued: its agent as of the commit
    why: str | None = None

    @property
    def stored(self) -> bool:
        return self.why is None


@runtime_checkable
class AttachmentSource(Protocol):
    """A channel that keeps the files customers send (e-mail attachments) for the desktop."""

    def attachment(self, recorded: RecordedAttachment) -> AttachmentFile | None:
        """The kept file of ``recorded`` (recorded on one of the interaction's customer
        messages when it arrived); None when this channel does not keep it."""
        ...


class ContextStore(Protocol):
    async def start(self) -> None: ...
    async def aclose(self) -> None: ...

    # customers
    async def resolve_customer(self, identities: Sequence[Identity], *, display_name: str | None,
                               actor: str, reason: str) -> Customer: ...
    async def customer(self, customer_id: str) -> Customer: ...
    async def find_customer(self, identity: Identity) -> Customer | None: ...
    async def link_identities(self, a: Identity, b: Identity, *, actor: str, reason: str) -> Customer: ...
    async def unlink_identity(self, customer_id: str, identity: Identity, *, actor: str) -> Customer: ...
    async def merges(self, customer_id: str) -> Sequence[MergeRecord]: ...
    async def resolve_inbound(self, identities: Sequence[InboundIdentity], *, display_name: str | None,
                              actor: str, reason: str) -> Customer:
        """The customer of an inbound interaction, by levels: claimed identities are ignored (a
        new customer when nothing else is given); verified ones merge the customers they find;
        other customers found become merge suggestions."""
    async def prove_identity(self, customer_id: str, identity: Identity, *, actor: str, reason: str,
                             how: str) -> Customer:
        """``identity`` is now proven to be this customer's (``how``: "verified" by a one-time
        code, or "linked" by a person): attached, or the customer merged with its owner (a code
        merges only a customer who is nobody else yet; otherwise it suggests the merge)."""
    async def suggestions(self, customer_id: str) -> Sequence[MergeSuggestion]:
        """Open suggestions touching the customer's merge tree."""
    async def suggestion(self, suggestion_id: str) -> MergeSuggestion: ...
    async def decide_suggestion(self, suggestion_id: str, *, confirm: bool, actor: str,
                                reason: str) -> Customer | None:
        """Confirm (merge, audited) or dismiss; the surviving customer when merged."""
    async def unmerge(self, merge_id: str, *, actor: str) -> tuple[Customer, Customer]: ...

    # interactions
    async def save_interaction(self, interaction: Interaction, *,
                               before: Interaction | None = None) -> Interaction:
        """Returns the snapshot as stored (its version bumped); raises ``StaleSnapshot`` when
        ``interaction.version`` is not the stored one."""
    async def interaction(self, interaction_id: str) -> Interaction: ...
    async def interaction_snapshot(self, interaction_id: str) -> Interaction:
        """The snapshot this process last read or saved (else the stored one), for a step that
        changes it and saves: the save checks its version. Shown or decided alone: ``interaction``."""
    async def interaction_view(self, interaction: Interaction, *, timeline_limit: int) -> InteractionView:
        """The interaction's customer, their timeline's first page, its messages, notes and the
        identities it presented, as of one moment."""
    async def working_agent(self, customer_id: str, *, besides: str) -> str | None:
        """Who holds (active or wrap-up) the newest other open interaction of the customer's
        merge tree, if anyone."""
    async def find_interaction_by_ref(self, key: str, value: str) -> Interaction | None: ...
    async def find_interaction_by_message_ref(self, refs: Sequence[str]) -> Interaction | None: ...
    async def find_interactions_by_message_refs(self, groups: Sequence[Sequence[str]]
                                                ) -> Sequence[Interaction | None]:
        """``find_interaction_by_message_ref`` for each group of refs, in one query."""
    async def find_interactions_by_ref(self, key: str, values: Sequence[str]) -> Mapping[str, Interaction]:
        """``find_interaction_by_ref`` for each value (those found), in one query."""
    async def set_message_ref(self, message_id: str, channel_ref: str) -> None: ...
    async def claim_inbound(self, ref: str) -> bool: ...
    async def release_inbound(self, ref: str) -> None: ...
    async def purge_claims(self, older_than: float) -> int:
        """Drop claims older than ``older_than`` seconds; how many were dropped."""
    async def open_interactions(self, customer_id: str,
                                channel: Channel | None = None) -> Sequence[Interaction]: ...
    async def list_interactions(self, *, states: Sequence[InteractionState] | None = None,
                                agent_id: str | None = None, limit: int = 100,
                                open_only: bool = False,
                                scope: Reach | None = None) -> Sequence[Interaction]:
        """``scope``: only interactions in its queues or with its agents (a supervisor's)."""
    async def add_message(self, message: Message) -> bool: ...
    async def messages(self, interaction_id: str, *, limit: int = 200) -> Sequence[Message]: ...
    # agents' replies on channels with an adapter: taken by one node to send, then their outcome
    async def take_delivery(self, message_id: str) -> bool: ...
    async def set_delivery(self, message_id: str, status: str) -> None: ...
    async def undelivered(self, *, since: float, before: float,
                          channels: Sequence[Channel]) -> Sequence[tuple[Channel, Message]]: ...
    async def add_note(self, note: Note) -> None: ...
    async def record_presented(self, interaction_id: str, identities: Sequence[InboundIdentity], *,
                               display_name: str | None) -> Sequence[PresentedIdentity]: ...
    async def presented(self, interaction_id: str) -> Sequence[PresentedIdentity]: ...
    async def settle_claim(self, claim_id: str, *, outcome: str, actor: str) -> None: ...
    async def notes(self, interaction_id: str) -> Sequence[Note]: ...
    async def timeline(self, customer_id: str, *, limit: int = 50,
                       before: str | None = None) -> TimelinePage: ...

    async def outcomes(self, since: float) -> Sequence[Outcome]:
        """Inbound interactions that arrived at ``since`` or later (the service level's window)."""

    # polled channels: where each got to (X's newest mention read), across restarts and nodes
    async def cursor(self, name: str) -> str | None: ...
    async def set_cursor(self, name: str, value: str) -> None: ...

    # chat visitors' sessions: the SHA-256 of the secret each browser holds, never the secret
    async def chat_secret_hash(self, visitor_id: str) -> str | None: ...
    async def keep_chat_session(self, session: ChatSession) -> None:
        """Record it once (a later call marks the session used, never replaces the hash)."""
    async def purge_chat_sessions(self, older_than: float) -> int:
        """Drop sessions unused for ``older_than`` seconds; how many were dropped."""

    # audit
    async def audit(self, *, actor: str, action: str, target: str,
                    details: Mapping[str, Any] | None = None) -> None: ...
    async def audit_log(self, *, limit: int = 100, target: str | None = None,
                        people: Collection[str] | None = None) -> Sequence[AuditEntry]:
        """``people``: only entries whose actor or target is one of them (a supervisor's teams)."""

    # files customer messages carried, recorded by their channel at receive time
    async def record_attachments(self, message_id: str, items: Sequence[RecordedAttachment]) -> None: ...
    async def store_inbound(self, items: Sequence[InboundWrite]) -> Sequence[InboundWritten]:
        """Customer messages of one batch in one write transaction: claims, customers, new
        interactions with their references, context and presented identities, messages and
        attachments. One answer per item, in order."""
    async def attachments(self, interaction_id: str) -> Sequence[RecordedAttachment]: ...
