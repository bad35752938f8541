"""Checking the server's own tokens (HS256 JWTs), at the cost of one HMAC.

PyJWT, which signs them (``auth.issue_token``), checks far more than these tokens can hold at
every decode: whether the secret is a PEM or DER key, a certificate or a JSON key, and each
base64 character in a Python loop, ~70 µs a token paid by every request and by every desktop
socket opened (5,000 desktops reconnecting after a restart). The server issues its tokens itself,
with one secret and one algorithm, so it accepts only that shape and nothing looser than PyJWT
did: three unpadded base64url segments in canonical form, a header of ``alg`` HS256 (and ``typ``)
alone, a matching signature, then the claims PyJWT would check for a decode with a required
``sub``, ``role``, ``exp`` and ``jti`` and no audience. Pure: the caller passes the time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from typing import Any

REQUIRED = ("sub", "role", "exp", "jti")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")  # base64url without padding: what PyJWT writes
_HEADER_KEYS = frozenset({"alg", "typ"})


class BadToken(ValueError):
    """Malformed, forged, of another shape, or not current."""


def verify(token: str, *, key: bytes, now: float) -> dict[str, Any]:
    """The claims of ``token`` if it was signed with ``key`` and is valid at ``now``."""
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise BadToken("not three base64url segments")
    header_part, payload_part, signature_part = segments
    header = _json_object(_decode(header_part))
    if header.get("alg") != "HS256" or not header.keys() <= _HEADER_KEYS:
        raise BadToken("not a header of ours")
    expected = hmac.digest(key, f"{header_part}.{payload_part}".encode("ascii"), "sha256")
    if not hmac.compare_digest(expected, _decode(signature_part)):
        raise BadToken("bad signature")
    claims = _json_object(_decode(payload_part))
    _check_claims(claims, now)
    return claims


def _decode(segment: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadToken("bad base64") from exc
    # One spelling per value: unused low bits in the last character would make variants of a
    # token that all verify.
    if base64.urlsafe_b64encode(data).rstrip(b"=") != segment.encode("ascii"):
        raise BadToken("base64 not in canonical form")
    return data


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise BadToken("not JSON") from exc
    if not isinstance(value, dict):
        raise BadToken("not a JSON object")
    return value


def _check_claims(claims: dict[str, Any], now: float) -> None:
    for name in REQUIRED:
        if claims.get(name) is None:
            raise BadToken(f"no {name}")
    if "iat" in claims and _integer(claims["iat"]) > now:
        raise BadToken("issued in the future")
    if "nbf" in claims and _integer(claims["nbf"]) > now:
        raise BadToken("not valid yet")
    if _integer(claims["exp"]) <= now:
        raise BadToken("expired")
    if claims.get("aud"):
        raise BadToken("meant for an audience")  # the server never names one
    if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
        raise BadToken("sub and jti are strings")


def _integer(value: Any) -> int:
    """As PyJWT reads a time claim."""
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadToken("a time claim is not a number") from exc
