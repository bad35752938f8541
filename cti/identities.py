"""Normalisation of customer identities (pure).

Phone numbers are parsed by ``phonenumbers`` (Google's libphonenumber metadata): national
formats, trunk prefixes ("1 415 ...", "06 ...") and international prefixes are the library's
job, not a regular expression's.
"""

from __future__ import annotations

import re

import phonenumbers

from cti.domain import Identity, IdentityKind
from cti.errors import InvalidInput

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_REGION = "US"
MAX_PHONE_CHARS = 64


def region_for_country_code(code: str) -> str:
    """The main region of a calling code ("1" -> "US", "33" -> "FR"): the older setting."""
    try:
        region = phonenumbers.region_code_for_country_code(int(code.strip().lstrip("+")))
    except ValueError:
        return DEFAULT_REGION
    return DEFAULT_REGION if region == phonenumbers.UNKNOWN_REGION else region


def normalise_phone(raw: str, *, region: str | None = None, default_country_code: str | None = None) -> str:
    """Return ``raw`` in E.164 (``+14155550100``) or raise ``InvalidInput`` (``invalid-phone``).

    A national number belongs to ``region`` (ISO 3166, e.g. "US"); ``default_country_code`` is
    the older way to say the same ("1") and is used when no region is given.
    """
    if region is None:
        region = region_for_country_code(default_country_code) if default_country_code else DEFAULT_REGION
    text = raw.strip() if isinstance(raw, str) else ""
    if not text or len(text) > MAX_PHONE_CHARS:
        raise InvalidInput("invalid-phone", "not a phone number", field="phone")
    # "00" is the international prefix across most of the world, but not in every region's
    # metadata (North America dials 011): a number written "0044 ..." is international anywhere.
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput("invalid-phone", f"not a phone number: {raw[:40]!r}", field="phone") from exc
    # Possible (the right length for its country), not "valid": fictional 555 numbers and ranges
    # newer than the installed metadata are real numbers to the customers who have them.
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput("invalid-phone", f"not a possible phone number: {raw[:40]!r}", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("invalid-email", f"not an e-mail address: {raw!r}", field="email")
    return value


def normalise(kind: IdentityKind, raw: str, *, region: str | None = None,
              default_country_code: str | None = None) -> Identity:
    if kind is IdentityKind.PHONE:
        return Identity(kind, normalise_phone(raw, region=region, default_country_code=default_country_code))
    if kind is IdentityKind.EMAIL:
        return Identity(kind, normalise_email(raw))
    value = raw.strip()
    if not value or len(value) > 200:
        raise InvalidInput("invalid-identity", f"empty or too long {kind.value} identity")
    if kind is IdentityKind.X:
        value = value.lstrip("@").lower()
    return Identity(kind, value)
