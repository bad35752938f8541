"""One-time codes: sent to a claimed address or number, typed back to prove it (ports).

``CodeStore`` keeps the codes (``context.codes.SqlCodeStore``); a ``CodeSender`` carries one to
an address or number (the e-mail and SMS adapters). ``cti.claims`` puts the two together.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cti.domain import Identity, IdentityKind


class CodeStore(Protocol):
    async def issue_code(self, target: Identity, interaction_id: str) -> str:
        """A fresh code for ``target``, good for this interaction only (any scope key works: no
        foreign key); stored hashed, with an expiry and an attempt limit. Raises
        ``Conflict("code-send-limit")`` when the interaction had too many codes this hour."""
        ...

    async def check_code(self, interaction_id: str, code: str, *, target: Identity | None = None) -> Identity:
        """The identity the code was sent to; the code is used up. Raises
        ``InvalidInput("code-wrong")``, ``Conflict("code-expired")`` (none live) or
        ``Conflict("code-locked")`` (too many wrong tries)."""
        ...


@runtime_checkable
class CodeSender(Protocol):
    """A channel that can carry a one-time code to an address or number of its kind."""

    code_kind: IdentityKind

    async def send_code(self, to: str, text: str) -> None:
        """Send ``text`` to ``to``; raise on failure (the agent is told)."""
        ...
