"""Domain events: every state change is one of these on the hub.

The agent and supervisor sockets, the wallboard and other nodes all consume the same events.
Each event serialises to a JSON object whose ``type`` is the class's ``type`` and back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from cti.domain import jsonable


@dataclass(frozen=True, slots=True)
class DomainEvent:
    type: ClassVar[str] = "event"
    at: float

    def to_dict(self) -> dict[str, Any]:
        body = {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}
        return {"type": self.type, **body}

    # The agent the event concerns, so a socket can filter cheaply; None = not agent-specific.
    def agent(self) -> str | None:
        return getattr(self, "agent_id", None)


@dataclass(frozen=True, slots=True)
class InteractionQueued(DomainEvent):
    type: ClassVar[str] = "interaction.queued"
    interaction: Mapping[str, Any]
    requeued_because: str | None = None  # "rejected" | "timeout" | "transfer" | None (new)


@dataclass(frozen=True, slots=True)
class InteractionOffered(DomainEvent):
    type: ClassVar[str] = "interaction.offered"
    interaction_id: str
    agent_id: str
    expires_at: float
    reason: Mapping[str, Any]
    screen_pop: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class InteractionAccepted(DomainEvent):
    type: ClassVar[str] = "interaction.accepted"
    interaction_id: str
    agent_id: str
    interaction: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OfferWithdrawn(DomainEvent):
    """The offer to ``agent_id`` ended without an accept (reject, timeout, customer left)."""

    type: ClassVar[str] = "interaction.offer_withdrawn"
    interaction_id: str
    agent_id: str
    why: str


@dataclass(frozen=True, slots=True)
class InteractionTransferred(DomainEvent):
    type: ClassVar[str] = "interaction.transferred"
    interaction_id: str
    agent_id: str  # who transferred it
    to_queue: str | None
    to_agent: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class InteractionWrapUp(DomainEvent):
    type: ClassVar[str] = "interaction.wrap_up"
    interaction_id: str
    agent_id: str | None
    why: str  # "customer-left" | "agent-ended"


@dataclass(frozen=True, slots=True)
class InteractionClosed(DomainEvent):
    type: ClassVar[str] = "interaction.closed"
    interaction_id: str
    agent_id: str | None
    disposition: str | None


@dataclass(frozen=True, slots=True)
class InteractionAbandoned(DomainEvent):
    type: ClassVar[str] = "interaction.abandoned"
    interaction_id: str
    agent_id: str | None  # set if it was offered to someone when the customer left
    waited: float


@dataclass(frozen=True, slots=True)
class MessageAdded(DomainEvent):
    type: ClassVar[str] = "message.added"
    interaction_id: str
    agent_id: str | None  # the agent working the interaction, who should see it
    message: Mapping[str, Any]
    # Live campaigns a customer's message names (their pop views), tagged on the interaction.
    campaigns: Sequence[Mapping[str, Any]] = field(default_factory=list)  # a list, as JSON gives back


@dataclass(frozen=True, slots=True)
class AgentStateChanged(DomainEvent):
    type: ClassVar[str] = "agent.state_changed"
    agent_id: str
    state: str
    reason: str | None = None
    by: str | None = None  # who changed it, when not the agent


@dataclass(frozen=True, slots=True)
class CustomerUpdated(DomainEvent):
    type: ClassVar[str] = "customer.updated"
    customer_id: str
    why: str  # "merged" | "unmerged" | "identity-linked" | "identity-unlinked"
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageStatus(DomainEvent):
    """What became of an agent's reply on its channel.

    ``status``: "sent", "queued" (accepted by the provider), "delivered", "failed" (``why`` the
    error), "refused" (the channel will not carry it: ``why`` e.g. "opted-out").
    """

    type: ClassVar[str] = "message.status"
    interaction_id: str
    agent_id: str | None
    message_id: str
    status: str
    why: str | None = None
    channel_ref: str | None = None


@dataclass(frozen=True, slots=True)
class CallUpdated(DomainEvent):
    """A voice call changed without changing the interaction's state.

    ``what``: "ringing-agent", "agent-answered", "held", "resumed", "recording-started",
    "recording-paused", "recording-resumed", "recording-stopped", "consult-started",
    "consult-cancelled", "consult-answered" (Twilio), "consult-ended", "fallback" (the dial plan
    gave the caller to an Asterisk queue).
    """

    type: ClassVar[str] = "call.updated"
    interaction_id: str
    agent_id: str | None
    what: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SupervisionChanged(DomainEvent):
    """A supervisor started or stopped listening to, whispering to or barging into a call."""

    type: ClassVar[str] = "supervision.changed"
    supervisor_id: str
    agent_id: str  # the supervised agent: their supervisors' sockets get it, not the agent's
    mode: str  # "listen" | "whisper" | "barge"
    active: bool
    interaction_id: str | None = None

    def agent(self) -> str | None:
        # Routed like the supervisor's own event; the agent is not told they are monitored.
        return self.supervisor_id


@dataclass(frozen=True, slots=True)
class SupervisorWhispered(DomainEvent):
    """A supervisor's word to the agent working an interaction: an internal note, for the agent
    and their supervisors only. Never a ``MessageAdded``, so no channel ever carries it."""

    type: ClassVar[str] = "supervision.whisper"
    interaction_id: str
    agent_id: str  # the agent working it, who should see it
    supervisor_id: str
    note: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class VoiceLinkChanged(DomainEvent):
    """The Asterisk link went up or down (supervisors see it on the wallboard)."""

    type: ClassVar[str] = "voice.link"
    connected: bool
    why: str


def offered_on(event: DomainEvent, channel: str) -> bool:
    """An offer of an interaction on ``channel``, told from the event alone (no database read)."""
    if not isinstance(event, InteractionOffered):
        return False
    interaction = event.screen_pop.get("interaction")
    return isinstance(interaction, Mapping) and interaction.get("channel") == channel


@dataclass(frozen=True, slots=True)
class ConfigChanged(DomainEvent):
    """A new version of the live configuration is stored: every node loads it (``cti.admin``)."""

    type: ClassVar[str] = "config.changed"
    version: int
    actor: str


@dataclass(frozen=True, slots=True)
class TypingIndicated(DomainEvent):
    """One side of a chat is typing (``by``: agent or customer); never stored (cti.typing_signal)."""

    type: ClassVar[str] = "typing"
    interaction_id: str
    agent_id: str  # the agent holding the chat, whose desk shows the customer typing
    by: str


@dataclass(frozen=True, slots=True)
class ConsultStarted(DomainEvent):
    """An agent asks ``agent_id`` about a chat they hold, before handing it over (cti.consult):
    the chat's transcript and the first question, for the agent asked only."""

    type: ClassVar[str] = "consult.started"
    consult_id: str
    interaction_id: str
    agent_id: str  # the agent asked
    from_agent: str
    customer_name: str | None
    channel: str
    transcript: Sequence[Mapping[str, Any]]
    body: str | None


