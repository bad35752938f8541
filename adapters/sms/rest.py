"""Replies out through Twilio's REST API (``messages.create``), with the SDK's own client.

The SDK's native async path (``create_async`` over an async HTTP client) is used rather than
the sync client in a thread: no thread pool to size, and a slow Twilio never holds a thread.
Its stock ``AsyncTwilioHttpClient`` passes a ``timeout=None`` per request, which aiohttp reads
as "no timeout", so ours keeps the session's timeout; it can also send every request to another
origin (``api_base_url``), which is how the tests put a local server in Twilio's place.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from adapters.channel import SendFailed
from adapters.sms.parsing import failure_why
from adapters.twilio_common import TwilioHttpClient

log = logging.getLogger(__name__)


class SmsSendError(SendFailed):
    """Twilio did not take the reply. ``why`` is what the agent should read ("twilio-21610")."""

    def __init__(self, why: str, message: str, *, code: str | None = None) -> None:
        super().__init__(why, message)
        self.code = code


class TwilioSender:
    """One account's ``Messages`` resource. Build inside the running loop (it opens a session)."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base_url: str | None,
                 timeout: float) -> None:
        self._http = TwilioHttpClient(base_url=api_base_url, timeout=timeout)
        self._client: Any = Client(account_sid, auth_token, http_client=self._http)

    async def send(self, *, to: str, from_: str, body: str, status_callback: str) -> tuple[str, str]:
        """Hand the message to Twilio; returns its ``sid`` and status (usually "queued").

        Raises ``SmsSendError`` for anything that went wrong, with Twilio's error code when it
        gave one (21610: the recipient texted STOP to Twilio; 21211: not a valid number…).
        """
        try:
            message = await self._client.messages.create_async(
                to=to, from_=from_, body=body, status_callback=status_callback)
        except TwilioException as exc:
            code = getattr(exc, "code", None)
            code_text = str(code) if code is not None else None
            status = getattr(exc, "status", None)
            raise SmsSendError(failure_why(code_text), f"Twilio refused the message (HTTP {status}, "
                               f"code {code_text})", code=code_text) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SmsSendError("twilio-unreachable", f"Twilio not reachable: {type(exc).__name__}") from exc
        except ValueError as exc:  # a 2xx whose body is not Twilio's JSON
            raise SmsSendError("twilio-error", "Twilio's answer was not JSON") from exc
        sid = str(message.sid or "")
        if not sid:
            raise SmsSendError("twilio-error", "Twilio answered without a message sid")
        return sid, str(message.status or "queued")

    async def aclose(self) -> None:
        await self._http.close()
