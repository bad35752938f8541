"""Outbound mail through the configured SMTP relay.

``smtplib`` from the standard library in worker threads of its own: there is no
asyncio SMTP client among the dependencies (aiosmtpd is only a server), and agent replies and
acknowledgements are few enough that a thread per send, bounded by ``max_connections``, costs
nothing while keeping a slow relay from ever blocking the event loop. A 5xx answer is a
``RelayRefused`` (the mail will never go: the agent is told); anything else is
``RelayUnavailable`` (worth trying again later).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

from adapters.email.config import RelayConfig


class RelayError(Exception):
    """Sending failed; the message never contains credentials."""


class RelayRefused(RelayError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"relay refused the mail: {code} {message}")
        self.code = code


class RelayUnavailable(RelayError):
    pass


class SmtpRelay:
    def __init__(self, config: RelayConfig) -> None:
        self._config = config
        # Its own threads: a slow relay must not take the ones inbound parsing runs in.
        self._pool = ThreadPoolExecutor(max_workers=config.max_connections, thread_name_prefix="email-relay")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def send(self, message: EmailMessage, *, sender: str, recipients: Sequence[str]) -> None:
        """``sender`` is the envelope sender ("" for the null sender ``<>``)."""
        data = message.as_bytes()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._send, data, sender, list(recipients))

    def _send(self, data: bytes, sender: str, recipients: list[str]) -> None:
        cfg = self._config
        try:
            client: smtplib.SMTP
            if cfg.security == "ssl":
                client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout,
                                          local_hostname=cfg.local_hostname,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout,
                                      local_hostname=cfg.local_hostname)
            with client:
                client.ehlo_or_helo_if_needed()
                if cfg.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if cfg.username is not None and cfg.password is not None:
                    client.login(cfg.username, cfg.password)
                refused = client.sendmail(sender, recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
            raise _classified(code, text) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _classified(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise RelayUnavailable(f"relay authentication failed ({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise RelayUnavailable(f"relay unavailable: {type(exc).__name__}: {exc}") from None
        if refused:
            code, text = next(iter(refused.values()))
            raise _classified(code, text)


def _classified(code: int, text: bytes | str) -> RelayError:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    message = message.replace("\r", " ").replace("\n", " ")[:200]
    if 500 <= code < 600:
        return RelayRefused(code, message)
    return RelayUnavailable(f"relay deferred the mail: {code} {message}")