@dataclass(frozen=True, slots=True)
class ConsultMessage(DomainEvent):
    """One agent's line in a consult, for the other (``agent_id``); never stored."""

    type: ClassVar[str] = "consult.message"
    consult_id: str
    interaction_id: str
    agent_id: str  # who gets it
    from_agent: str
    body: str


@dataclass(frozen=True, slots=True)
class ConsultEnded(DomainEvent):
    """The consult ended (``why``: handed-over, ended-by-<agent>); one event per party."""

    type: ClassVar[str] = "consult.ended"
    consult_id: str
    interaction_id: str
    agent_id: str
    why: str


EVENT_TYPES: Mapping[str, type[DomainEvent]] = {
    cls.type: cls
    for cls in (
        InteractionQueued, InteractionOffered, InteractionAccepted, OfferWithdrawn,
        InteractionTransferred, InteractionWrapUp, InteractionClosed, InteractionAbandoned,
        MessageAdded, AgentStateChanged, CustomerUpdated, CallUpdated, SupervisionChanged,
        SupervisorWhispered, VoiceLinkChanged, MessageStatus, ConfigChanged, TypingIndicated,
        ConsultStarted, ConsultMessage, ConsultEnded,
    )
}


def event_from_dict(data: Mapping[str, Any]) -> DomainEvent:
    """Rebuild an event sent by another node. Raises KeyError/TypeError on a foreign shape."""
    cls = EVENT_TYPES[data["type"]]
    kwargs = {f.name: data[f.name] for f in fields(cls) if f.name in data}
    return cls(**kwargs)
