"""Hand one raw message to an SMTP server and get its answer: the customer's side of the wire.

For tests and ``python -m bench email``: ``submit`` speaks SMTP with ``smtplib`` (blocking; the
async form runs it in a thread) and returns the server's final answer instead of raising, so a
caller can count refusals (``552``, ``550``) as easily as acceptances.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubmitResult:
    code: int
    message: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300


def submit(host: str, port: int, raw: bytes, *, mail_from: str, rcpt_to: Sequence[str],
           timeout: float = 30.0) -> SubmitResult:
    """Send ``raw`` as is (``mail_from`` "" is the null sender ``<>``)."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            client.sendmail(mail_from, list(rcpt_to), raw)
            return SubmitResult(250, "OK")
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return SubmitResult(code, _text(text))
    except smtplib.SMTPResponseException as exc:
        return SubmitResult(exc.smtp_code, _text(exc.smtp_error))


async def submit_async(host: str, port: int, raw: bytes, *, mail_from: str, rcpt_to: Sequence[str],
                       timeout: float = 30.0) -> SubmitResult:
    return await asyncio.to_thread(submit, host, port, raw, mail_from=mail_from, rcpt_to=rcpt_to,
                                   timeout=timeout)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
