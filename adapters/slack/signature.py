"""Is this request from Slack? The SDK's ``SignatureVerifier`` on our clock.

The verifier refuses a timestamp more than five minutes from now (replays) and a body whose
HMAC-SHA256 under the signing secret differs from ``X-Slack-Signature``. The reasons are told
apart here only for the log; the caller answers every refusal the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.signature import Clock as SdkClock
from slack_sdk.signature import SignatureVerifier

from cti.clock import Clock

MAX_AGE = 5 * 60  # the SDK's window, in seconds


class _OurClock(SdkClock):
    """The server's clock, so tests on a manual clock see the same window as the verifier."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()


def make_verifier(signing_secret: str, clock: Clock) -> SignatureVerifier:
    return SignatureVerifier(signing_secret, clock=_OurClock(clock))


def refusal(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> str | None:
    """None when the request is Slack's, else why not (never anything secret)."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature:
        return "unsigned"
    try:
        # The SDK calls int() on it unguarded: a forged "abc" would be an exception, not a "no".
        stamp = int(timestamp)
    except ValueError:
        return "bad-timestamp"
    if abs(verifier.clock.now() - stamp) > MAX_AGE:
        return "stale"
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:  # the SDK decodes the body as UTF-8 before hashing
        return "bad-body"
    return None if valid else "bad-signature"
