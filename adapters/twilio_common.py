"""What the Twilio channels (SMS, voice) share: the SDK's HTTP client and the webhook check.

The SDK's stock ``AsyncTwilioHttpClient`` passes a ``timeout=None`` per request, which aiohttp
reads as "no timeout", so ours keeps the session's timeout; it can also send every request to
another origin (``api_base_url``), which is how the tests put a local server in Twilio's place.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

from cti.config import AppConfig, ConfigError
from cti.errors import InvalidInput
from cti.identities import normalise_phone

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


def basic_auth(user: str, password: str) -> str:
    # Built by hand: aiohttp 3.14 deprecates BasicAuth and older releases lack its replacement.
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class TwilioHttpClient(AsyncHttpClient):  # type: ignore[misc]  # the SDK ships no type hints
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


async def signed_form(request: web.Request, validator: RequestValidator,
                      public_url: str) -> MultiDictProxy[str] | None:
    """The posted form if Twilio signed it for the URL it called, else None.

    Twilio signs the URL it requested (our public one: behind a proxy the Host header and scheme
    we see differ, so ``public_url`` + path and query), followed by every form field, sorted.
    """
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if request.content_type != "application/x-www-form-urlencoded" or not signature:
        return None
    form = await request.post()
    fields: MultiDict[str] = MultiDict()
    for key, value in form.items():
        if not isinstance(value, str):
            return None
        fields.add(key, value)
    if not validator.validate(public_url + request.raw_path, fields, signature):
        return None
    return MultiDictProxy(fields)


def config_phone(value: Any, what: str, where: str, country: str) -> str:
    """A phone number from a channel's configuration, in E.164, or a ConfigError naming it."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ConfigError(f"{where}: {what} must be a phone number")
    try:
        return normalise_phone(str(value), region=country)
    except InvalidInput as exc:
        raise ConfigError(f"{where}: {what}: {exc}") from exc


def our_numbers(raw: Mapping[str, Any], app: AppConfig, where: str) -> dict[str, str]:
    """The ``numbers`` section: each of our Twilio numbers (E.164) to the queue it feeds."""
    numbers_raw = raw.get("numbers") or {}
    if not isinstance(numbers_raw, Mapping):
        raise ConfigError(f"{where}: 'numbers' must map each of our numbers to a queue")
    numbers: dict[str, str] = {}
    for number, queue in numbers_raw.items():
        if queue not in app.queues:
            raise ConfigError(f"{where}: number {number!r}: unknown queue {queue!r}")
        numbers[config_phone(number, f"number {number!r}", where, app.phone_region)] = str(queue)
    return numbers
