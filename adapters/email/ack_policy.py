"""Who may receive our automatic acknowledgement (pure).

An acknowledgement is mail the customer did not ask for: sent to an address a stranger chose,
it is backscatter (a ``Reply-To`` or a forged ``From`` makes us mail anyone, under our name). So
it goes only to the envelope sender (``MAIL FROM``, or the ``Return-Path`` the final server wrote
for a polled mailbox), and only when that sender is aligned with ``From``: the same address, or
the same organizational domain, as DMARC's relaxed alignment defines it (the Public Suffix List,
through ``publicsuffixlist``). Never to a ``Reply-To``, never to the null sender (a bounce).
"""

from __future__ import annotations

from collections.abc import Container
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

from adapters.email.loops import is_robot_address
from cti.errors import InvalidInput
from cti.identities import normalise_email


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped with the package: no download


def organizational_domain(domain: str) -> str:
    """``mail.example.co.uk`` -> ``example.co.uk``; a name with no known suffix stays itself."""
    return _psl().privatesuffix(domain.lower()) or domain.lower()


def envelope_address(value: str | None) -> str | None:
    """``<ann@example.com>`` or ``ann@example.com`` as an address; None for ``<>`` or nonsense."""
    if not value:
        return None
    inner = value.strip().removeprefix("<").removesuffix(">").strip()
    if not inner:
        return None
    try:
        return normalise_email(inner)
    except InvalidInput:
        return None


def aligned(envelope_sender: str, from_addr: str) -> bool:
    if envelope_sender == from_addr:
        return True
    env_domain = envelope_sender.rsplit("@", 1)[1]
    from_domain = from_addr.rsplit("@", 1)[1]
    return organizational_domain(env_domain) == organizational_domain(from_domain)


def ack_recipient(*, envelope_sender: str | None, from_addr: str | None,
                  own_addresses: Container[str]) -> str | None:
    """The address to acknowledge, or None when no acknowledgement may be sent."""
    sender = envelope_address(envelope_sender)
    if sender is None or from_addr is None or not aligned(sender, from_addr):
        return None
    if sender in own_addresses or is_robot_address(sender):
        return None
    return sender
