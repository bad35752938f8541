"""Real peers for the e-mail tests: an SMTP relay that keeps what it receives, and Dovecot.

The relay is aiosmtpd's ``SMTP`` served on the test's own loop; it refuses recipients at
``refused.example`` with ``550`` and defers those at ``deferred.example`` with ``451``, as a real
relay would. Dovecot runs as a subprocess with a configuration written for the test (plain
authentication over loopback, a passwd file, a Maildir per user under a private directory).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import IN_CI

# Debian installs it in sbin, which a non-root PATH may lack.
DOVECOT = shutil.which("dovecot", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin",
                                                         "/usr/local/sbin"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    """The relay our server sends through: every accepted mail lands in ``received``."""

    port: int = 0
    received: list[Captured] = field(default_factory=list)
    server: asyncio.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 User unknown"
        if address.endswith("@deferred.example"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        null = envelope.mail_from in (None, "", "<>")  # aiosmtpd keeps the null sender as "<>"
        self.received.append(Captured("" if null else str(envelope.mail_from), list(envelope.rcpt_tos),
                                      envelope.original_content or b""))
        self._arrived.set()
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SMTP(self, hostname="relay.test", loop=loop), "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Captured]:
        """The first ``count`` mails, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"relay got {len(self.received)} mails, wanted {count}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        return self.received[:count]


@dataclass
class Dovecot:
    """A running Dovecot; ``imap()`` logs in with ``imaplib`` as the test's mail user."""

    port: int
    user: str
    password: str
    root: Path
    process: subprocess.Popen[bytes] | None = None

    def imap(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        client = self.imap()
        try:
            status, _ = client.append(mailbox, None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def flags(self, mailbox: str = "INBOX") -> list[str]:
        """Each message's flags, in mailbox order."""
        client = self.imap()
        try:
            client.select(mailbox)
            status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            assert status == "OK"
            return [line.decode() for line in data if isinstance(line, bytes)]
        finally:
            client.logout()

    def count(self, mailbox: str = "INBOX") -> int:
        client = self.imap()
        try:
            status, data = client.select(mailbox)
            assert status == "OK", data
            return int(data[0] or 0)
        finally:
            client.logout()

    def start(self) -> None:
        assert DOVECOT is not None
        log = open(self.root / "dovecot.out", "ab")  # noqa: SIM115 - the process owns it until stop()
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._log_tail()}")
            try:
                client = imaplib.IMAP4("127.0.0.1", self.port, timeout=2)
                client.logout()
                return
            except OSError:
                time.sleep(0.1)
            except imaplib.IMAP4.abort:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer on {self.port}: {self._log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        # Dovecot's children (login, imap) end with the master, but may take a moment.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    time.sleep(0.1)
            except OSError:
                return

    def _log_tail(self) -> str:
        text = ""
        for name in ("dovecot.out", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text


def dovecot_config(root: Path, port: int, uid: int, gid: int) -> str:
    unprivileged = ""
    if os.geteuid() != 0:
        # Not root: every Dovecot process runs as ourselves.
        me = pwd.getpwuid(os.geteuid()).pw_name
        unprivileged = (f"default_internal_user = {me}\ndefault_internal_group = {me}\n"
                        f"default_login_user = {me}\n")
    return unprivileged + f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if DOVECOT is None:
        if IN_CI:
            pytest.fail("dovecot is not installed; CI must run the IMAP tests "
                        "(apt-get install dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    # Dovecot's own processes run as unprivileged users (dovenull, dovecot, and the mail user
    # below), so its directory must be reachable by them: pytest's tmp_path is private to us.
    root = Path(tempfile.mkdtemp(prefix="cti-dovecot-"))
    root.chmod(0o755)
    try:
        mail_user = _mail_user()
        (root / "mail").mkdir()
        if os.geteuid() == 0:
            os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
        port = free_port()
        (root / "passwd").write_text(
            f"support:{{PLAIN}}imap-secret:{mail_user.pw_uid}:{mail_user.pw_gid}::{root}/mail/support\n")
        (root / "dovecot.conf").write_text(dovecot_config(root, port, mail_user.pw_uid, mail_user.pw_gid))
        server = Dovecot(port=port, user="support", password="imap-secret", root=root)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _mail_user() -> Any:
    """Whose files the mailbox is: ourselves, or ``nobody`` when we are root (Dovecot refuses
    to serve mail as root)."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    return pwd.getpwnam("nobody")
