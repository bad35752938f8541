"""The ``channels.email`` section (pure): listener, relay, mailboxes, limits and loop policy.

Every key is checked here, once, at start: a typo is a ``ConfigError`` naming the key, never a
channel that silently accepts nothing. Passwords are kept out of ``repr`` and of every message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.config import ConfigError
from cti.domain import QueueConfig

WHERE = "channels.email"
KEYS = frozenset({
    "domain", "addresses", "default_queue", "from_name", "smtp", "relay", "imap", "attachments_dir",
    "max_message_bytes", "max_header_bytes", "max_attachment_bytes", "max_total_attachment_bytes",
    "max_attachments", "max_mime_depth", "max_mime_parts", "acknowledge", "ack_text", "ack_limit_per_hour",
    "ack_null_sender", "automatic", "ack_subject", "ack_limit_total_per_hour"})
SMTP_KEYS = frozenset({"host", "port", "hostname", "timeout", "max_recipients", "queue", "queue_bytes",
                       "batch"})
RELAY_KEYS = frozenset({"host", "port", "security", "username", "password", "timeout", "max_connections",
                        "local_hostname"})
IMAP_KEYS = frozenset({"name", "host", "port", "ssl", "username", "password", "mailbox", "queue",
                       "poll_interval", "move_to", "batch", "timeout"})
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$")
_ADDRESS = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,253}$")

DEFAULT_ACK_TEXT = (
    "Thank you for your message. We have received it and will answer as soon as we can.\n\n"
    "Your reference is [#{tag}]. Please keep it in the subject if you write to us again about "
    "this matter.\n\n"
    "This is an automatic acknowledgement.")
# Our own words: echoing the customer's subject would let anyone send text of their choosing
# under our name to whatever address they can make us acknowledge.
DEFAULT_ACK_SUBJECT = "We have received your message [#{tag}]"


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    hostname: str | None = None  # the name in our greeting; the machine's name when None
    timeout: float = 300.0  # an idle SMTP session is closed after this many seconds
    max_recipients: int = 20
    # The ingest queue: mails waiting to be stored (beyond it a sender hears ``451`` and retries
    # later), their total size, and how many one batch stores.
    queue: int = 256
    queue_bytes: int = 64 << 20
    batch: int = 32


@dataclass(frozen=True, slots=True)
class RelayConfig:
    host: str
    port: int = 25
    security: str = "none"  # "none" | "starttls" | "ssl"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    max_connections: int = 4
    local_hostname: str | None = None


@dataclass(frozen=True, slots=True)
class MailboxConfig:
    name: str
    host: str
    username: str
    password: str = field(repr=False)
    port: int = 143
    ssl: bool = False
    mailbox: str = "INBOX"
    queue: str | None = None
    poll_interval: float = 60.0
    move_to: str | None = None  # after storing, move here instead of only flagging \Seen
    batch: int = 50  # messages taken per poll
    timeout: float = 30.0  # per IMAP command


@dataclass(frozen=True, slots=True)
class Limits:
    message_bytes: int = 10 * 1024 * 1024
    header_bytes: int = 64 * 1024
    attachment_bytes: int = 5 * 1024 * 1024
    total_attachment_bytes: int = 20 * 1024 * 1024
    attachments: int = 20
    mime_depth: int = 20
    mime_parts: int = 200


_DEFAULT = Limits()


@dataclass(frozen=True, slots=True)
class EmailConfig:
    domain: str  # the right-hand side of the Message-IDs we make
    addresses: Mapping[str, str]  # our address (lower case) -> its queue
    default_queue: str | None = None
    from_name: str | None = None
    listener: ListenerConfig | None = None
    relay: RelayConfig | None = None
    mailboxes: tuple[MailboxConfig, ...] = ()
    attachments_dir: str | None = None  # None: attachments are listed, not kept
    limits: Limits = field(default_factory=Limits)
    acknowledge: bool = True
    ack_text: str = DEFAULT_ACK_TEXT
    ack_limit_per_hour: int = 5
    # Acknowledgements of the whole channel per hour (per node), beside the per-recipient cap:
    # bounds what forged senders can make us mail. 200 is above the new threads an hour of
    # most centers; past it acknowledgements are withheld (and logged), the mail still stored.
    ack_limit_total_per_hour: int = 200
    ack_subject: str = DEFAULT_ACK_SUBJECT
    ack_null_sender: bool = True  # RFC 3834: an automatic reply is sent with MAIL FROM:<>
    automatic: str = "drop"  # automatic mail that threads onto nothing: "drop" | "store"

    def queue_for(self, addresses: list[str]) -> tuple[str | None, str | None]:
        """``(queue, address)`` of the first of ``addresses`` that is ours."""
        for address in addresses:
            queue = self.addresses.get(address.lower())
            if queue is not None:
                return queue, address.lower()
        return None, None

    def address_of(self, queue: str) -> str | None:
        for address, owner in self.addresses.items():
            if owner == queue:
                return address
        return None


def parse_email_config(raw: Mapping[str, Any], *, queues: Mapping[str, QueueConfig]) -> EmailConfig:
    section = _mapping(raw, WHERE, KEYS)
    addresses: dict[str, str] = {}
    for queue in queues.values():
        if queue.address:
            addresses.setdefault(_address(queue.address, f"queue {queue.name!r}: address"), queue.name)
    extra = section.get("addresses") or {}
    if not isinstance(extra, Mapping):
        raise ConfigError(f"{WHERE}: addresses must map an address to its queue")
    for address, queue in extra.items():
        where = f"{WHERE}: addresses"
        if queue not in queues:
            raise ConfigError(f"{where}: unknown queue {queue!r} for {address!r}")
        addresses[_address(address, where)] = str(queue)
    default_queue = _opt_str(section, "default_queue", WHERE)
    if default_queue is not None and default_queue not in queues:
        raise ConfigError(f"{WHERE}: unknown default_queue {default_queue!r}")
    domain = _opt_str(section, "domain", WHERE)
    if domain is None and addresses:
        domain = next(iter(addresses)).rsplit("@", 1)[1]
    if domain is None or not _DOMAIN.match(domain.lower()):
        raise ConfigError(f"{WHERE}: domain is required (a DNS name for our Message-IDs) when no "
                          "queue has an address")
    listener = _listener(section.get("smtp"))
    if listener is not None and not addresses:
        raise ConfigError(f"{WHERE}: the smtp listener needs at least one address (a queue's "
                          "address or channels.email.addresses)")
    automatic = section.get("automatic", "drop")
    if automatic not in ("drop", "store"):
        raise ConfigError(f"{WHERE}: automatic must be 'drop' or 'store'")
    ack_text = section.get("ack_text", DEFAULT_ACK_TEXT)
    if not isinstance(ack_text, str) or not ack_text.strip():
        raise ConfigError(f"{WHERE}: ack_text must be a non-empty string")
    ack_subject = section.get("ack_subject", DEFAULT_ACK_SUBJECT)
    if not isinstance(ack_subject, str) or not ack_subject.strip() or "\n" in ack_subject:
        raise ConfigError(f"{WHERE}: ack_subject must be a non-empty line of text")
    attachments_dir = _opt_str(section, "attachments_dir", WHERE)
    return EmailConfig(
        domain=domain.lower(),
        addresses=addresses,
        default_queue=default_queue,
        from_name=_opt_str(section, "from_name", WHERE),
        listener=listener,
        relay=_relay(section.get("relay")),
        mailboxes=_mailboxes(section.get("imap"), queues),
        attachments_dir=attachments_dir,
        limits=Limits(
            message_bytes=_int(section, "max_message_bytes", _DEFAULT.message_bytes, 1024, 1 << 30),
            header_bytes=_int(section, "max_header_bytes", _DEFAULT.header_bytes, 1024, 1 << 24),
            attachment_bytes=_int(section, "max_attachment_bytes", _DEFAULT.attachment_bytes, 0, 1 << 30),
            total_attachment_bytes=_int(section, "max_total_attachment_bytes",
                                        _DEFAULT.total_attachment_bytes, 0, 1 << 31),
            attachments=_int(section, "max_attachments", _DEFAULT.attachments, 0, 1000),
            mime_depth=_int(section, "max_mime_depth", _DEFAULT.mime_depth, 1, 100),
            mime_parts=_int(section, "max_mime_parts", _DEFAULT.mime_parts, 1, 10_000)),
        acknowledge=_bool(section, "acknowledge", True),
        ack_text=ack_text,
        ack_limit_per_hour=_int(section, "ack_limit_per_hour", 5, 0, 1000),
        ack_limit_total_per_hour=_int(section, "ack_limit_total_per_hour", 200, 0, 1_000_000),
        ack_subject=ack_subject,
        ack_null_sender=_bool(section, "ack_null_sender", True),
        automatic=str(automatic),
    )


def _listener(raw: Any) -> ListenerConfig | None:
    if raw is None:
        return None
    where = f"{WHERE}.smtp"
    section = _mapping(raw, where, SMTP_KEYS)
    return ListenerConfig(
        host=_opt_str(section, "host", where) or "127.0.0.1",
        port=_int(section, "port", 2525, 0, 65535, where),
        hostname=_opt_str(section, "hostname", where),
        timeout=_number(section, "timeout", 300.0, where),
        max_recipients=_int(section, "max_recipients", 20, 1, 1000, where),
        queue=_int(section, "queue", 256, 1, 100_000, where),
        queue_bytes=_int(section, "queue_bytes", 64 << 20, 1, 1 << 40, where),
        batch=_int(section, "batch", 32, 1, 1000, where))


def _relay(raw: Any) -> RelayConfig | None:
    if raw is None:
        return None
    where = f"{WHERE}.relay"
    section = _mapping(raw, where, RELAY_KEYS)
    host = _opt_str(section, "host", where)
    if host is None:
        raise ConfigError(f"{where}: host is required")
    security = section.get("security", "none")
    if security not in ("none", "starttls", "ssl"):
        raise ConfigError(f"{where}: security must be 'none', 'starttls' or 'ssl'")
    username = _opt_str(section, "username", where)
    password = section.get("password")
    if password is not None and not isinstance(password, str):
        raise ConfigError(f"{where}: password must be a string")  # never echo it
    if (username is None) != (password is None):
        raise ConfigError(f"{where}: give both username and password, or neither")
    return RelayConfig(
        host=host, port=_int(section, "port", 465 if security == "ssl" else 25, 1, 65535, where),
        security=str(security), username=username, password=password,
        timeout=_number(section, "timeout", 30.0, where),
        max_connections=_int(section, "max_connections", 4, 1, 100, where),
        local_hostname=_opt_str(section, "local_hostname", where))


def _mailboxes(raw: Any, queues: Mapping[str, QueueConfig]) -> tuple[MailboxConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{WHERE}.imap: a list of mailboxes")
    out: list[MailboxConfig] = []
    for n, item in enumerate(raw):
        where = f"{WHERE}.imap[{n}]"
        section = _mapping(item, where, IMAP_KEYS)
        host = _opt_str(section, "host", where)
        username = _opt_str(section, "username", where)
        password = section.get("password")
        if host is None or username is None or not isinstance(password, str) or not password:
            raise ConfigError(f"{where}: host, username and password are required")
        queue = _opt_str(section, "queue", where)
        if queue is not None and queue not in queues:
            raise ConfigError(f"{where}: unknown queue {queue!r}")
        ssl = _bool(section, "ssl", False, where)
        mailbox = _opt_str(section, "mailbox", where) or "INBOX"
        out.append(MailboxConfig(
            name=_opt_str(section, "name", where) or f"{username}@{host}/{mailbox}",
            host=host, username=username, password=password,
            port=_int(section, "port", 993 if ssl else 143, 1, 65535, where), ssl=ssl,
            mailbox=_mailbox_name(mailbox, where), queue=queue,
            poll_interval=_number(section, "poll_interval", 60.0, where),
            move_to=_mailbox_name(_opt_str(section, "move_to", where), where),
            batch=_int(section, "batch", 50, 1, 1000, where),
            timeout=_number(section, "timeout", 30.0, where)))
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"{WHERE}.imap: mailbox names must be unique")
    return tuple(out)


def _mailbox_name(value: Any, where: str) -> Any:
    # Sent to the server as an IMAP atom or quoted string: no quoting games in the name.
    if value is not None and (not re.fullmatch(r"[A-Za-z0-9 ._/&+-]{1,200}", value)):
        raise ConfigError(f"{where}: mailbox names may use letters, digits, space and . _ / & + -")
    return value


def _mapping(raw: Any, where: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a mapping of settings")
    unknown = set(raw) - keys
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    return raw


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value.strip()):
        raise ConfigError(f"{where}: {value!r} is not an e-mail address")
    return value.strip().lower()


def _opt_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _int(raw: Mapping[str, Any], key: str, default: int, low: int, high: int, where: str = WHERE) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be an integer from {low} to {high}")
    return value


def _number(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
        raise ConfigError(f"{where}: {key} must be a number of seconds in (0, 86400]")
    return float(value)


def _bool(raw: Mapping[str, Any], key: str, default: bool, where: str = WHERE) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false")
    return value
