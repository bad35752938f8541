"""Replies out through Twilio's REST API (``messages.create``), with the SDK's own client.

The SDK's native async path (``create_async`` over an async HTTP client) is used rather than
the sync client in a thread: no thread pool to size, and a slow Twilio never holds a thread.
Its stock ``AsyncTwilioHttpClient`` passes a ``timeout=None`` per request, which aiohttp reads
as "no timeout", so ours keeps the session's timeout; it can also send every request to another
origin (``api_base_url``), which is how the tests put a local server in Twilio's place.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from adapters.channel import SendFailed
from adapters.sms.parsing import failure_why

log = logging.getLogger(__name__)


class SmsSendError(SendFailed):
    """Twilio did not take the reply. ``why`` is what the agent should read ("twilio-21610")."""

    def __init__(self, why: str, message: str, *, code: str | None = None) -> None:
        super().__init__(why, message)
        self.code = code


def basic_auth(user: str, password: str) -> str:
    # Built by hand: aiohttp 3.14 deprecates BasicAuth and older releases lack its replacement.
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class _HttpClient(AsyncHttpClient):  # type: ignore[misc]  # the SDK ships no type hints
    def __init__(self, *, base_url: str | None, timeout: float) -> None:
        super().__init__(log, True, timeout)
        self._base = urlsplit(base_url) if base_url else None
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    def _target(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        return urlunsplit((self._base.scheme, self._base.netloc, self._base.path.rstrip("/") + parts.path,
                           parts.query, ""))

    async def request(self, method: str, uri: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None, timeout: float | None = None,
                      allow_redirects: bool = False) -> Response:
        # Lists (several MediaUrl) become repeated fields, as Twilio expects.
        form = [(k, str(item)) for k, v in (data or {}).items()
                for item in (v if isinstance(v, list) else [v])]
        query = {k: str(v) for k, v in (params or {}).items()}
        url = self._target(uri)
        # The method and path only: the auth token travels in the Authorization header.
        log.debug("twilio %s %s", method, urlsplit(url).path)
        sent_headers = dict(headers or {})
        if auth:
            sent_headers["Authorization"] = basic_auth(*auth)
        async with self._session.request(method, url, params=query or None, data=form or None,
                                         headers=sent_headers, allow_redirects=allow_redirects) as r:
            return Response(r.status, await r.text(), dict(r.headers))

    async def close(self) -> None:
        await self._session.close()


class TwilioSender:
    """One account's ``Messages`` resource. Build inside the running loop (it opens a session)."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base_url: str | None,
                 timeout: float) -> None:
        self._http = _HttpClient(base_url=api_base_url, timeout=timeout)
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
