"""Calls through Twilio's REST API (``calls.create``, ``calls(sid).update``), the participants of
a call's conference (``conferences(…).participants.create`` and ``(…).participants(sid).update``)
and a call's recordings (``calls(sid).recordings.create`` and ``.recordings(sid).update``), with
the SDK's client.

The HTTP client is the SMS channel's (``adapters.sms.rest``): the SDK's native async path with a
session timeout, and ``api_base_url`` to put a local server in Twilio's place in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from adapters.twilio_common import TwilioHttpClient
from cti.errors import Unavailable

AGENT_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioCallError(Unavailable):
    """Twilio did not do what was asked (HTTP error, unreachable): a 503 on the desktop API."""

    def __init__(self, why: str, message: str, *, code: str | None = None) -> None:
        super().__init__("voice-unavailable", message, why=why, code=code)
        self.why = why
        self.code = code


class TwilioCalls:
    """One account's ``Calls`` resource. Build inside the running loop (it opens a session)."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base_url: str | None,
                 timeout: float) -> None:
        self._http = TwilioHttpClient(base_url=api_base_url, timeout=timeout)
        self._client: Any = Client(account_sid, auth_token, http_client=self._http)

    async def create(self, *, to: str, from_: str, twiml: str, status_callback: str,
                     events: Sequence[str] = AGENT_EVENTS, timeout: int) -> str:
        """Place a call running ``twiml`` when answered; returns its CallSid."""
        call = await self._run(self._client.calls.create_async(
            to=to, from_=from_, twiml=twiml, status_callback=status_callback,
            status_callback_event=list(events), status_callback_method="POST", timeout=timeout))
        sid = str(getattr(call, "sid", "") or "")
        if not sid:
            raise TwilioCallError("twilio-error", "Twilio answered without a call sid")
        return sid

    async def update(self, call_sid: str, **changes: Any) -> None:
        """``status="completed"`` hangs up, ``status="canceled"`` stops a ringing call, ``twiml=``
        redirects a live call."""
        await self._run(self._client.calls(call_sid).update_async(**changes))

    async def add_participant(self, conference: str, *, to: str, from_: str, status_callback: str,
                              timeout: int, events: Sequence[str] = AGENT_EVENTS, **options: Any) -> str:
        """Dial ``to`` into a conference (its SID, or its name while it may not exist yet); the
        participant's call progress goes to ``status_callback``. Returns the new call's SID."""
        participant = await self._run(self._client.conferences(conference).participants.create_async(
            to=to, from_=from_, status_callback=status_callback, status_callback_method="POST",
            status_callback_event=list(events), timeout=timeout, beep="false", **options))
        sid = str(getattr(participant, "call_sid", "") or "")
        if not sid:
            raise TwilioCallError("twilio-error", "Twilio answered without the participant's call sid")
        return sid

    async def update_participant(self, conference_sid: str, call_sid: str, **changes: Any) -> None:
        """``hold=``/``hold_url=``, ``muted=``, ``end_conference_on_exit=``, ``coaching=``…"""
        participant = self._client.conferences(conference_sid).participants(call_sid)
        await self._run(participant.update_async(**changes))

    async def start_recording(self, call_sid: str, *, status_callback: str) -> str:
        """Record a live call, both directions on two channels (the caller on the left, what they
        hear on the right); Twilio posts the finished recording to ``status_callback``. Returns
        the RecordingSid."""
        recording = await self._run(self._client.calls(call_sid).recordings.create_async(
            recording_channels="dual", recording_status_callback=status_callback,
            recording_status_callback_method="POST", recording_status_callback_event=["completed"]))
        sid = str(getattr(recording, "sid", "") or "")
        if not sid:
            raise TwilioCallError("twilio-error", "Twilio answered without a recording sid")
        return sid

    async def update_recording(self, call_sid: str, recording_sid: str, status: str) -> None:
        """``paused`` (silence kept in its place, as Asterisk's mute leaves it), ``in-progress``
        or ``stopped``."""
        options: dict[str, Any] = {"pause_behavior": "silence"} if status == "paused" else {}
        await self._run(self._client.calls(call_sid).recordings(recording_sid).update_async(
            status=status, **options))

    async def _run(self, pending: Any) -> Any:
        try:
            return await pending
        except TwilioException as exc:
            code = getattr(exc, "code", None)
            code_text = str(code) if code is not None else None
            raise TwilioCallError(f"twilio-{code_text or 'error'}", f"Twilio refused the request "
                                  f"(HTTP {getattr(exc, 'status', None)}, code {code_text})",
                                  code=code_text) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TwilioCallError("twilio-unreachable",
                                  f"Twilio not reachable: {type(exc).__name__}") from exc
        except ValueError as exc:  # a 2xx whose body is not Twilio's JSON
            raise TwilioCallError("twilio-error", "Twilio's answer was not JSON") from exc

    async def aclose(self) -> None:
        await self._http.close()
