"""Mail as customers' programs write it, built with the standard ``email`` package."""

from __future__ import annotations

import email.policy
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import make_msgid

SUPPORT = "support@acme.example"


def mail(*, sender: str = "Ann Lee <ann.lee@example.com>", to: str = SUPPORT, subject: str = "Order 42",
         body: str = "My order 42 has not arrived.", message_id: str | None = None,
         in_reply_to: str | None = None, references: Iterable[str] = (), html: str | None = None,
         headers: dict[str, str] | None = None,
         attachments: Iterable[tuple[str, str, bytes]] = ()) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.com")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    refs = list(references)
    if refs:
        msg["References"] = " ".join(refs)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def raw(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=email.policy.SMTP)


def bare_id(message_id: str) -> str:
    return message_id.strip().strip("<>")
