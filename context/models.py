"""The database schema, as SQLAlchemy declarative models.

Times are float seconds since the epoch, as everywhere in ``cti.domain``. The queries in this
package use the models' tables through SQLAlchemy Core; the migration in
``context/migrations/versions`` creates exactly these tables (a test compares the two).

Customer merges are a forest: a merged customer keeps its row with ``merged_into`` pointing at
the customer it was merged into, and every customer carries the denormalised ``root_id`` of its
tree, so "who is this customer now" is one indexed lookup. Identities and interactions keep the
customer they were recorded for (``customer_id``); interactions also carry the denormalised
``root_customer_id`` that merges and unmerges bulk-update, so a unified timeline is one indexed
query. Undoing a merge only has to re-root the merged customer's subtree. Messages and notes carry
a copy of their interaction's ``root_customer_id`` that the database keeps by triggers (migration
0012), so the timeline reads each kind's newest entries off one index.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)
SEQ = BigInteger().with_variant(Integer(), "sqlite")
# "Still open", written out: a partial index is used only when the query says the same literal
# text (SQLite cannot match a bound parameter against the index's condition).
OPEN_STATES_SQL = "state NOT IN ('closed', 'abandoned')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Double)
    # The customer this one was merged into (None for a customer of its own).
    merged_into: Mapped[str | None] = mapped_column(ID, ForeignKey("customers.id"), index=True)
    # The top of the merge tree: the customer everyone in the tree is today (itself if unmerged).
    root_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"), index=True)


class IdentityRow(Base):
    __tablename__ = "identities"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    # The customer that brought this identity (merges do not change it; unlinks do).
    customer_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"), index=True)
    added_at: Mapped[float] = mapped_column(Double)


class MergeRow(Base):
    __tablename__ = "merges"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    survivor_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"), index=True)
    merged_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Double)
    undone_at: Mapped[float | None] = mapped_column(Double)
    undone_by: Mapped[str | None] = mapped_column(String(128))
    # The identity that proved the two customers are one person, when there was one.
    proof_kind: Mapped[str | None] = mapped_column(String(16))
    proof_value: Mapped[str | None] = mapped_column(String(255))


class InteractionRow(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_root_customer_id_arrived_at", "root_customer_id", "arrived_at", "id"),
        Index("ix_interactions_state_arrived_at", "state", "arrived_at"),
        Index("ix_interactions_agent_id_state", "agent_id", "state"),
        Index("ix_interactions_arrived_at", "arrived_at"),  # the service level's recent window
        # An agent's open interactions, newest first (the agent socket's hello): only open rows.
        Index("ix_interactions_agent_id_open", "agent_id", "arrived_at", "id",
              sqlite_where=text(OPEN_STATES_SQL), postgresql_where=text(OPEN_STATES_SQL)),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # The customer the interaction was recorded for; never changed by merges.
    customer_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"), index=True)
    # Denormalised root of customer_id's merge tree, kept current by merge and unmerge.
    root_customer_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    priority: Mapped[float] = mapped_column(Double)
    skills: Mapped[dict[str, Any]] = mapped_column(JSON)
    arrived_at: Mapped[float] = mapped_column(Double)
    queued_at: Mapped[float | None] = mapped_column(Double)
    offered_at: Mapped[float | None] = mapped_column(Double)
    answered_at: Mapped[float | None] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)
    agent_id: Mapped[str | None] = mapped_column(String(128))
    disposition: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(Text)
    customer_left: Mapped[bool] = mapped_column(Boolean)
    # Bumped by every save; a save must name the version it read (optimistic concurrency).
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class InteractionRefRow(Base):
    """The channel's own references of an interaction (Uniqueid, CallSid, Message-ID, ...).

    Not unique on (key, value): a reference such as a chat visitor id or an X conversation id
    legitimately spans several interactions over time; the lookup takes the newest.
    """

    __tablename__ = "interaction_refs"
    __table_args__ = (Index("ix_interaction_refs_key_value", "key", "value"),)

    interaction_id: Mapped[str] = mapped_column(
        ID, ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))


class InteractionContextRow(Base):
    """Collected context (IVR digits, chat answers, the page they came from), one row a key."""

    __tablename__ = "interaction_context"

    interaction_id: Mapped[str] = mapped_column(
        ID, ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_interaction_id_at", "interaction_id", "at", "id"),
        # Inbound delivery is idempotent: one message per channel reference and interaction
        # (NULL references never collide).
        Index("uq_messages_interaction_id_channel_ref", "interaction_id", "channel_ref", unique=True),
        Index("ix_messages_channel_ref", "channel_ref"),  # threading and dedupe across interactions
        Index("ix_messages_sender_delivery_at", "sender", "delivery", "at"),  # replies never sent
        Index("ix_messages_root_customer_id_at", "root_customer_id", "at", "id"),  # the timeline
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    interaction_id: Mapped[str] = mapped_column(ID, ForeignKey("interactions.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Double)
    agent_id: Mapped[str | None] = mapped_column(String(128))
    channel_ref: Mapped[str | None] = mapped_column(String(1000))
    # An agent's reply on a channel with an adapter: None until a node takes it to send, then
    # "sending", then how it went (sent, queued, failed, refused). "legacy": from before.
    delivery: Mapped[str | None] = mapped_column(String(16))
    # The interaction's root customer, set and followed by the database's triggers (never written
    # by this code); None only between a SQLite insert and its trigger.
    root_customer_id: Mapped[str | None] = mapped_column(ID)


class NoteRow(Base):
    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_interaction_id_at", "interaction_id", "at", "id"),
                      Index("ix_notes_root_customer_id_at", "root_customer_id", "at", "id"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    interaction_id: Mapped[str] = mapped_column(ID, ForeignKey("interactions.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Double)
    root_customer_id: Mapped[str | None] = mapped_column(ID)  # as on messages


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at", "seq"),
        Index("ix_audit_log_target_at", "target", "at", "seq"),
    )

    # Insertion order breaks ties between entries written at the same instant.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(ID, unique=True)
    at: Mapped[float] = mapped_column(Double)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConfigVersionRow(Base):
    """One version of the live configuration (the sections an admin changes while nodes run)."""

    __tablename__ = "config_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[float] = mapped_column(Double)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))  # seed, change, import, rollback
    summary: Mapped[list[str]] = mapped_column(JSON)  # what changed from the version before
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class InboundClaimRow(Base):
    """A channel message ref taken by the first delivery: the same webhook on two nodes at once
    creates one interaction, not two (the insert is the atomic claim)."""

    __tablename__ = "inbound_claims"

    ref: Mapped[str] = mapped_column(String(1000), primary_key=True)
    at: Mapped[float] = mapped_column(Double)


class ChannelCursorRow(Base):
    """Where a polled channel got to (X's newest mention read): survives restarts, shared by nodes."""

    __tablename__ = "channel_cursors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))
    at: Mapped[float] = mapped_column(Double)


class CredentialUpgradeRow(Base):
    """An agent's password hash upgraded at log-in (the configured one is in the file, which the
    server does not write): used while the configured hash is still the one it replaced."""

    __tablename__ = "credential_upgrades"

    agent_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    replaces: Mapped[str] = mapped_column(String(64))  # sha256 hex of the configured hash
    hash: Mapped[str] = mapped_column(String(400))
    at: Mapped[float] = mapped_column(Double)
class InteractionHolderRow(Base):
    """Who held (accepted and worked) an interaction, and when last: an interaction's agent_id
    names only its latest agent, so after a transfer this is what still says the first one
    served the customer (agents read the customers they served within a window)."""

    __tablename__ = "interaction_holders"
    __table_args__ = (Index("ix_interaction_holders_agent_id_last_at", "agent_id", "last_at"),)

    interaction_id: Mapped[str] = mapped_column(
        ID, ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_at: Mapped[float] = mapped_column(Double)
    last_at: Mapped[float] = mapped_column(Double)


class CustomerShareRow(Base):
    """A supervisor let an agent read a customer they did not serve, until a time."""

    __tablename__ = "customer_shares"
    __table_args__ = (Index("ix_customer_shares_agent_id_until", "agent_id", "until"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"), index=True)
    agent_id: Mapped[str] = mapped_column(String(128))
    shared_by: Mapped[str] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Double)
    until: Mapped[float] = mapped_column(Double)


class MessageAttachmentRow(Base):
    """A file a customer message carried, recorded by its channel when the message arrived
    (never read back from the text, which a customer writes): the only files the desktop serves."""

    __tablename__ = "message_attachments"

    message_id: Mapped[str] = mapped_column(
        ID, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(1000))  # sha256:<hex> of a kept file, or a media URL
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))


class RevokedTokenRow(Base):
    """Log-in tokens ended before their time (log-out, refresh), by ``jti``, until they expire."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Double, index=True)


class WsTicketRow(Base):
    """A one-time WebSocket ticket (30 s): the row is deleted by the upgrade that uses it."""

    __tablename__ = "ws_tickets"

    ticket: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(Text)  # who it opens a socket for (JSON), not a token
    expires_at: Mapped[float] = mapped_column(Double, index=True)


class InteractionIdentityRow(Base):
    """An identity as an inbound interaction presented it, with its level and source.

    Claimed identities live only here (never in ``identities``): a claim names a customer
    without proving it, so it must not find, attach or merge anyone. ``outcome`` says what became
    of a claim: "verified" (a one-time code came back) or "linked" (an agent linked it by hand).
    """

    __tablename__ = "interaction_identities"
    __table_args__ = (Index("ix_interaction_identities_interaction_id_at", "interaction_id", "at", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    interaction_id: Mapped[str] = mapped_column(ID, ForeignKey("interactions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[float] = mapped_column(Double)
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_by: Mapped[str | None] = mapped_column(String(128))
    outcome_at: Mapped[float | None] = mapped_column(Double)


class MergeSuggestionRow(Base):
    """Two customers that an inbound interaction's identities (not verified ones) tied together:
    a person confirms (merge) or dismisses it."""

    __tablename__ = "merge_suggestions"
    __table_args__ = (Index("ix_merge_suggestions_customer_a_customer_b", "customer_a", "customer_b"),
                      Index("ix_merge_suggestions_customer_b", "customer_b"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    customer_a: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"))
    customer_b: Mapped[str] = mapped_column(ID, ForeignKey("customers.id"))
    # The identity that pointed at customer_b while the interaction went to customer_a.
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))  # open | confirmed | dismissed
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[float | None] = mapped_column(Double)
    decided_reason: Mapped[str | None] = mapped_column(Text)


class OneTimeCodeRow(Base):
    """A one-time code sent to an address or number, kept only as a salted hash."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_one_time_codes_scope_at", "scope", "at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # What the code is for: an interaction id (or a chat session's id); no foreign key on purpose.
    scope: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    salt: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)
    used_at: Mapped[float | None] = mapped_column(Double)
    # Wrong tries against this scope while the code was live.
    failures: Mapped[int] = mapped_column(Integer, server_default="0")


