"""One raw message in, what the channel needs out (pure, synchronous; run it off the loop).

Nothing in a hostile message may crash the server: the header size and the number of MIME
boundaries are checked on the raw bytes before parsing; the tree is walked without recursion,
to a bounded depth and part count; every charset is decoded or replaced (``adapters.email.text``);
attachments are capped one by one, in total and in number, and never decompressed. A message
that cannot be read safely raises ``MailRefused`` with the SMTP reply that says why.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from adapters.email.config import Limits
from adapters.email.html import html_to_text
from adapters.email.loops import LOOP_HEADERS
from adapters.email.text import clean_body, decode_bytes, decode_header, one_line, raw_header
from adapters.email.threads import message_id, message_ids, synthetic_id
from cti.errors import InvalidInput
from cti.identities import normalise_email

MAX_BODY_CHARS = 1_000_000  # text kept from all body parts together, before trimming
MAX_ADDRESSES = 100
MAX_AUTH_RESULTS = 20  # Authentication-Results headers read; ours is the topmost
_BOUNDARY = re.compile(rb"boundary\s*=", re.IGNORECASE)
_DELIMITER = re.compile(rb"^--", re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


class MailRefused(Exception):
    """The message is refused as a whole; ``reply`` is the SMTP answer (``552 5.3.4 …``)."""

    def __init__(self, code: int, status: str, why: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.status = status
        self.why = why  # a short stable token for logs and tests
        self.text = text

    @property
    def reply(self) -> str:
        return f"{self.code} {self.status} {self.text}"


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # for display only: files are stored under a name we make
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Skipped:
    """An attachment not kept, and why ("too-large", "over-total", "too-many")."""

    filename: str
    content_type: str
    size: int
    why: str


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str  # without angle brackets; synthetic when the sender gave none
    synthetic_id: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    report_refs: tuple[str, ...]  # Message-IDs of the original message quoted in a bounce
    subject: str
    from_addr: str | None  # lower case, checked; None when missing or not an address
    from_name: str | None
    reply_to: str | None
    recipients: tuple[str, ...]  # our side: Delivered-To, X-Original-To, To, Cc
    return_path: str | None  # "" for the null sender, None when the header is absent
    headers: Mapping[str, str]  # the loop-detection headers present (lower-case names)
    auth_results: tuple[str, ...]  # Authentication-Results values, topmost first (adapters.email.dmarc)
    content_type: str
    text: str  # the body as plain text (HTML converted), quotes not yet trimmed
    from_html: bool
    attachments: tuple[Attachment, ...]
    skipped: tuple[Skipped, ...]
    parts_unread: int  # MIME parts beyond the depth or count limits


def header_size(raw: bytes) -> int:
    end = _HEADER_END.search(raw)
    return end.start() if end else len(raw)


def parse_mail(raw: bytes, limits: Limits) -> ParsedMail:
    if header_size(raw) > limits.header_bytes:
        raise MailRefused(552, "5.3.4", "header-too-large",
                          f"Message header exceeds the {limits.header_bytes} byte limit")
    # Checked before parsing, which would build every part (and recurse into every level):
    # boundaries declared bound the depth, delimiter lines the number of parts. Text has a few
    # lines starting with "--" (signatures, rules), hence the margin.
    if (len(_BOUNDARY.findall(raw)) > limits.mime_parts
            or len(_DELIMITER.findall(raw)) > max(1000, 5 * limits.mime_parts)):
        raise MailRefused(554, "5.6.0", "too-complex", "Message structure too complex (too many MIME parts)")
    try:
        msg = BytesParser(policy=compat32).parsebytes(raw)
        return _read(msg, raw, limits)
    except RecursionError as exc:
        raise MailRefused(554, "5.6.0", "too-complex", "Message structure too complex") from exc


def _read(msg: Message, raw: bytes, limits: Limits) -> ParsedMail:
    given_id = message_id(raw_header(msg.get("Message-ID"), limit=1000))
    from_name, from_addr = _address(msg.get("From"))
    reply_to = next(iter(_addresses(msg.get_all("Reply-To") or [])), None)
    recipients: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        recipients.extend(_addresses(msg.get_all(name) or []))
    return_path = msg.get("Return-Path")
    walk = _Walk(limits)
    walk.run(msg)
    return ParsedMail(
        message_id=given_id or synthetic_id(raw),
        synthetic_id=given_id is None,
        in_reply_to=tuple(message_ids(raw_header(msg.get("In-Reply-To"), limit=10_000))[-5:]),
        references=tuple(message_ids(raw_header(msg.get("References"), limit=50_000))),
        report_refs=tuple(walk.report_refs),
        subject=decode_header(msg.get("Subject"), limit=300),
        from_addr=from_addr,
        from_name=from_name,
        reply_to=reply_to,
        recipients=tuple(dict.fromkeys(recipients))[:MAX_ADDRESSES],
        return_path=None if return_path is None else raw_header(return_path, limit=500).strip().strip("<>")
        .strip().lower(),
        headers={name: one_line(raw_header(msg.get(name), limit=500), limit=200)
                 for name in LOOP_HEADERS if msg.get(name) is not None},
        auth_results=tuple(one_line(raw_header(v, limit=2000), limit=2000)
                           for v in (msg.get_all("Authentication-Results") or [])[:MAX_AUTH_RESULTS]),
        content_type=_content_type(msg),
        text=walk.text(),
        from_html=walk.from_html,
        attachments=tuple(walk.attachments),
        skipped=tuple(walk.skipped),
        parts_unread=walk.unread,
    )


class _Walk:
    """The MIME tree, depth-first with an explicit stack (a deep tree must not recurse)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bodies: list[str] = []
        self.from_html = False
        self.attachments: list[Attachment] = []
        self.skipped: list[Skipped] = []
        self.report_refs: list[str] = []
        self.unread = 0
        self._kept_bytes = 0
        self._body_chars = 0

    def run(self, root: Message) -> None:
        # (part, depth, inside a delivery report)
        stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
        seen = 0
        while stack:
            part, depth, in_report = stack.pop()
            seen += 1
            if seen > self.limits.mime_parts:
                self.unread += 1 + len(stack)
                return
            ctype = _content_type(part)
            if ctype in ("message/rfc822", "message/global", "text/rfc822-headers") and in_report:
                self._report_original(part)
                continue
            if ctype == "message/delivery-status":
                continue  # machine-readable; the report's text part says the same for people
            if ctype in ("message/rfc822", "message/global") and part.is_multipart():
                self._forward_heading(part)
            if part.is_multipart():
                if depth >= self.limits.mime_depth:
                    self.unread += 1
                    continue
                children = [c for c in (part.get_payload() or []) if isinstance(c, Message)]
                if ctype == "multipart/alternative" and children:
                    children = [_best_alternative(children)]
                report = in_report or ctype == "multipart/report"
                stack.extend((child, depth + 1, report) for child in reversed(children))
                continue
            self._leaf(part, ctype, in_report)

    def _leaf(self, part: Message, ctype: str, in_report: bool) -> None:
        filename = _filename(part)
        disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
        is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
        data = _payload(part)
        if is_body:
            self._body(part, ctype, data)
        else:
            self._attachment(filename or _default_name(ctype), ctype, data)

    def _body(self, part: Message, ctype: str, data: bytes) -> None:
        if self._body_chars >= MAX_BODY_CHARS:
            return
        text = decode_bytes(data[: MAX_BODY_CHARS * 4], _charset(part))
        if ctype == "text/html":
            text = html_to_text(text)
            self.from_html = True
        text = clean_body(text).strip("\n")
        if text.strip():
            text = text[: MAX_BODY_CHARS - self._body_chars]
            self._body_chars += len(text)
            self.bodies.append(text)

    def _attachment(self, filename: str, ctype: str, data: bytes) -> None:
        size = len(data)
        limits = self.limits
        if len(self.attachments) >= limits.attachments:
            self.skipped.append(Skipped(filename, ctype, size, "too-many"))
        elif size > limits.attachment_bytes:
            self.skipped.append(Skipped(filename, ctype, size, "too-large"))
        elif self._kept_bytes + size > limits.total_attachment_bytes:
            self.skipped.append(Skipped(filename, ctype, size, "over-total"))
        else:
            self._kept_bytes += size
            # Kept as sent: an archive is never opened, so a "zip bomb" costs its own size.
            self.attachments.append(Attachment(filename, ctype, data))

    def _forward_heading(self, part: Message) -> None:
        """A forwarded message's text follows the customer's own, under its origin."""
        inner = part.get_payload(0)
        if not isinstance(inner, Message):
            return
        lines = ["---------- Forwarded message ----------"]
        for name in ("From", "Date", "Subject"):
            value = decode_header(inner.get(name), limit=200)
            if value:
                lines.append(f"{name}: {value}")
        self.bodies.append("\n".join(lines))

    def _report_original(self, part: Message) -> None:
        """The Message-ID of the message a bounce is about, so the bounce threads onto it."""
        headers: Message | None
        if part.is_multipart():
            inner = part.get_payload(0)
            headers = inner if isinstance(inner, Message) else None
        else:
            headers = BytesParser(policy=compat32).parsebytes(_payload(part)[:64 * 1024], headersonly=True)
        if headers is not None:
            found = message_id(raw_header(headers.get("Message-ID"), limit=1000))
            if found:
                self.report_refs.append(found)

    def text(self) -> str:
        return "\n\n".join(self.bodies)


