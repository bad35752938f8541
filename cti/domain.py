"""Core domain types shared by every package.

Only plain data lives here: no I/O, no clock reads. The packages around the core (router,
context, adapters, desktop_api) exchange these types and nothing of each other's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.eventlog import LogEntry


class Channel(enum.StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"
    X = "x"
    SLACK = "slack"
    # A customer's request to be called or written back, left when a queue's maximum wait
    # passed (the chat widget): no adapter carries it; the agent calls or writes back.
    CALLBACK = "callback"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InteractionState(enum.StrEnum):
    NEW = "new"
    QUEUED = "queued"
    OFFERED = "offered"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"


class AgentState(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class IdentityKind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    X = "x"
    SLACK = "slack"
    CALL = "call"  # a call without a caller number: it identifies only itself (its Uniqueid)
    SITE = "site"  # a user id signed by a website embedding the chat widget: "<site id>:<user id>"


class MessageSender(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Identity:
    """One way to reach a customer. ``value`` is already normalised (see ``cti.identities``)."""

    kind: IdentityKind
    value: str


class IdentityLevel(enum.StrEnum):
    """How an identity on an inbound interaction was established (strongest first)."""

    VERIFIED = "verified"  # signed by the embedding site, a one-time code returned, a signed Slack/X id
    ASSERTED = "asserted"  # told by the network: caller ID, SMS sender, a DMARC-passing e-mail sender
    CLAIMED = "claimed"  # typed by the customer into a form: shown as a claim, never trusted


@dataclass(frozen=True, slots=True)
class InboundIdentity:
    """An identity as an inbound interaction presents it, with how it was established."""

    identity: Identity
    level: IdentityLevel
    source: str  # what established it, for the screen pop and the audit: "caller-id", "hmac", ...


@dataclass(frozen=True, slots=True)
class ChatSession:
    """A web chat visitor's browser session: only the SHA-256 of its secret is ever stored."""

    visitor_id: str
    secret_hash: str


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    display_name: str | None
    identities: tuple[Identity, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    interaction_id: str
    sender: MessageSender
    body: str
    at: float
    agent_id: str | None = None
    channel_ref: str | None = None  # the channel's own id for the message, for idempotency


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    interaction_id: str
    author_id: str
    body: str
    at: float


@dataclass(frozen=True, slots=True)
class Interaction:
    """One piece of work for one customer on one channel (a snapshot; changes make new ones)."""

    id: str
    channel: Channel
    direction: Direction
    customer_id: str
    queue: str
    state: InteractionState
    priority: float = 1.0
    skills: Mapping[str, int] = field(default_factory=dict)
    arrived_at: float = 0.0
    queued_at: float | None = None
    offered_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    agent_id: str | None = None
    channel_refs: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, str] = field(default_factory=dict)
    disposition: str | None = None
    subject: str | None = None
    customer_left: bool = False
    # The stored row's version this snapshot was read at (0: never saved). A save from an older
    # snapshot is refused, so two changes made at once cannot silently undo each other.
    version: int = 0
    # Log entries made by the change that produced this snapshot, not yet stored: the save
    # writes them in its own transaction (``cti.eventlog``). Not shown, not compared.
    log: tuple[LogEntry, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent as configured: who they are and what they can take."""

    id: str
    name: str
    role: Role
    team: str | None
    skills: Mapping[str, int]
    capacity: Mapping[Channel, int]
    password: str = field(repr=False, default="")
    endpoints: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Overflow:
    """After ``after`` seconds of waiting, work moves to ``to_queue`` and/or its required skill
    levels are lowered to ``widen`` (0: the requirement is dropped)."""

    after: float
    to_queue: str | None = None
    widen: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening spans ("08:00-17:00") per weekday ("mon".."sun") in ``timezone``; closed on the
    ``holidays`` and on weekdays not listed (see ``cti.hours``)."""

    timezone: str
    days: Mapping[str, tuple[str, ...]]
    holidays: frozenset[Any] = frozenset()  # datetime.date


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    skills: Mapping[str, int]
    # Service target per channel in seconds: answer within N s (voice, chat), first reply
    # within N s (e-mail). Urgency is measured against this.
    service_targets: Mapping[Channel, float]
    wrap_up_seconds: float = 0.0
    address: str | None = None
    # The teams whose supervisors see this queue; none: every supervisor sees it.
    teams: tuple[str, ...] = ()
    priority: int = 1  # 1..10: multiplies the urgency of this queue's work
    overflow: tuple[Overflow, ...] = ()
    hours: str | None = None  # the name of its business hours; none: always open
    # --- issue 12, no stranded customer ---
    # An offer of this queue's work that the agent lets time out (or their phone does not
    # answer) sets them away with reason "no-answer", so the next customer is not offered to
    # a desk nobody is at.
    missed_offer_away: bool = True
    transfer_fallback_seconds: float | None = None  # none: the routing section's
    max_wait: float | None = None  # past it a chat visitor is offered a callback

    def target_for(self, channel: Channel) -> float:
        return self.service_targets.get(channel, DEFAULT_SERVICE_TARGETS[channel])


DEFAULT_SERVICE_TARGETS: Mapping[Channel, float] = {
    Channel.VOICE: 20.0,
    Channel.CHAT: 60.0,
    Channel.SMS: 900.0,
    Channel.SLACK: 900.0,
    Channel.X: 1800.0,
    Channel.EMAIL: 4 * 3600.0,
    Channel.CALLBACK: 3600.0,
}


_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Turn domain dataclasses, enums and mappings into JSON-ready values."""
    # Most values in a screen pop are plain: answered before the slower checks (the Mapping
    # check is an ABC lookup), since this runs for every field of every timeline entry.
    if type(value) in _PLAIN:
        return value
    if type(value) is dict:
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "__dataclass_fields__"):
        return {
            name: jsonable(getattr(value, name))
            for name, f in value.__dataclass_fields__.items()
            if f.repr
        }
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [jsonable(v) for v in value]
    return value