class ChatSessionRow(Base):
    """A chat visitor's session: the hash of the secret its browser holds (never the secret).

    Kept apart from interaction refs and context, which agents and the API read: the visitor id
    is shown to agents, the secret's hash never leaves the server.
    """

    __tablename__ = "chat_sessions"

    visitor_id: Mapped[str] = mapped_column(ID, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))  # SHA-256, hex
    created_at: Mapped[float] = mapped_column(Double)
    # When the visitor last started a conversation: sessions unused for long are swept.
    last_used_at: Mapped[float] = mapped_column(Double, index=True)


class WebhookDeliveryRow(Base):
    """One event for one outbound webhook subscriber (``cti.webhooks.deliveries``): kept until
    it is delivered or given up, so a restart does not lose it, and kept after for the admin."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # Each subscriber's worker: its pending deliveries, by when they are due.
        Index("ix_webhook_deliveries_subscriber_status_next_attempt_at", "subscriber", "status",
              "next_attempt_at"),
        Index("ix_webhook_deliveries_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    interaction_id: Mapped[str | None] = mapped_column(ID)
    body: Mapped[str] = mapped_column(Text)  # the exact JSON every attempt sends
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    created_at: Mapped[float] = mapped_column(Double)
    series_started_at: Mapped[float] = mapped_column(Double)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[float] = mapped_column(Double)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[float | None] = mapped_column(Double)
    last_attempt_at: Mapped[float | None] = mapped_column(Double)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    finished_at: Mapped[float | None] = mapped_column(Double)


class AgentStateRow(Base):
    """What each agent last chose, or the server set (issue 12): a restart brings them back so.

    The live state is the routing store's; this row is written with every change. Agents are
    configured in the file, not in the database, so no foreign key."""

    __tablename__ = "agent_states"

    agent_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Double)


class InteractionEventRow(Base):
    """The interaction's append-only log (``cti.eventlog``): one row an entry, never updated.

    ``key`` is unique per interaction: "<version>.<n>" for the entries a save wrote (the version
    that save created), another form for entries recorded from hub events; a second write of
    the same entry is a no-op. Rows are read per interaction in (at, seq) order, and by time
    range, by queue, channel or agent for figures.
    """

    __tablename__ = "interaction_events"
    __table_args__ = (
        Index("uq_interaction_events_interaction_id_key", "interaction_id", "key", unique=True),
        Index("ix_interaction_events_interaction_id_at", "interaction_id", "at", "seq"),
        Index("ix_interaction_events_at", "at"),
        Index("ix_interaction_events_queue_at", "queue", "at"),
        Index("ix_interaction_events_channel_at", "channel", "at"),
        Index("ix_interaction_events_agent_id_at", "agent_id", "at"),
    )

    # Insertion order breaks ties between entries of the same instant (a transfer and its queued).
    # 64 bits on PostgreSQL: at 50 entries a second a 32-bit sequence ends within two years.
    # SQLite's row id is 64 bits already, and only INTEGER PRIMARY KEY is it.
    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    interaction_id: Mapped[str] = mapped_column(ID, ForeignKey("interactions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[float] = mapped_column(Double)
    channel: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(128))
    node: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class CampaignRow(Base):
    """A campaign notice (``cti.campaigns``): shown to agents from ``notice_at`` to ``ends_at``;
    ``channels`` and ``keywords`` are JSON lists (empty channels: every channel)."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_ends_at", "ends_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[float] = mapped_column(Double)
    ends_at: Mapped[float] = mapped_column(Double)
    notice_at: Mapped[float] = mapped_column(Double)
    channels: Mapped[list[str]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    public_faq: Mapped[str] = mapped_column(Text)
    internal_notes: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Double)
    article_id: Mapped[str | None] = mapped_column(String(64))


