"""The server's own SMTP listener: aiosmtpd's ``SMTP`` protocol served on the application's loop.

No ``Controller`` (it runs its own loop in a thread); ``loop.create_server`` binds the configured
address and every session runs beside the rest of the server. Only our addresses are accepted
as recipients (``550 5.1.1`` otherwise), so the listener is never a relay. ``data_size_limit``
refuses an over-size message while it arrives (``552``, and ``SIZE`` is announced in ``EHLO``);
``InboundMail`` decides everything else after ``DATA``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.email.config import ListenerConfig
from adapters.email.inbound import Disposition, InboundMail, Received
from adapters.email.ingest import BUSY_REPLY, MailIngest
from adapters.email.planned import Incoming

log = logging.getLogger(__name__)


class Handler:
    """aiosmtpd's handler hooks: ``RCPT`` checks the address, ``DATA`` stores the message
    (through ``ingest``'s batches when given, else on its own)."""

    def __init__(self, inbound: InboundMail, addresses: Mapping[str, str], max_recipients: int, *,
                 ingest: MailIngest | None = None) -> None:
        self._inbound = inbound
        self._addresses = addresses
        self._max_recipients = max_recipients
        self._ingest = ingest

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in self._addresses:
            return "550 5.1.1 No such mailbox here"
        if len(envelope.rcpt_tos) >= self._max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        incoming = Incoming(envelope.original_content or b"", envelope_sender=envelope.mail_from or "",
                            recipients=tuple(envelope.rcpt_tos), source="smtp")
        if self._ingest is None:
            return (await self._inbound.receive_batch([incoming]))[0].reply
        answer = self._ingest.submit(incoming)
        if answer is None:
            log.info("email deferred source=smtp why=busy pending=%d", self._ingest.pending)
            return BUSY_REPLY
        # Shielded: a session that drops while its mail is stored does not cancel the store
        # (its server will send again and hear "already received").
        received: Received = await asyncio.shield(answer)
        if received.disposition is Disposition.DEFERRED:
            log.debug("email deferred source=smtp why=%s", received.why)
        return received.reply


class SmtpListener:
    def __init__(self, config: ListenerConfig, handler: Handler, *, data_size_limit: int) -> None:
        self._config = config
        self._handler = handler
        self._limit = data_size_limit
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()

    @property
    def address(self) -> tuple[str, int] | None:
        """Where it listens (the real port when configured with port 0)."""
        if self._server is None or not self._server.sockets:
            return None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self._config
        # aiosmtpd would otherwise ask DNS for our name (getfqdn) on every connection.
        hostname = cfg.hostname or socket.gethostname()

        def session() -> SMTP:
            protocol = _TrackedSMTP(self._handler, data_size_limit=self._limit, enable_SMTPUTF8=True,
                                    decode_data=False, hostname=hostname, ident="cti ESMTP",
                                    timeout=cfg.timeout, loop=loop)
            protocol.tracked_in = self._sessions
            return protocol

        self._server = await loop.create_server(session, cfg.host, cfg.port)
        log.info("smtp listener started address=%s", self.address)

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Open sessions end too: their messages were not accepted yet, so senders will retry.
        for protocol in list(self._sessions):
            if protocol.transport is not None:
                protocol.transport.close()
        await server.wait_closed()
        for _ in range(50):
            if not self._sessions:
                break
            await asyncio.sleep(0.01)


class _TrackedSMTP(SMTP):
    tracked_in: set[SMTP]

    def connection_made(self, transport: Any) -> None:
        self.tracked_in.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.tracked_in.discard(self)
        super().connection_lost(exc)
