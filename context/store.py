"""``SqlContextStore``: the ``cti.ports.ContextStore`` on SQLAlchemy (SQLite or PostgreSQL).

A thin facade: customers and merges live in ``context.customers``, interactions in
``context.interactions`` (messages and notes in ``context.interaction_messages``), the timeline
in ``context.timeline``, the audit log in ``context.audit``. ``start()`` creates the engine; it
does not migrate (``context.migrate`` does, and the app runs it first).

Errors (all from ``cti.errors``)::

    NotFound      customer-not-found, interaction-not-found, merge-not-found, identity-not-found,
                  suggestion-not-found, claim-not-found
    Conflict      merge-already-undone, merge-not-current, identity-owned-elsewhere, only-identity,
                  suggestion-decided,
                  concurrent-update (a write lost a race too many times in a row)
    InvalidInput  no-identities, invalid-identity, bad-display-name, bad-limit, bad-cursor,
                  bad-channel-ref, bad-context-key
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import literal, select

from context.access import AccessRecords
from context.agent_states import SqlAgentStates
from context.attachments import Attachments
from context.audit import read_audit, write_audit
from context.campaigns import SqlCampaigns
from context.chat_sessions import ChatSessionStore
from context.codes import SqlCodeStore
from context.config_versions import SqlConfigVersions
from context.consults import SqlConsults
from context.credentials import CredentialUpgrades
from context.cursors import Cursors
from context.customers import Customers
from context.db import Conn, Database
from context.eventlog import EventLog
from context.inbound import check_items, newest_by_message_refs, newest_by_refs, store_inbound
from context.interaction_messages import read_messages, read_notes
from context.interactions import Interactions
from context.knowledge import SqlKnowledge
from context.presented import Presented, read_presented
from context.queries import require_customer
from context.reports import ReportStore
from context.timeline import read_timeline
from context.tokens import SqlTokenRecords
from context.webhooks import SqlWebhookStore
from cti.access import Reach
from cti.clock import Clock, IdSource
from cti.domain import (
    Channel,
    ChatSession,
    Customer,
    Identity,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
    Note,
)
from cti.ports import (
    AuditEntry,
    InboundWrite,
    InboundWritten,
    InteractionView,
    MergeRecord,
    MergeSuggestion,
    PresentedIdentity,
    RecordedAttachment,
    TimelinePage,
)
from cti.service_level import Outcome
from cti.settings.identity import CodeSettings

__all__ = ["SqlContextStore"]

MESSAGES_SHOWN = 200  # an interaction's latest messages, as ``messages`` gives by default


class SqlContextStore:
    def __init__(self, *, url: str, clock: Clock, ids: IdSource, timeline_body_limit: int = 500,
                 engine_kwargs: dict[str, Any] | None = None, node_id: str | None = None,
                 on_transaction: Callable[[str, float], None] | None = None) -> None:
        self._db = Database(url=url, engine_kwargs=engine_kwargs, on_transaction=on_transaction)
        self._clock = clock
        self._ids = ids
        self._timeline_body_limit = timeline_body_limit
        self._customers = Customers(db=self._db, clock=clock, ids=ids)
        self._node = node_id
        self._interactions = Interactions(db=self._db, node_id=node_id)
        # Not part of the ContextStore port: the log's reads and its recorder use it.
        self.event_log = EventLog(db=self._db, node_id=node_id)
        self.reports = ReportStore(db=self._db)  # nor this: the reports' contacts
        self._cursors = Cursors(db=self._db)
        # Not part of the ContextStore port: only the log-in service uses it.
        self.credentials = CredentialUpgrades(db=self._db)
        # Nor this: the live configuration's versions, for the admin service.
        self.config_versions = SqlConfigVersions(db=self._db, clock=clock, ids=ids)
        self._attachments = Attachments(db=self._db)
        # The access rules' records and the token records share this store's database.
        self.access = AccessRecords(db=self._db)
        self.tokens = SqlTokenRecords(db=self._db, clock=clock)
        # Not part of the ContextStore port: the agent service keeps agents' states here.
        self.agent_states = SqlAgentStates(db=self._db)
        # Nor this: consults about chats before a hand-over (cti.consult).
        self.consults = SqlConsults(db=self._db)
        self._chat_sessions = ChatSessionStore(db=self._db)
        self._presented = Presented(db=self._db, clock=clock, ids=ids)
        # Not part of the ContextStore port: the campaign service's records.
        self.campaigns = SqlCampaigns(db=self._db, clock=clock, ids=ids)
        # Not part of the ContextStore port: the knowledge base's articles and search.
        self.knowledge = SqlKnowledge(db=self._db, clock=clock, ids=ids)

    def code_store(self, settings: CodeSettings) -> SqlCodeStore:
        """The one-time codes, in this database."""
        return SqlCodeStore(db=self._db, clock=self._clock, ids=self._ids, settings=settings)

    def webhook_store(self) -> SqlWebhookStore:
        """Outbound webhook deliveries, in this database."""
        return SqlWebhookStore(db=self._db, ids=self._ids)

    async def start(self) -> None:
        await self._db.start()

    async def aclose(self) -> None:
        await self._db.aclose()

    # customers

    async def resolve_customer(self, identities: Sequence[Identity], *, display_name: str | None,
                               actor: str, reason: str) -> Customer:
        return await self._customers.resolve(identities, display_name=display_name, actor=actor,
                                             reason=reason)

    async def resolve_inbound(self, identities: Sequence[InboundIdentity], *, display_name: str | None,
                              actor: str, reason: str) -> Customer:
        return await self._customers.resolve_inbound(identities, display_name=display_name, actor=actor,
                                                     reason=reason)

    async def prove_identity(self, customer_id: str, identity: Identity, *, actor: str, reason: str,
                             how: str) -> Customer:
        return await self._customers.prove(customer_id, identity, actor=actor, reason=f"{how}: {reason}",
                                           by_person=how == "linked")

    async def suggestions(self, customer_id: str) -> Sequence[MergeSuggestion]:
        return await self._customers.suggestions(customer_id)

    async def suggestion(self, suggestion_id: str) -> MergeSuggestion:
        return await self._customers.suggestion(suggestion_id)

    async def decide_suggestion(self, suggestion_id: str, *, confirm: bool, actor: str,
                                reason: str) -> Customer | None:
        return await self._customers.decide_suggestion(suggestion_id, confirm=confirm, actor=actor,
                                                       reason=reason)

    async def customer(self, customer_id: str) -> Customer:
        return await self._customers.customer(customer_id)

    async def find_customer(self, identity: Identity) -> Customer | None:
        return await self._customers.find(identity)

    async def link_identities(self, a: Identity, b: Identity, *, actor: str, reason: str) -> Customer:
        return await self._customers.link(a, b, actor=actor, reason=reason)

    async def unlink_identity(self, customer_id: str, identity: Identity, *, actor: str) -> Customer:
        """Returns the new customer that now holds ``identity``."""
        return await self._customers.unlink(customer_id, identity, actor=actor)

    async def merges(self, customer_id: str) -> Sequence[MergeRecord]:
        return await self._customers.merges(customer_id)

    async def unmerge(self, merge_id: str, *, actor: str) -> tuple[Customer, Customer]:
        """Returns (survivor, restored)."""
        return await self._customers.unmerge(merge_id, actor=actor)

    # interactions

    async def save_interaction(self, interaction: Interaction, *,
                               before: Interaction | None = None) -> Interaction:
        return await self._interactions.save(interaction, before=before)

    async def interaction(self, interaction_id: str) -> Interaction:
        return await self._interactions.get(interaction_id)

    async def interaction_snapshot(self, interaction_id: str) -> Interaction:
        return await self._interactions.snapshot(interaction_id)

    async def interaction_view(self, interaction: Interaction, *, timeline_limit: int) -> InteractionView:
        # One read transaction for the five reads: one BEGIN, one consistent picture.
        async with self._db.read() as conn:
            customer = await require_customer(conn, interaction.customer_id)
            page = await read_timeline(conn, customer.id, limit=timeline_limit, before=None,
                                       body_limit=self._timeline_body_limit)
            said = await read_messages(conn, interaction.id, limit=MESSAGES_SHOWN)
            noted = await read_notes(conn, interaction.id)
            presented = await read_presented(conn, interaction.id)
        return InteractionView(customer=customer, timeline=page, messages=said, notes=noted,
                               presented=presented)

    async def working_agent(self, customer_id: str, *, besides: str) -> str | None:
        return await self._interactions.working_agent(customer_id, besides)

    async def find_interaction_by_ref(self, key: str, value: str) -> Interaction | None:
        return await self._interactions.find_by_ref(key, value)

    async def set_message_ref(self, message_id: str, channel_ref: str) -> None:
        await self._interactions.set_message_ref(message_id, channel_ref)

    async def claim_inbound(self, ref: str) -> bool:
        return await self._interactions.claim_inbound(ref, self._clock.now())

    async def release_inbound(self, ref: str) -> None:
        await self._interactions.release_inbound(ref)

    async def purge_claims(self, older_than: float) -> int:
        return await self._interactions.purge_claims(self._clock.now() - older_than)

    async def find_interaction_by_message_ref(self, refs: Sequence[str]) -> Interaction | None:
        return await self._interactions.find_by_message_ref(refs)

    async def find_interactions_by_message_refs(self, groups: Sequence[Sequence[str]]
                                                ) -> Sequence[Interaction | None]:
        async with self._db.read() as conn:
            return await newest_by_message_refs(conn, groups)

    async def find_interactions_by_ref(self, key: str, values: Sequence[str]) -> Mapping[str, Interaction]:
        async with self._db.read() as conn:
            return await newest_by_refs(conn, key, values)

    async def store_inbound(self, items: Sequence[InboundWrite]) -> Sequence[InboundWritten]:
        why = check_items(items)

        async def work(conn: Conn) -> list[InboundWritten]:
            return await store_inbound(conn, items, why, customer_book=self._customers, clock=self._clock,
                                       ids=self._ids, node=self._node)

        written = await self._db.write(work)
        for item, result in zip(items, written, strict=True):
            # What this batch started is this process's latest snapshot of it: the offer that
            # follows starts from it instead of reading the row just written.
            started = result.interaction
            if started is not None and item.start is not None and started.id == item.start.id:
                self._interactions.remember(started)
        return written

    async def open_interactions(self, customer_id: str,
                                channel: Channel | None = None) -> Sequence[Interaction]:
        return await self._interactions.open_for(customer_id, channel)

    async def open_counts(self) -> dict[tuple[str, str], int]:
        """Open interactions by (channel, state), for the metrics (not part of the port)."""
        return await self._interactions.open_counts()

    async def ping(self) -> None:
        """One round trip to the database (readiness); raises what the driver raises."""
        async with self._db.read() as conn:
            await conn.execute(select(literal(1)))

    async def list_interactions(self, *, states: Sequence[InteractionState] | None = None,
                                agent_id: str | None = None, limit: int = 100,
                                open_only: bool = False, scope: Reach | None = None) -> Sequence[Interaction]:
        """Newest first, filtered by state, agent, or open (not closed or abandoned)."""
        return await self._interactions.listing(states=states, agent_id=agent_id, limit=limit,
                                                open_only=open_only, scope=scope)

    async def add_message(self, message: Message) -> bool:
        return await self._interactions.add_message(message)

    async def messages(self, interaction_id: str, *, limit: int = 200) -> Sequence[Message]:
        return await self._interactions.messages(interaction_id, limit=limit)

    async def take_delivery(self, message_id: str) -> bool:
        return await self._interactions.take_delivery(message_id)

    async def set_delivery(self, message_id: str, status: str) -> None:
        await self._interactions.set_delivery(message_id, status)

    async def undelivered(self, *, since: float, before: float,
                          channels: Sequence[Channel]) -> Sequence[tuple[Channel, Message]]:
        return await self._interactions.undelivered(since=since, before=before, channels=channels)

    async def add_note(self, note: Note) -> None:
        await self._interactions.add_note(note)

    async def notes(self, interaction_id: str) -> Sequence[Note]:
        return await self._interactions.notes(interaction_id)

    async def record_presented(self, interaction_id: str, identities: Sequence[InboundIdentity], *,
                               display_name: str | None) -> Sequence[PresentedIdentity]:
        return await self._presented.record(interaction_id, identities, display_name=display_name)

    async def presented(self, interaction_id: str) -> Sequence[PresentedIdentity]:
        return await self._presented.of(interaction_id)

    async def settle_claim(self, claim_id: str, *, outcome: str, actor: str) -> None:
        await self._presented.settle(claim_id, outcome=outcome, actor=actor)

    async def timeline(self, customer_id: str, *, limit: int = 50, before: str | None = None) -> TimelinePage:
        async with self._db.read() as conn:
            return await read_timeline(conn, customer_id, limit=limit, before=before,
                                       body_limit=self._timeline_body_limit)

    async def outcomes(self, since: float) -> Sequence[Outcome]:
        return await self._interactions.outcomes(since)

    # polled channels

    async def cursor(self, name: str) -> str | None:
        return await self._cursors.get(name)

    async def set_cursor(self, name: str, value: str) -> None:
        await self._cursors.set(name, value, self._clock.now())

    # chat sessions

    async def chat_secret_hash(self, visitor_id: str) -> str | None:
        return await self._chat_sessions.secret_hash(visitor_id)

    async def keep_chat_session(self, session: ChatSession) -> None:
        await self._chat_sessions.keep(session, self._clock.now())

    async def purge_chat_sessions(self, older_than: float) -> int:
        return await self._chat_sessions.purge(self._clock.now() - older_than)

    # audit

    async def audit(self, *, actor: str, action: str, target: str,
                    details: Mapping[str, Any] | None = None) -> None:
        async def work(conn: Conn) -> None:
            await write_audit(conn, clock=self._clock, ids=self._ids, actor=actor, action=action,
                              target=target, details=details)

        await self._db.write(work)

    async def audit_log(self, *, limit: int = 100, target: str | None = None,
                        people: Collection[str] | None = None) -> Sequence[AuditEntry]:
        async with self._db.read() as conn:
            return await read_audit(conn, limit=limit, target=target, people=people)

    # files customer messages carried

    async def record_attachments(self, message_id: str, items: Sequence[RecordedAttachment]) -> None:
        await self._attachments.record(message_id, items)

    async def attachments(self, interaction_id: str) -> Sequence[RecordedAttachment]:
        return await self._attachments.of_interaction(interaction_id)