class CampaignAckRow(Base):
    """An agent's acknowledgement of a campaign notice: one per agent and campaign."""

    __tablename__ = "campaign_acks"
    __table_args__ = (Index("ix_campaign_acks_agent_id", "agent_id"),)

    campaign_id: Mapped[str] = mapped_column(ID, ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[float] = mapped_column(Double)


customers = cast(Table, CustomerRow.__table__)
identities = cast(Table, IdentityRow.__table__)
merges = cast(Table, MergeRow.__table__)
interactions = cast(Table, InteractionRow.__table__)
interaction_refs = cast(Table, InteractionRefRow.__table__)
interaction_context = cast(Table, InteractionContextRow.__table__)
messages = cast(Table, MessageRow.__table__)
notes = cast(Table, NoteRow.__table__)
audit_log = cast(Table, AuditRow.__table__)
config_versions = cast(Table, ConfigVersionRow.__table__)
inbound_claims = cast(Table, InboundClaimRow.__table__)
channel_cursors = cast(Table, ChannelCursorRow.__table__)
credential_upgrades = cast(Table, CredentialUpgradeRow.__table__)
interaction_holders = cast(Table, InteractionHolderRow.__table__)
customer_shares = cast(Table, CustomerShareRow.__table__)
message_attachments = cast(Table, MessageAttachmentRow.__table__)
revoked_tokens = cast(Table, RevokedTokenRow.__table__)
ws_tickets = cast(Table, WsTicketRow.__table__)
interaction_identities = cast(Table, InteractionIdentityRow.__table__)
merge_suggestions = cast(Table, MergeSuggestionRow.__table__)
one_time_codes = cast(Table, OneTimeCodeRow.__table__)
chat_sessions = cast(Table, ChatSessionRow.__table__)
webhook_deliveries = cast(Table, WebhookDeliveryRow.__table__)


class ChatConsultRow(Base):
    """A consult about a chat before its hand-over (``cti.consult``): who asked whom, and when
    and why it ended. What the agents said is never stored. Agents are configured in the file,
    so no foreign key to them; the interaction's row goes, its consults go."""

    __tablename__ = "chat_consults"
    __table_args__ = (
        Index("ix_chat_consults_interaction_id", "interaction_id"),
        # One open consult per chat, whichever node starts it.
        Index("uq_chat_consults_open", "interaction_id", unique=True,
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    interaction_id: Mapped[str] = mapped_column(ID, ForeignKey("interactions.id", ondelete="CASCADE"))
    from_agent: Mapped[str] = mapped_column(String(100))
    to_agent: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[float] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)
    ended_why: Mapped[str | None] = mapped_column(String(120))


agent_states = cast(Table, AgentStateRow.__table__)
chat_consults = cast(Table, ChatConsultRow.__table__)


interaction_events = cast(Table, InteractionEventRow.__table__)


campaigns = cast(Table, CampaignRow.__table__)
campaign_acks = cast(Table, CampaignAckRow.__table__)


class KbArticleRow(Base):
    """A knowledge article as it is now: the newest version's text, and the visitors' counters
    (``cti.knowledge``). Its search document lives in ``kb_search`` (migration 0022), which has a
    different shape on each backend and so no model here."""

    __tablename__ = "kb_articles"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    public_body: Mapped[str] = mapped_column(Text)
    internal_body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double, index=True)
    updated_by: Mapped[str] = mapped_column(String(128))
    helped: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    solved: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class KbArticleVersionRow(Base):
    """Every version of every article, never changed: the history an editor reads and restores."""

    __tablename__ = "kb_article_versions"

    article_id: Mapped[str] = mapped_column(ID, ForeignKey("kb_articles.id", ondelete="CASCADE"),
                                            primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    public_body: Mapped[str] = mapped_column(Text)
    internal_body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    at: Mapped[float] = mapped_column(Double)
    by: Mapped[str] = mapped_column(String(128))
    restored_from: Mapped[int | None] = mapped_column(Integer)


class KbArticleTagRow(Base):
    """The current tags of each article, one row a tag: a tag filter is one indexed lookup."""

    __tablename__ = "kb_article_tags"
    __table_args__ = (Index("ix_kb_article_tags_tag", "tag", "article_id"),)

    article_id: Mapped[str] = mapped_column(ID, ForeignKey("kb_articles.id", ondelete="CASCADE"),
                                            primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)


kb_articles = cast(Table, KbArticleRow.__table__)
kb_article_versions = cast(Table, KbArticleVersionRow.__table__)
kb_article_tags = cast(Table, KbArticleTagRow.__table__)
