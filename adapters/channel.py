"""The contract every written channel (e-mail, SMS, X, Slack) keeps with the core.

Inbound, an adapter turns its channel's event into one ``InboundMessage`` and calls
``deliver``: the message is threaded onto the interaction it continues (by any of its
``thread_refs``: an e-mail's In-Reply-To and References, an X conversation id, a Slack
thread, or the same sender's open interaction on that channel within the channel's window),
or starts a new queued interaction; delivering the same ``message_ref`` twice stores it once.
Outbound, the adapter implements ``ChannelAdapter.send``; the dispatcher (``adapters.outbound``)
calls it for every agent reply on an interaction of its channel and publishes the outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.domain import Channel, Customer, IdentityLevel, InboundIdentity, Interaction, Message
from cti.errors import Conflict
from cti.hub import EventHub
from cti.lease import Leases
from cti.lifecycle import OPEN_STATES
from cti.live_config import LiveConfig
from cti.ports import ContextStore
from cti.service import InteractionService
from cti.surveys import SurveyAnswers


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: Channel
    # Who wrote, with how the channel knows it: verified and asserted ones find the customer,
    # claimed ones are only shown (see ``InteractionService.start_inbound``).
    identities: Sequence[InboundIdentity]
    body: str
    message_ref: str  # the channel's own id of this message: the dedupe key (Message-ID, MessageSid…)
    display_name: str | None = None
    thread_refs: Sequence[str] = ()  # message refs this one answers (In-Reply-To, References…)
    interaction_refs: Mapping[str, str] = field(default_factory=dict)  # stored on a new interaction
    subject: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)  # collected context for a new one
    queue: str | None = None
    # Continue the sender's open interaction on this channel when no thread ref matches
    # (SMS from the same number, a chat visitor); None: only explicit threading.
    continue_open_within: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    interaction: Interaction
    message: Message | None  # None: already stored (a duplicate delivery)
    new_interaction: bool


@dataclass(frozen=True, slots=True)
class Threaded:
    """What a caller already read, under its own lock for this message ref: not stored yet, and
    the open interaction it continues (None: a new one). ``deliver`` then reads neither again."""

    target: Interaction | None


async def deliver(interactions: InteractionService, context: ContextStore, clock: Clock,
                  msg: InboundMessage, *, threaded: Threaded | None = None) -> Delivery:
    if threaded is None:
        duplicate = await context.find_interaction_by_message_ref([msg.message_ref])
        if duplicate is not None:
            return Delivery(duplicate, None, new_interaction=False)
    interactions.check_body(msg.body)
    claim = f"{msg.channel.value}:{msg.message_ref}"
    if not await context.claim_inbound(claim):
        # The same delivery is being stored by another request (a webhook retried while the first
        # was in flight, or sent to two nodes): it is theirs; wait for it rather than double it.
        for _ in range(50):
            await asyncio.sleep(0.1)
            duplicate = await context.find_interaction_by_message_ref([msg.message_ref])
            if duplicate is not None:
                return Delivery(duplicate, None, new_interaction=False)
        raise Conflict("delivery-in-progress", "this message is being stored by another request",
                       message_ref=msg.message_ref)
    try:
        target = threaded.target if threaded is not None else await find_thread(context, clock, msg)
        new = target is None
        stored: Message | None
        if target is None:
            # The first message goes in before the interaction is queued: the offer shows it.
            target = await interactions.start_inbound(
                channel=msg.channel, identities=msg.identities, display_name=msg.display_name,
                queue=msg.queue, channel_refs=msg.interaction_refs, context=msg.context,
                subject=msg.subject, first_message=msg.body, first_message_ref=msg.message_ref)
            stored = next(iter(await context.messages(target.id, limit=1)), None)
        else:
            stored = await interactions.customer_message(target.id, msg.body, channel_ref=msg.message_ref)
    except BaseException:
        # Nothing was stored: the provider's retry must be free to try again.
        await context.release_inbound(claim)
        raise
    return Delivery(target, stored, new_interaction=new)


async def find_thread(context: ContextStore, clock: Clock, msg: InboundMessage) -> Interaction | None:
    """The open interaction ``msg`` continues, or None for a new one."""
    if msg.thread_refs:
        found = await context.find_interaction_by_message_ref(msg.thread_refs)
        if found is not None and found.state in OPEN_STATES and found.channel is msg.channel:
            return found
    if msg.continue_open_within is None:
        return None
    for presented in msg.identities:
        if presented.level is IdentityLevel.CLAIMED:
            continue  # a claim must not thread a message onto someone else's conversation
        customer = await context.find_customer(presented.identity)
        if customer is None:
            continue
        for candidate in await context.open_interactions(customer.id, msg.channel):
            if clock.now() - candidate.arrived_at <= msg.continue_open_within:
                return candidate
    return None


@dataclass(frozen=True, slots=True)
class AdapterDeps:
    """What an adapter may use: the core services, never another adapter."""

    live: LiveConfig  # the running configuration; ``config`` reads it at each use
    interactions: InteractionService
    context: ContextStore
    hub: EventHub
    clock: Clock
    ids: IdSource
    # For work one node of the cluster does at a time (polling a mailbox or an X account).
    leases: Leases = field(default_factory=Leases)
    # Where a channel's own survey (a call's keyed rating) is recorded; None: no surveys.
    surveys: SurveyAnswers | None = None

    @property
    def config(self) -> AppConfig:
        """The running configuration: queues, agents and teams an admin changes count at once."""
        return self.live.current


@dataclass(frozen=True, slots=True)
class SendResult:
    message_ref: str | None  # the channel's id of the sent message (for delivery receipts)
    status: str = "sent"  # "sent" | "queued"


class SendRefused(Exception):
    """The channel will not carry this reply (opted out, blocked…): the agent is told ``why``."""

    def __init__(self, why: str, message: str) -> None:
        super().__init__(message)
        self.why = why
        self.message = message


class SendFailed(Exception):
    """The channel tried and failed (a provider error): ``why`` is what the agent reads."""

    def __init__(self, why: str, message: str) -> None:
        super().__init__(message)
        self.why = why
        self.message = message


class ChannelAdapter(Protocol):
    channel: Channel

    def mount(self, app: web.Application) -> None:
        """Add webhook routes (before the application starts)."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        """Send an agent's reply on the channel; raise ``SendRefused`` or any error on failure."""
        ...
