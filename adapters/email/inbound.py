"""One received mail, from raw bytes to a stored, threaded message: the channel's inbound path.

Both the SMTP listener and the IMAP poller hand every message to ``InboundMail.receive`` and act
on the ``Received`` it returns (the SMTP answer, or whether to mark the message done). Parsing
runs in a worker thread; one Message-ID is handled by one task at a time, so a message delivered
twice at once is still stored once. An unexpected error is a temporary failure (``451``): the
sender, or the next poll, tries again, and no other message is affected.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adapters.channel import AdapterDeps, InboundMessage, Threaded, deliver
from adapters.email.ack_policy import ack_recipient
from adapters.email.attachments import AttachmentStore
from adapters.email.body import Listed, message_body
from adapters.email.config import EmailConfig, Limits
from adapters.email.dmarc import sender_level
from adapters.email.loops import Automatic, classify, is_robot_address
from adapters.email.mime import MailRefused, ParsedMail, parse_mail
from adapters.email.quotes import trim_quoted
from adapters.email.threads import clean_subject, make_tag, tags_in, thread_refs
from adapters.locks import KeyedLocks
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity, Interaction
from cti.errors import Conflict, InvalidInput
from cti.identities import normalise_email
from cti.lifecycle import OPEN_STATES
from cti.ports import RecordedAttachment

log = logging.getLogger(__name__)

REF_TAG = "email_tag"  # interaction ref: the reference tag in our subjects
REF_ROOT = "email_root"  # interaction ref: the Message-ID of the mail that started it
REF_ACK = "email_ack"  # interaction ref: the Message-ID of our acknowledgement
# Messages parsed at once, in the channel's own threads: each may briefly need several times its
# size in memory, and a shared executor could be filled by other work (or by a test's clients).
MAX_PARSING = 4
# Mails of a batch stored at once: enough for their database round trips to overlap, few enough
# that a chat's or a call's write never queues behind a whole batch (SQLite takes writes one at
# a time, in order; PostgreSQL's pool has a handful of connections for everyone).
MAX_STORING = 4


class Disposition(enum.StrEnum):
    STORED = "stored"  # a new interaction
    THREADED = "threaded"  # a message on an open interaction
    DUPLICATE = "duplicate"  # this Message-ID is already stored
    DROPPED = "dropped"  # automatic mail that continues no thread (policy "drop")
    REFUSED = "refused"  # never acceptable: 5xx
    DEFERRED = "deferred"  # could not be stored now: 4xx, try again

    @property
    def done(self) -> bool:
        """Nothing more will come of trying this message again."""
        return self is not Disposition.DEFERRED


@dataclass(frozen=True, slots=True)
class Received:
    disposition: Disposition
    reply: str  # the SMTP answer
    interaction_id: str | None = None
    message_id: str | None = None
    why: str | None = None
    automatic: Automatic | None = None


@dataclass(frozen=True, slots=True)
class AckRequest:
    """A new thread to acknowledge (sent in the background, never for automatic mail)."""

    interaction: Interaction
    to_addr: str
    from_addr: str | None
    subject: str
    tag: str
    in_reply_to: str | None
    references: tuple[str, ...]
    ack_id: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """One raw message as it arrived, before anything is read from it."""

    raw: bytes = field(repr=False)
    envelope_sender: str | None  # ``MAIL FROM`` ("" for ``<>``); None when unknown (polled)
    recipients: tuple[str, ...] = ()
    source: str = "smtp"
    queue: str | None = None  # the fallback when no recipient is one of our addresses


AckCallback = Callable[[AckRequest], Awaitable[None]]
T = TypeVar("T")


class InboundMail:
    def __init__(self, *, config: EmailConfig, deps: AdapterDeps, store: AttachmentStore | None,
                 new_message_id: Callable[[], str], on_new_thread: AckCallback | None) -> None:
        self._config = config
        self._deps = deps
        self._store = store
        self._new_id = new_message_id
        self._on_new_thread = on_new_thread
        self._locks = KeyedLocks()
        self._pool = ThreadPoolExecutor(max_workers=MAX_PARSING, thread_name_prefix="email-parse")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def receive(self, raw: bytes, *, envelope_sender: str | None, recipients: Sequence[str] = (),
                      source: str = "smtp", queue: str | None = None) -> Received:
        """Store one raw message. ``envelope_sender`` is the SMTP ``MAIL FROM`` ("" for ``<>``),
        None when unknown (a polled mailbox: its ``Return-Path`` is used); ``queue`` is the
        fallback when none of the recipients is one of our addresses."""
        incoming = Incoming(raw, envelope_sender=envelope_sender, recipients=tuple(recipients), source=source,
                            queue=queue)
        return (await self.receive_batch([incoming]))[0]

    async def receive_batch(self, mails: Sequence[Incoming]) -> list[Received]:
        """Store several raw messages, answering each on its own (one's refusal or failure is only
        that one's). The batch is parsed in one hop to the parsing threads, then stored in order,
        so a mail that continues one earlier in the batch is threaded onto it."""
        limits = self._config.limits
        results: list[Received | None] = [None] * len(mails)
        to_parse: list[int] = []
        for n, incoming in enumerate(mails):
            if len(incoming.raw) > limits.message_bytes:
                results[n] = _refused(MailRefused(552, "5.3.4", "too-large",
                                                  f"Message exceeds the {limits.message_bytes} byte limit"),
                                      incoming.source)
            else:
                to_parse.append(n)
        if to_parse:
            parsed_all = await self._in_thread(_parse_all, [mails[n].raw for n in to_parse], limits)
            batch = [(mails[n], parsed) for n, parsed in zip(to_parse, parsed_all, strict=True)]

            def answer(k: int, received: Received) -> None:
                results[to_parse[k]] = received

            await self._store_batch(batch, answer)
        return [r for r in results if r is not None]

    async def _store_batch(self, batch: Sequence[tuple[Incoming, ParsedMail | BaseException]],
                           answer: Callable[[int, Received], None]) -> None:
        """Stores side by side (their database round trips overlap), except that a mail naming an
        earlier one of the batch (In-Reply-To, References) waits for it, so it is threaded onto it."""
        position = {p.message_id: k for k, (_, p) in enumerate(batch) if isinstance(p, ParsedMail)}
        stored = [asyncio.Event() for _ in batch]
        storing = asyncio.Semaphore(MAX_STORING)

        async def one(k: int, incoming: Incoming, parsed: ParsedMail | BaseException) -> None:
            try:
                if isinstance(parsed, ParsedMail):
                    for ref in thread_refs(parsed.in_reply_to, parsed.references, parsed.report_refs):
                        earlier = position.get(ref)
                        if earlier is not None and earlier < k:
                            await stored[earlier].wait()
                async with storing:
                    answer(k, await self._received(incoming, parsed))
            finally:
                stored[k].set()

        await asyncio.gather(*(one(k, incoming, parsed) for k, (incoming, parsed) in enumerate(batch)))

    async def _received(self, incoming: Incoming, parsed: ParsedMail | BaseException) -> Received:
        source = incoming.source
        if isinstance(parsed, MailRefused):
            return _refused(parsed, source)
        if isinstance(parsed, BaseException):
            # A message our parser cannot take would fail the same way on every retry: refuse it,
            # so its sender hears of it, and log the type for us (never the content).
            log.error("email unreadable source=%s error=%s", source, type(parsed).__name__)
            return _refused(MailRefused(554, "5.6.0", "unreadable", "Message could not be read"), source)
        envelope_sender = incoming.envelope_sender
        sender = parsed.from_addr or _address(envelope_sender)
        if sender is None:
            return _refused(MailRefused(550, "5.1.7", "no-sender", "The message has no valid sender address"),
                            source)
        async with self._locks.hold(parsed.message_id):
            try:
                return await self._store_mail(parsed, sender=sender, envelope_sender=envelope_sender,
                                              recipients=incoming.recipients, source=source,
                                              queue=incoming.queue)
            except Exception as exc:  # one message's failure is only that message's
                # The type only: a database error's text may quote the message body.
                log.warning("email deferred source=%s error=%s", source, type(exc).__name__)
                log.debug("email deferred", exc_info=True)
                return Received(Disposition.DEFERRED, "451 4.3.0 Temporary failure, please try again later",
                                message_id=parsed.message_id, why=type(exc).__name__)

    async def _store_mail(self, parsed: ParsedMail, *, sender: str, envelope_sender: str | None,
                          recipients: Sequence[str], source: str, queue: str | None) -> Received:
        config, context = self._config, self._deps.context
        automatic = classify(
            envelope_sender=envelope_sender if envelope_sender is not None else parsed.return_path,
            from_addr=parsed.from_addr, headers=parsed.headers, content_type=parsed.content_type,
            own_addresses=config.addresses, loop_token=config.domain)
        if await context.find_interaction_by_message_ref([parsed.message_id]) is not None:
            return self._duplicate(parsed, source)
        identity = Identity(IdentityKind.EMAIL, sender)
        trust = self._deps.config.identity.email
        level, level_source = sender_level(parsed.auth_results, trusted=trust.trusted_authserv_ids,
                                           require_pass=trust.require_dmarc_pass)
        refs, target, follows = await self._thread(parsed, identity, level)
        if target is None and automatic is not None and config.automatic == "drop":
            log.info("email dropped source=%s automatic=%s", source, automatic.value)
            return Received(Disposition.DROPPED, "250 2.0.0 OK", message_id=parsed.message_id,
                            why="automatic", automatic=automatic)
        to_queue, to_address = config.queue_for([*recipients, *parsed.recipients])
        reply_to = self._reply_address(parsed, sender)
        ack_to = ack_recipient(  # never the Reply-To: see ack_policy
            envelope_sender=envelope_sender if envelope_sender is not None else parsed.return_path,
            from_addr=parsed.from_addr, own_addresses=config.addresses)
        will_ack = (target is None and automatic is None and config.acknowledge
                    and self._on_new_thread is not None and ack_to is not None)
        tag = make_tag(parsed.message_id)
        ack_id = self._new_id() if will_ack else None
        interaction_refs = {REF_TAG: tag, REF_ROOT: parsed.message_id}
        if ack_id is not None:
            interaction_refs[REF_ACK] = ack_id
        # Shown in the screen pop of a new interaction; ``email.reply_to``/``email.from`` are also
        # where the agent's replies go.
        collected = {"email.from": sender, "email.source": source}
        optional = {"email.reply_to": reply_to if reply_to != sender else None, "email.to": to_address,
                    "email.follows": follows, "email.automatic": automatic.value if automatic else None}
        collected.update({k: v for k, v in optional.items() if v is not None})
        body, kept = await self._body(parsed, automatic)
        msg = InboundMessage(
            channel=Channel.EMAIL, identities=[InboundIdentity(identity, level, level_source)], body=body,
            message_ref=parsed.message_id, display_name=parsed.from_name, thread_refs=refs,
            interaction_refs=interaction_refs, subject=clean_subject(parsed.subject), context=collected,
            queue=to_queue or queue or config.default_queue)
        deps = self._deps
        try:
            # Checked for a duplicate and threaded above, under this Message-ID's lock.
            delivery = await deliver(deps.interactions, deps.context, deps.clock, msg,
                                     threaded=Threaded(target))
        except Conflict:
            # The thread was closed between finding it and storing on it: the mail starts a new one.
            delivery = await deliver(deps.interactions, deps.context, deps.clock,
                                     _unthreaded(msg), threaded=Threaded(None))
        if delivery.message is None:
            return self._duplicate(parsed, source)
        # The files the desktop may serve for this message: recorded now, never read from text.
        await context.record_attachments(delivery.message.id, [
            RecordedAttachment(ref=k.ref, filename=k.filename, content_type=k.content_type)
            for k in kept if k.ref is not None])
        interaction = delivery.interaction
        log.info("email %s source=%s interaction=%s automatic=%s attachments=%d",
                 "stored" if delivery.new_interaction else "threaded", source, interaction.id,
                 automatic.value if automatic else None, len(parsed.attachments))
        if (delivery.new_interaction and ack_id is not None and ack_to is not None
                and self._on_new_thread is not None
                and interaction.channel_refs.get(REF_ACK) == ack_id):
            await self._on_new_thread(AckRequest(
                interaction=interaction, to_addr=ack_to, from_addr=to_address,
                subject=parsed.subject, tag=tag,
                in_reply_to=None if parsed.synthetic_id else parsed.message_id,
                references=(*parsed.references, *(() if parsed.synthetic_id else (parsed.message_id,))),
                ack_id=ack_id))
        return Received(Disposition.STORED if delivery.new_interaction else Disposition.THREADED,
                        "250 2.0.0 OK", interaction_id=interaction.id, message_id=parsed.message_id,
                        automatic=automatic)

    async def _thread(self, parsed: ParsedMail, identity: Identity,
                      level: IdentityLevel) -> tuple[list[str], Interaction | None, str | None]:
        """``(thread_refs, open interaction it continues or None, closed one it refers to)``.

        Headers first (any of our or the customer's earlier Message-IDs), then a reply to our
        acknowledgement, then the subject tag, which only threads a customer's mail onto that
        customer's own interaction (a tag is short enough to guess).
        """
        context = self._deps.context
        refs = list(thread_refs(parsed.in_reply_to, parsed.references, parsed.report_refs))
        follows: str | None = None
        if refs:
            found = await context.find_interaction_by_message_ref(refs)
            if found is not None and found.channel is Channel.EMAIL:
                if found.state in OPEN_STATES:
                    return refs, found, None
                follows = found.id
        for ref in [*parsed.in_reply_to, *parsed.report_refs][:5]:
            found = await context.find_interaction_by_ref(REF_ACK, ref)
            if found is not None and found.channel is Channel.EMAIL:
                if found.state in OPEN_STATES and REF_ROOT in found.channel_refs:
                    return [found.channel_refs[REF_ROOT]], found, None
                follows = follows or found.id
        for tag in tags_in(parsed.subject)[:3]:
            found = await context.find_interaction_by_ref(REF_TAG, tag)
            if found is None or found.channel is not Channel.EMAIL:
                continue
            if found.state in OPEN_STATES and REF_ROOT in found.channel_refs:
                # A claimed sender (DMARC failed) is nobody's: the tag alone threads nothing.
                if level is not IdentityLevel.CLAIMED and await self._same_customer(identity, found):
                    return [found.channel_refs[REF_ROOT]], found, None
            elif found.state not in OPEN_STATES:
                follows = follows or found.id
        return refs, None, follows

    async def _same_customer(self, identity: Identity, interaction: Interaction) -> bool:
        customer = await self._deps.context.find_customer(identity)
        if customer is None:
            return False
        # The merge tree's open interactions: right even when the customer was merged since.
        mine = await self._deps.context.open_interactions(customer.id, Channel.EMAIL)
        return any(i.id == interaction.id for i in mine)

    def _reply_address(self, parsed: ParsedMail, sender: str) -> str | None:
        """Where an answer goes: Reply-To, else From; never one of ours or a robot's."""
        for candidate in (parsed.reply_to, sender):
            if candidate and candidate not in self._config.addresses and not is_robot_address(candidate):
                return candidate
        return None

    async def _body(self, parsed: ParsedMail, automatic: Automatic | None) -> tuple[str, list[Listed]]:
        shown, _ = trim_quoted(parsed.text)
        kept = await self._keep(parsed)
        limit = self._deps.config.max_message_chars
        body, truncated = self._format(shown, automatic, kept, parsed, limit)
        if truncated and self._store is not None:
            # Nothing is lost: the whole text goes with the attachments.
            data = parsed.text.encode("utf-8")
            ref = await self._in_thread(self._store.save, data)
            kept = [*kept, Listed("message.txt", "text/plain", len(data), ref)]
            body, _ = self._format(shown, automatic, kept, parsed, limit)
        return body, kept

    def _format(self, shown: str, automatic: Automatic | None, kept: list[Listed], parsed: ParsedMail,
                limit: int) -> tuple[str, bool]:
        limits = self._config.limits
        return message_body(text=shown, automatic=automatic, kept=kept, skipped=parsed.skipped,
                            parts_unread=parsed.parts_unread, limit=limit,
                            attachment_limit=limits.attachment_bytes,
                            total_limit=limits.total_attachment_bytes)

    async def _keep(self, parsed: ParsedMail) -> list[Listed]:
        store = self._store
        if store is None or not parsed.attachments:
            return [Listed(a.filename, a.content_type, len(a.data), None) for a in parsed.attachments]

        def save_all() -> list[Listed]:
            return [Listed(a.filename, a.content_type, len(a.data), store.save(a.data))
                    for a in parsed.attachments]

        return await self._in_thread(save_all)

    def _duplicate(self, parsed: ParsedMail, source: str) -> Received:
        log.info("email duplicate source=%s", source)
        return Received(Disposition.DUPLICATE, "250 2.0.0 OK (already received)",
                        message_id=parsed.message_id, why="duplicate")


def _parse_all(raws: Sequence[bytes], limits: Limits) -> list[ParsedMail | BaseException]:
    """In a parsing thread: each message parsed, or the error that refuses it."""
    out: list[ParsedMail | BaseException] = []
    for raw in raws:
        try:
            out.append(parse_mail(raw, limits))
        except Exception as exc:
            out.append(exc)
    return out


def _unthreaded(msg: InboundMessage) -> InboundMessage:
    return InboundMessage(
        channel=msg.channel, identities=msg.identities, body=msg.body, message_ref=msg.message_ref,
        display_name=msg.display_name, interaction_refs=msg.interaction_refs, subject=msg.subject,
        context=msg.context, queue=msg.queue)


def _address(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalise_email(value)
    except InvalidInput:
        return None


def _refused(exc: MailRefused, source: str) -> Received:
    log.info("email refused source=%s why=%s", source, exc.why)
    return Received(Disposition.REFUSED, exc.reply, why=exc.why)