def _best_alternative(children: list[Message]) -> Message:
    """The plain-text version when there is one, else HTML, else the richest (the last)."""
    for wanted in ("text/plain", "text/html"):
        for child in children:
            if _content_type(child) == wanted and not _filename(child):
                return child
    return children[-1]


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a mangled Content-Type reads as the RFC default
        return "text/plain"


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # an RFC 2231 charset in an unknown charset
        return None


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken transfer encoding: keep nothing rather than crash
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return b""


def _filename(part: Message) -> str | None:
    try:
        raw = part.get_filename()
    except Exception:
        return None
    return safe_filename(raw) if raw else None


def safe_filename(raw: str) -> str:
    """A name to show for a file: no directories, no control or direction-override characters."""
    name = decode_header(raw, limit=400)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    return name[:100] or "attachment"


def _default_name(ctype: str) -> str:
    subtype = re.sub(r"[^a-z0-9.+-]", "", ctype.split("/", 1)[-1])[:20] or "bin"
    if ctype in ("message/rfc822", "message/global"):
        return "forwarded-message.eml"
    return f"attachment.{subtype}"


def _address(value: object) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    name, address = email.utils.parseaddr(raw_header(value, limit=2000))
    return (decode_header(name, limit=100) or None), _checked(address)


def _addresses(values: Sequence[object]) -> list[str]:
    found = email.utils.getaddresses([raw_header(v, limit=20_000) for v in values[:10]])
    return [a for a in (_checked(addr) for _, addr in found[:MAX_ADDRESSES]) if a is not None]


def _checked(address: str) -> str | None:
    try:
        return normalise_email(address) if address else None
    except InvalidInput:
        return None
