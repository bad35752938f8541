"""A received mail on its way to the store: what it says of itself (``Mail``), then threaded
and decided (``Plan``), from which the message or the batch item is made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.channel import InboundMessage
from adapters.email.body import Listed
from adapters.email.loops import Automatic
from adapters.email.mime import ParsedMail
from adapters.email.threads import clean_subject
from cti.domain import (
    Channel,
    Direction,
    Identity,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
)
from cti.inbound_batch import InboundItem
from cti.ports import RecordedAttachment


@dataclass(frozen=True, slots=True)
class Incoming:
    """One raw message as it arrived, before anything is read from it."""

    raw: bytes = field(repr=False)
    envelope_sender: str | None  # ``MAIL FROM`` ("" for ``<>``); None when unknown (polled)
    recipients: tuple[str, ...] = ()
    source: str = "smtp"
    queue: str | None = None  # the fallback when no recipient is one of our addresses


@dataclass(frozen=True, slots=True)
class Mail:
    """A parsed mail and what it says of itself, before anything is read from the database."""

    incoming: Incoming
    parsed: ParsedMail
    sender: str
    automatic: Automatic | None
    identity: Identity
    level: IdentityLevel  # of the From: a claim unless DMARC says otherwise (docs/security.md)
    level_source: str
    queue: str | None
    to_address: str | None  # the one of our addresses it was sent to
    reply_to: str | None
    ack_to: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    """A mail threaded and decided, its body still to be made."""

    mail: Mail
    refs: list[str]
    target: Interaction | None  # the open interaction it continues; None: a new one
    tag: str
    ack_id: str | None
    interaction_refs: dict[str, str]
    collected: dict[str, str]
    interaction_id: str | None  # of the new one, given in a batch so later mails can name it

    def message(self, body: str) -> InboundMessage:
        mail = self.mail
        return InboundMessage(
            channel=Channel.EMAIL, identities=[InboundIdentity(mail.identity, mail.level, mail.level_source)],
            body=body, message_ref=mail.parsed.message_id, display_name=mail.parsed.from_name,
            thread_refs=self.refs, interaction_refs=self.interaction_refs,
            subject=clean_subject(mail.parsed.subject), context=self.collected, queue=mail.queue)

    def item(self, body: str, kept: Sequence[Listed]) -> InboundItem:
        msg = self.message(body)
        return InboundItem(
            channel=msg.channel, identities=msg.identities, body=body, message_ref=msg.message_ref,
            display_name=msg.display_name, queue=msg.queue, channel_refs=msg.interaction_refs,
            context=msg.context, subject=msg.subject, continues=self.target,
            interaction_id=self.interaction_id, attachments=recorded(kept))

    def provisional(self) -> Interaction:
        """The new interaction as later mails of the batch see it before it is stored."""
        return Interaction(id=self.interaction_id or "", channel=Channel.EMAIL, direction=Direction.INBOUND,
                           customer_id="", queue=self.mail.queue or "", state=InteractionState.QUEUED,
                           channel_refs=self.interaction_refs)


def recorded(kept: Sequence[Listed]) -> list[RecordedAttachment]:
    """The files the desktop may serve for a message: recorded with it, never read from text."""
    return [RecordedAttachment(ref=k.ref, filename=k.filename, content_type=k.content_type)
            for k in kept if k.ref is not None]


