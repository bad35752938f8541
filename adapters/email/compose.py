"""Mail we send: an agent's reply or the acknowledgement of a new thread (pure).

Both carry the thread's ``In-Reply-To``/``References``, the reference tag in the subject and a
Message-ID of ours, so the customer's answer threads back. The acknowledgement marks itself
automatic (RFC 3834 ``Auto-Submitted: auto-replied``) and asks Exchange not to answer it
(``X-Auto-Response-Suppress``); every mail we send carries ``X-CTI-Loop`` so that our own mail
returning to us is recognised and never acknowledged.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from adapters.email.text import one_line
from adapters.email.threads import bracket

LOOP_HEADER = "X-CTI-Loop"


def new_message_id(domain: str) -> str:
    """A fresh Message-ID (without brackets): 128 random bits, so nobody can guess one of ours."""
    return f"{secrets.token_hex(16)}@{domain}"


def compose(*, from_addr: str, from_name: str | None, to_addr: str, subject: str, body: str,
            message_id: str, in_reply_to: str | None, references: Sequence[str], now: float,
            loop_token: str, automatic: bool = False) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((one_line(from_name, limit=100), from_addr)) if from_name else from_addr
    msg["To"] = Address(addr_spec=to_addr)
    msg["Subject"] = one_line(subject, limit=400)
    msg["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    msg["Message-ID"] = bracket(message_id)
    if in_reply_to:
        msg["In-Reply-To"] = bracket(in_reply_to)
    if references:
        msg["References"] = " ".join(bracket(r) for r in references)
    msg[LOOP_HEADER] = loop_token
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    # Text the desktop accepted may still hold lone surrogates; they cannot be encoded.
    safe = body.encode("utf-8", "replace").decode("utf-8")
    msg.set_content(safe.replace("\r\n", "\n"), charset="utf-8")
    return msg
