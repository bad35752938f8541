"""The signature of a delivery: HMAC-SHA256 over ``"<timestamp>.<body>"`` with the subscriber's
secret, sent as ``X-CTI-Signature: v1=<hex>`` beside ``X-CTI-Timestamp`` (whole seconds).

The timestamp is signed with the body so a receiver can refuse an old delivery replayed at it;
the version prefix lets a second scheme be added beside this one. ``verify`` is what a receiver
does (docs/webhooks.md shows it standalone); the tests check deliveries with it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["DELIVERY", "EVENT", "SIGNATURE", "TIMESTAMP", "sign", "signed_headers", "verify"]

TIMESTAMP = "X-CTI-Timestamp"
SIGNATURE = "X-CTI-Signature"
DELIVERY = "X-CTI-Delivery"  # the idempotency key: the same on every attempt of one delivery
EVENT = "X-CTI-Event"
VERSION = "v1"
TOLERANCE = 300  # seconds a receiver should accept a timestamp away from its own clock


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def signed_headers(*, secret: bytes, timestamp: int, body: bytes, delivery_id: str,
                   event_type: str) -> dict[str, str]:
    return {"Content-Type": "application/json", TIMESTAMP: str(timestamp),
            SIGNATURE: sign(secret, timestamp, body), DELIVERY: delivery_id, EVENT: event_type}


def verify(*, secret: bytes, headers: Mapping[str, str], body: bytes, now: float,
           tolerance: float = TOLERANCE) -> bool:
    """True when the signature is ours over this body and the timestamp is recent."""
    try:
        timestamp = int(headers.get(TIMESTAMP, ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), headers.get(SIGNATURE, ""))
