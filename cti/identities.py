"""Normalisation of customer identities (pure)."""

from __future__ import annotations

import re

from cti.domain import Identity, IdentityKind
from cti.errors import InvalidInput

_PHONE_CHARS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_phone(raw: str, *, default_country_code: str = "1") -> str:
    """Return ``raw`` in E.164 (``+15551234567``) or raise ``InvalidInput``.

    A number without ``+`` or ``00`` is taken as national and gets ``default_country_code``.
    """
    digits = _PHONE_CHARS.sub("", raw.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif not digits.startswith("+"):
        digits = "+" + default_country_code + digits.lstrip("0")
    if not _E164.match(digits):
        raise InvalidInput("invalid-phone", f"not a phone number: {raw!r}", field="phone")
    return digits


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("invalid-email", f"not an e-mail address: {raw!r}", field="email")
    return value


def normalise(kind: IdentityKind, raw: str, *, default_country_code: str = "1") -> Identity:
    if kind is IdentityKind.PHONE:
        return Identity(kind, normalise_phone(raw, default_country_code=default_country_code))
    if kind is IdentityKind.EMAIL:
        return Identity(kind, normalise_email(raw))
    value = raw.strip()
    if not value or len(value) > 200:
        raise InvalidInput("invalid-identity", f"empty or too long {kind.value} identity")
    if kind is IdentityKind.X:
        value = value.lstrip("@").lower()
    return Identity(kind, value)
