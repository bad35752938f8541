"""How far an e-mail's sender is believed: the DMARC verdict of our own receiving server (pure).

A From address is asserted by default, like caller ID. The verdict comes from the
``Authentication-Results`` header (RFC 8601) that a *trusted* server — one of ours, named by its
authserv-id in ``identity.email.trusted_authserv_ids`` — added; headers with any other id are
ignored, because a sender can write any header they like. The topmost trusted header is the one
our border server added last; it is the only one read (lower ones could be the sender's own).
Parsing is ``authres``'s job.
"""

from __future__ import annotations

from collections.abc import Sequence

import authres

from cti.domain import IdentityLevel


def dmarc_verdict(auth_results: Sequence[str], trusted: Sequence[str]) -> str | None:
    """The DMARC result ("pass", "fail", "none", ...) the topmost trusted header gives, if any."""
    allowed = {t.lower() for t in trusted}
    if not allowed:
        return None
    for value in auth_results:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except authres.AuthResError:
            continue  # unreadable: nobody we trust wrote it that way
        if str(header.authserv_id).lower() not in allowed:
            continue
        for result in header.results:
            if str(result.method).lower() == "dmarc":
                return str(result.result).lower()
        return None
    return None


def sender_level(auth_results: Sequence[str], *, trusted: Sequence[str],
                 require_pass: bool) -> tuple[IdentityLevel, str]:
    """``(level, source)`` of the From address: claimed when a trusted server says DMARC failed,
    or (with ``require_pass``) when it does not say it passed; asserted otherwise."""
    verdict = dmarc_verdict(auth_results, trusted)
    if verdict == "pass":
        return IdentityLevel.ASSERTED, "dmarc-pass"
    if verdict == "fail" or require_pass:
        return IdentityLevel.CLAIMED, f"dmarc-{verdict or 'absent'}"
    return IdentityLevel.ASSERTED, "email-sender" if verdict is None else f"dmarc-{verdict}"
