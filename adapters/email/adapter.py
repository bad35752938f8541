"""The e-mail channel as the core sees it: inbound by SMTP and IMAP, replies by the relay.

Wires the parts (``InboundMail``, ``SmtpListener``, ``MailboxPoller``, ``Replies``) and owns the
background work: the listener, the pollers and the acknowledgements in flight, all ended by
``aclose``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from adapters.channel import AdapterDeps, SendResult
from adapters.email.attachments import AttachmentStore
from adapters.email.config import EmailConfig
from adapters.email.imap import MailboxPoller
from adapters.email.inbound import AckRequest, InboundMail, Received
from adapters.email.ingest import MailIngest
from adapters.email.listener import Handler, SmtpListener
from adapters.email.relay import SmtpRelay
from adapters.email.replies import Replies
from cti.domain import Channel, Customer, IdentityKind, Interaction, Message
from cti.ports import AttachmentFile, RecordedAttachment
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)


class EmailAdapter:
    channel = Channel.EMAIL
    code_kind = IdentityKind.EMAIL  # sends one-time codes to claimed addresses (cti.codes.CodeSender)

    def __init__(self, config: EmailConfig, deps: AdapterDeps) -> None:
        self.config = config
        store = AttachmentStore(Path(config.attachments_dir)) if config.attachments_dir else None
        self._store = store
        relay = SmtpRelay(config.relay) if config.relay is not None else None
        self._relay = relay
        self._replies = Replies(config=config, deps=deps, relay=relay)
        self.inbound = InboundMail(config=config, deps=deps, store=store, new_message_id=self._replies.new_id,
                                   on_new_thread=self._acknowledge if relay is not None else None)
        listening = config.listener
        self.ingest: MailIngest | None = None
        self.listener: SmtpListener | None = None
        if listening is not None:
            self.ingest = MailIngest(self.inbound, capacity=listening.queue,
                                     capacity_bytes=listening.queue_bytes, batch=listening.batch)
            handler = Handler(self.inbound, config.addresses, listening.max_recipients, ingest=self.ingest)
            self.listener = SmtpListener(listening, handler, data_size_limit=config.limits.message_bytes)
        self.pollers = [MailboxPoller(m, self.inbound, max_message_bytes=config.limits.message_bytes)
                        for m in config.mailboxes]
        # With several nodes, one polls each mailbox: the others would fetch the same mail again.
        self._polling = [deps.leases.one_node(f"imap:{p.name}", start=p.start, stop=p.aclose)
                         for p in self.pollers]
        self._acks: set[asyncio.Task[None]] = set()

    def attachment(self, recorded: RecordedAttachment) -> AttachmentFile | None:
        """A kept attachment, only as recorded on a customer message when the mail arrived:
        holding a reference alone opens nothing of another customer's."""
        if self._store is None:
            return None  # attachments are listed, not kept
        try:
            path = self._store.path_of(recorded.ref)
        except ValueError:
            return None  # an MMS link or another channel's record
        if not path.is_file():
            return None
        return AttachmentFile(path=path, filename=recorded.filename, content_type=recorded.content_type)

    def mount(self, app: web.Application) -> None:
        """No webhook: mail arrives by SMTP and IMAP."""

    async def start(self) -> None:
        if self.ingest is not None:
            await self.ingest.start()
        if self.listener is not None:
            await self.listener.start()
        for polling in self._polling:
            await polling.start()

    async def aclose(self) -> None:
        if self.listener is not None:
            await self.listener.aclose()
        if self.ingest is not None:
            await self.ingest.aclose()
        for polling in self._polling:
            await polling.aclose()
        acks = list(self._acks)
        if acks:
            # A moment for acknowledgements already handed to the relay, then they are dropped.
            _, pending = await asyncio.wait(acks, timeout=5.0)
            await stop_tasks(pending)
        self.inbound.close()
        if self._relay is not None:
            self._relay.close()

    async def receive(self, raw: bytes, *, envelope_sender: str | None = None,
                      recipients: Sequence[str] = (), source: str = "api") -> Received:
        """Store one raw message as if it had arrived by SMTP (benchmarks, imports)."""
        return await self.inbound.receive(raw, envelope_sender=envelope_sender, recipients=recipients,
                                          source=source)

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        return await self._replies.reply(interaction, message, customer)

    async def send_code(self, to: str, text: str) -> None:
        await self._replies.code(to, text, queue=self.config.default_queue or "")

    async def _acknowledge(self, ack: AckRequest) -> None:
        # In the background: the SMTP answer to the customer's server must not wait on our relay.
        task = asyncio.create_task(self._replies.acknowledge(ack), name=f"email-ack {ack.interaction.id}")
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)
