"""The Account Activity webhook's two proofs, both HMAC-SHA256 keyed with the consumer secret.

- CRC: X sends ``GET ?crc_token=T``; we answer ``{"response_token": "sha256=" + b64(hmac(T))}``,
  proving we hold the app's secret.
- Deliveries: each POST carries ``x-twitter-webhooks-signature: sha256=<b64(hmac(body))>``,
  proving X sent it. tweepy has no validator for either, so this module is the one place they live.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
_PREFIX = "sha256="


def _digest(secret: str, message: bytes) -> str:
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return _PREFIX + base64.b64encode(mac).decode("ascii")


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    return {"response_token": _digest(consumer_secret, crc_token.encode())}


def sign(consumer_secret: str, body: bytes) -> str:
    """The header value X would send with ``body``."""
    return _digest(consumer_secret, body)


def verify(consumer_secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith(_PREFIX):
        return False
    # Constant time, so the comparison does not tell a forger how much of a guess was right.
    return hmac.compare_digest(sign(consumer_secret, body).encode(), header.strip().encode())
