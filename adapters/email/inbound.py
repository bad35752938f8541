"""One received mail, from raw bytes to a stored, threaded message: the channel's inbound path.

Both the SMTP listener (through its ingest queue, a batch at a time) and the IMAP poller hand
messages to ``InboundMail.receive_batch`` and act on the ``Received`` it returns for each (the
SMTP answer, or whether to mark the message done). Parsing runs in worker threads. A batch is
threaded in order, from one lookup per kind of reference for the whole batch, then written in one
transaction (``InteractionService.start_inbound_batch``); the inbound claim each message takes
in it means a message delivered twice at once is still stored once. A mail the batch cannot take
is stored alone afterwards, the one-mail way, under a lock on its Message-ID. An unexpected error
is a temporary failure (``451``) of that mail only: the sender, or the next poll, tries again.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.channel import AdapterDeps, InboundMessage, Threaded, deliver
from adapters.email.ack_policy import ack_recipient
from adapters.email.attachments import AttachmentStore
from adapters.email.body import Listed, message_body
from adapters.email.config import EmailConfig, Limits
from adapters.email.dmarc import sender_level
from adapters.email.finders import REF_ACK, REF_ROOT, REF_TAG, BatchFinder, Finder, StoreFinder, thread_of
from adapters.email.loops import Automatic, classify, is_robot_address
from adapters.email.mime import MailRefused, ParsedMail, parse_mail
from adapters.email.planned import Incoming, Mail, Plan, recorded
from adapters.email.quotes import trim_quoted
from adapters.email.threads import make_tag, thread_refs
from adapters.locks import KeyedLocks
from cti.domain import Identity, IdentityKind, Interaction
from cti.errors import Conflict, InvalidInput
from cti.identities import normalise_email

log = logging.getLogger(__name__)

# Messages parsed at once, in the channel's own threads: each may briefly need several times its
# size in memory, and a shared executor could be filled by other work (or by a test's clients).
MAX_PARSING = 4


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
        """Threads the batch in order (a mail naming an earlier one of the batch goes on its
        interaction), then stores it in one transaction (``start_inbound_batch``). A mail the
        batch could not take, or whose turn failed, is stored alone afterwards, in order, by the
        one-mail way (``_received``): its answer is then exactly what it would have been."""
        mails: list[tuple[int, Mail]] = []
        alone: list[int] = []
        for k, (incoming, parsed) in enumerate(batch):
            try:
                prepared = self._prepare(incoming, parsed)
            except Exception:
                alone.append(k)
                continue
            if isinstance(prepared, Received):
                answer(k, prepared)
            else:
                mails.append((k, prepared))
        planned: list[tuple[int, Mail, Plan]] = []
        repeats: dict[int, int] = {}  # a mail -> the earlier one of the batch with its Message-ID
        try:
            finder = await BatchFinder.load(self._deps.context, [m.parsed for _, m in mails], ack_key=REF_ACK)
        except Exception as exc:
            log.warning("email batch lookups failed size=%d error=%s", len(mails), type(exc).__name__)
            alone += [k for k, _ in mails]
            mails = []
            finder = None
        by_id: dict[str, int] = {}
        put_off: set[str] = set()  # Message-IDs of mails stored alone: who names them waits too
        for k, mail in mails:
            parsed = mail.parsed
            refs = thread_refs(parsed.in_reply_to, parsed.references, parsed.report_refs)
            if finder is None or parsed.message_id in put_off or put_off.intersection(refs):
                alone.append(k)
                put_off.add(parsed.message_id)
                continue
            try:
                if parsed.message_id in by_id:
                    repeats[k] = by_id[parsed.message_id]
                    continue
                if await finder.by_message_refs([parsed.message_id]) is not None:
                    answer(k, self._duplicate(parsed, mail.incoming.source))
                    continue
                plan = await self._plan(mail, finder, new_id=self._deps.ids.new_id("int"))
            except Exception:
                alone.append(k)
                put_off.add(parsed.message_id)
                continue
            if isinstance(plan, Received):
                answer(k, plan)
                continue
            by_id[parsed.message_id] = k
            finder.add(parsed.message_id, plan.target or plan.provisional())
            planned.append((k, mail, plan))
        stored = await self._store_planned(planned, answer)
        alone += [k for k, _, _ in planned if k not in stored]
        mail_of = dict(mails)
        for k, first in repeats.items():
            if first in stored:
                answer(k, self._duplicate(mail_of[k].parsed, mail_of[k].incoming.source))
            else:
                alone.append(k)
        for k in sorted(alone):
            answer(k, await self._received(*batch[k]))

    async def _store_planned(self, planned: Sequence[tuple[int, Mail, Plan]],
                             answer: Callable[[int, Received], None]) -> set[int]:
        """The planned mails in one transaction; the ones stored (and answered)."""
        if not planned:
            return set()
        try:
            bodies = await self._in_thread(
                lambda: [self._body_now(mail.parsed, mail.automatic) for _, mail, _ in planned])
            items = [plan.item(body, kept)
                     for (_, _, plan), (body, kept) in zip(planned, bodies, strict=True)]
            results = await self._deps.interactions.start_inbound_batch(items)
        except Exception as exc:
            # Nothing of it was stored: each is stored alone, so a failure stays that mail's.
            log.warning("email batch not stored size=%d error=%s", len(planned), type(exc).__name__)
            log.debug("email batch not stored", exc_info=True)
            return set()
        done: set[int] = set()
        for (k, mail, plan), result in zip(planned, results, strict=True):
            if result.interaction is None:
                log.debug("email stored alone why=%s", result.why)
                continue
            done.add(k)
            if result.message is None:
                answer(k, self._duplicate(mail.parsed, mail.incoming.source))
            else:
                answer(k, await self._stored(mail, plan, result.interaction, new=result.new_interaction))
        return done

    async def _received(self, incoming: Incoming, parsed: ParsedMail | BaseException) -> Received:
        """One mail stored on its own (the batch's fallback, in order)."""
        try:
            prepared = self._prepare(incoming, parsed)
            if isinstance(prepared, Received):
                return prepared
            async with self._locks.hold(prepared.parsed.message_id):
                return await self._store_mail(prepared)
        except Exception as exc:  # one message's failure is only that message's
            # The type only: a database error's text may quote the message body.
            log.warning("email deferred source=%s error=%s", incoming.source, type(exc).__name__)
            log.debug("email deferred", exc_info=True)
            return Received(Disposition.DEFERRED, "451 4.3.0 Temporary failure, please try again later",
                            message_id=parsed.message_id if isinstance(parsed, ParsedMail) else None,
                            why=type(exc).__name__)

    def _prepare(self, incoming: Incoming, parsed: ParsedMail | BaseException) -> Mail | Received:
        """What a mail says of itself, or its refusal; nothing is read from the database."""
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
        config = self._config
        returned_to = envelope_sender if envelope_sender is not None else parsed.return_path
        automatic = classify(
            envelope_sender=returned_to, from_addr=parsed.from_addr, headers=parsed.headers,
            content_type=parsed.content_type, own_addresses=config.addresses, loop_token=config.domain)
        trust = self._deps.config.identity.email
        level, level_source = sender_level(parsed.auth_results, trusted=trust.trusted_authserv_ids,
                                           require_pass=trust.require_dmarc_pass)
        to_queue, to_address = config.queue_for([*incoming.recipients, *parsed.recipients])
        ack_to = ack_recipient(  # never the Reply-To: see ack_policy
            envelope_sender=returned_to, from_addr=parsed.from_addr, own_addresses=config.addresses)
        return Mail(incoming=incoming, parsed=parsed, sender=sender, automatic=automatic,
                     identity=Identity(IdentityKind.EMAIL, sender), level=level, level_source=level_source,
                     queue=to_queue or incoming.queue or config.default_queue, to_address=to_address,
                     reply_to=self._reply_address(parsed, sender), ack_to=ack_to)

    async def _store_mail(self, mail: Mail) -> Received:
        parsed, source = mail.parsed, mail.incoming.source
        context = self._deps.context
        if await context.find_interaction_by_message_ref([parsed.message_id]) is not None:
            return self._duplicate(parsed, source)
        plan = await self._plan(mail, StoreFinder(context), new_id=None)
        if isinstance(plan, Received):
            return plan
        body, kept = await self._in_thread(self._body_now, parsed, mail.automatic)
        msg = plan.message(body)
        deps = self._deps
        try:
            # Checked for a duplicate and threaded above, under this Message-ID's lock.
            delivery = await deliver(deps.interactions, deps.context, deps.clock, msg,
                                     threaded=Threaded(plan.target))
        except Conflict:
            # The thread was closed between finding it and storing on it: the mail starts a new one.
            delivery = await deliver(deps.interactions, deps.context, deps.clock,
                                     _unthreaded(msg), threaded=Threaded(None))
        if delivery.message is None:
            return self._duplicate(parsed, source)
        await context.record_attachments(delivery.message.id, recorded(kept))
        return await self._stored(mail, plan, delivery.interaction, new=delivery.new_interaction)

    async def _plan(self, mail: Mail, finder: Finder, *, new_id: str | None) -> Plan | Received:
        """Threaded (``_thread``) and decided: dropped, or what to store and whether to acknowledge."""
        config, parsed = self._config, mail.parsed
        refs, target, follows = await thread_of(parsed, mail.identity, mail.level, finder, self._deps.context)
        if target is None and mail.automatic is not None and config.automatic == "drop":
            log.info("email dropped source=%s automatic=%s", mail.incoming.source, mail.automatic.value)
            return Received(Disposition.DROPPED, "250 2.0.0 OK", message_id=parsed.message_id,
                            why="automatic", automatic=mail.automatic)
        will_ack = (target is None and mail.automatic is None and config.acknowledge
                    and self._on_new_thread is not None and mail.ack_to is not None)
        tag = make_tag(parsed.message_id)
        ack_id = self._new_id() if will_ack else None
        interaction_refs = {REF_TAG: tag, REF_ROOT: parsed.message_id}
        if ack_id is not None:
            interaction_refs[REF_ACK] = ack_id
        # Shown in the screen pop of a new interaction; ``email.reply_to``/``email.from`` are also
        # where the agent's replies go.
        collected = {"email.from": mail.sender, "email.source": mail.incoming.source}
        optional = {"email.reply_to": mail.reply_to if mail.reply_to != mail.sender else None,
                    "email.to": mail.to_address, "email.follows": follows,
                    "email.automatic": mail.automatic.value if mail.automatic else None}
        collected.update({k: v for k, v in optional.items() if v is not None})
        return Plan(mail=mail, refs=refs, target=target, tag=tag, ack_id=ack_id,
                     interaction_refs=interaction_refs, collected=collected,
                     interaction_id=new_id if target is None else None)

    async def _stored(self, mail: Mail, plan: Plan, interaction: Interaction, *, new: bool) -> Received:
        parsed = mail.parsed
        log.info("email %s source=%s interaction=%s automatic=%s attachments=%d",
                 "stored" if new else "threaded", mail.incoming.source, interaction.id,
                 mail.automatic.value if mail.automatic else None, len(parsed.attachments))
        if (new and plan.ack_id is not None and mail.ack_to is not None and self._on_new_thread is not None
                and interaction.channel_refs.get(REF_ACK) == plan.ack_id):
            await self._on_new_thread(AckRequest(
                interaction=interaction, to_addr=mail.ack_to, from_addr=mail.to_address,
                subject=parsed.subject, tag=plan.tag,
                in_reply_to=None if parsed.synthetic_id else parsed.message_id,
                references=(*parsed.references, *(() if parsed.synthetic_id else (parsed.message_id,))),
                ack_id=plan.ack_id))
        return Received(Disposition.STORED if new else Disposition.THREADED, "250 2.0.0 OK",
                        interaction_id=interaction.id, message_id=parsed.message_id, automatic=mail.automatic)

    def _reply_address(self, parsed: ParsedMail, sender: str) -> str | None:
        """Where an answer goes: Reply-To, else From; never one of ours or a robot's."""
        for candidate in (parsed.reply_to, sender):
            if candidate and candidate not in self._config.addresses and not is_robot_address(candidate):
                return candidate
        return None

    def _body_now(self, parsed: ParsedMail, automatic: Automatic | None) -> tuple[str, list[Listed]]:
        """In a parsing thread: the stored text, and the attachments kept (saved) or listed."""
        shown, _ = trim_quoted(parsed.text)
        kept = self._keep(parsed)
        limit = self._deps.config.max_message_chars
        body, truncated = self._format(shown, automatic, kept, parsed, limit)
        if truncated and self._store is not None:
            # Nothing is lost: the whole text goes with the attachments.
            data = parsed.text.encode("utf-8")
            kept = [*kept, Listed("message.txt", "text/plain", len(data), self._store.save(data))]
            body, _ = self._format(shown, automatic, kept, parsed, limit)
        return body, kept

    def _format(self, shown: str, automatic: Automatic | None, kept: list[Listed], parsed: ParsedMail,
                limit: int) -> tuple[str, bool]:
        limits = self._config.limits
        return message_body(text=shown, automatic=automatic, kept=kept, skipped=parsed.skipped,
                            parts_unread=parsed.parts_unread, limit=limit,
                            attachment_limit=limits.attachment_bytes,
                            total_limit=limits.total_attachment_bytes)

    def _keep(self, parsed: ParsedMail) -> list[Listed]:
        store = self._store
        if store is None or not parsed.attachments:
            return [Listed(a.filename, a.content_type, len(a.data), None) for a in parsed.attachments]
        return [Listed(a.filename, a.content_type, len(a.data), store.save(a.data))
                for a in parsed.attachments]

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
