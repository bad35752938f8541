"""Polling an IMAP mailbox (aioimaplib): each new message stored once, then marked done.

Every ``poll_interval`` the poller takes up to ``batch`` messages not yet done (``UNSEEN``; or
everything still in the mailbox when done messages are moved away), fetches each by UID with
``BODY.PEEK[]`` (fetching must not mark it read: a crash before storing would lose it), hands it
to ``InboundMail`` and only then flags it ``\\Seen`` (and moves it to ``move_to`` if set). A crash
between storing and flagging re-imports the message at the next poll, and the Message-ID dedupe
stores it once. A message that keeps failing is given up after ``MAX_ATTEMPTS`` so it cannot
block the mailbox. Any connection error closes the session; the next poll reconnects, backing off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections import OrderedDict
from typing import Any

import aioimaplib

from adapters.email.config import MailboxConfig
from adapters.email.inbound import Disposition, InboundMail
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # deferrals of one message before it is given up (flagged and logged)
MAX_BACKOFF = 300.0
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The server answered a command with NO or BAD (the text never holds the password)."""


class MailboxPoller:
    def __init__(self, config: MailboxConfig, inbound: InboundMail, *, max_message_bytes: int) -> None:
        self._config = config
        self._inbound = inbound
        self._max_bytes = max_message_bytes
        self._client: Any = None
        self._lost = False  # the server closed the session (aioimaplib keeps its state as it was)
        self._task: asyncio.Task[None] | None = None
        self._attempts: OrderedDict[int, int] = OrderedDict()
        self.polls = 0  # completed polls, for tests and health checks

    @property
    def name(self) -> str:
        return self._config.name

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"imap-poll {self._config.name}")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])
        await self._disconnect()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self.poll_once()
                failures = 0
                delay = self._config.poll_interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a mailbox outage must not end the poller
                failures += 1
                log.warning("imap poll failed mailbox=%s attempt=%d error=%s: %s", self._config.name,
                            failures, type(exc).__name__, exc)
                await self._disconnect()
                delay = min(max(1.0, self._config.poll_interval) * 2 ** min(failures - 1, 8), MAX_BACKOFF)
            await asyncio.sleep(delay)

    async def poll_once(self) -> int:
        """One poll; returns how many messages were handled (stored, duplicate, dropped, refused)."""
        client = await self._connected()
        criterion = "ALL" if self._config.move_to else "UNSEEN"
        found = _ok(await client.uid_search(criterion, charset=None), "SEARCH")
        uids = sorted({int(n) for line in found.lines[:-1] for n in bytes(line).split() if n.isdigit()})
        handled = 0
        for uid in uids[: self._config.batch]:
            if await self._one(client, uid):
                handled += 1
        self.polls += 1
        return handled

    async def _one(self, client: Any, uid: int) -> bool:
        name = self._config.name
        meta = _ok(await client.uid("fetch", str(uid), "(UID RFC822.SIZE)"), "FETCH")
        sizes = [int(m.group(1)) for line in meta.lines if isinstance(line, bytes | bytearray)
                 for m in [_SIZE.search(bytes(line))] if m]
        if not sizes:
            return False  # gone since the search (expunged by someone else)
        if sizes[0] > self._max_bytes:
            log.info("email refused source=imap:%s why=too-large", name)
            await self._done(client, uid)
            return True
        fetched = _ok(await client.uid("fetch", str(uid), "(BODY.PEEK[])"), "FETCH")
        raw = next((bytes(line) for line in fetched.lines if isinstance(line, bytearray)), None)
        if raw is None:
            return False
        received = await self._inbound.receive(raw, envelope_sender=None, source=f"imap:{name}",
                                               queue=self._config.queue)
        if received.disposition is Disposition.DEFERRED:
            attempts = self._attempts.pop(uid, 0) + 1
            if attempts < MAX_ATTEMPTS:
                self._attempts[uid] = attempts
                while len(self._attempts) > 1000:
                    self._attempts.popitem(last=False)
                return False
            log.error("email given up source=imap:%s uid=%d after %d attempts: %s", name, uid, attempts,
                      received.why)
        self._attempts.pop(uid, None)
        await self._done(client, uid)
        return True

    async def _done(self, client: Any, uid: int) -> None:
        _ok(await client.uid("store", str(uid), "+FLAGS.SILENT (\\Seen)"), "STORE")
        target = self._config.move_to
        if target is None:
            return
        mailbox = _quoted(target)
        if "MOVE" in client.protocol.capabilities:
            _ok(await client.uid("move", str(uid), mailbox), "MOVE")
            return
        _ok(await client.uid("copy", str(uid), mailbox), "COPY")
        _ok(await client.uid("store", str(uid), "+FLAGS.SILENT (\\Deleted)"), "STORE")
        if "UIDPLUS" in client.protocol.capabilities:
            _ok(await client.uid("expunge", str(uid)), "EXPUNGE")
        else:
            _ok(await client.expunge(), "EXPUNGE")

    async def _connected(self) -> Any:
        client = self._client
        if client is not None and not self._lost and client.get_state() == "SELECTED":
            return client
        await self._disconnect()
        cfg = self._config
        self._lost = False

        def lost(_: Exception | None) -> None:
            self._lost = True

        # IMAP4 with a context is implicit TLS (IMAP4_SSL would not take the callback).
        client = aioimaplib.IMAP4(host=cfg.host, port=cfg.port, timeout=cfg.timeout, conn_lost_cb=lost,
                                  ssl_context=ssl.create_default_context() if cfg.ssl else None)
        self._client = client
        await client.wait_hello_from_server()
        login = await client.login(cfg.username, cfg.password)
        if login.result != "OK":
            raise ImapError(f"login refused for {cfg.username!r}")
        # The capabilities before login are not those after it (MOVE, UIDPLUS).
        await asyncio.wait_for(client.protocol.capability(), cfg.timeout)
        if cfg.move_to:
            await client.create(_quoted(cfg.move_to))  # "already exists" is fine
        _ok(await client.select(_quoted(cfg.mailbox)), "SELECT")
        log.info("imap connected mailbox=%s", cfg.name)
        return client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.logout(), 2.0)
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()


def _ok(response: Any, command: str) -> Any:
    if response.result != "OK":
        text = b" ".join(bytes(line) for line in response.lines[-1:]).decode("utf-8", "replace")[:200]
        raise ImapError(f"{command} failed: {response.result} {text}")
    return response


def _quoted(mailbox: str) -> str:
    return f'"{mailbox}"' if " " in mailbox else mailbox
