"""What the SIP core hands its transaction user: the ``SipEvent`` subclasses (a call ringing,
answered, rejected, arriving, cancelled, confirmed, ended, re-INVITEd; a registration granted,
failed or lapsed) and ``Action``, the union of everything a ``SipCore`` call returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.sip.sipcore.message import Request
from adapters.sip.sipcore.transaction import Send, StartTimer, StopTimer


@dataclass(frozen=True)
class SipEvent:
    leg: str  # the Call-ID of the leg, or the AOR of a registration


@dataclass(frozen=True)
class Ringing(SipEvent):
    status: int


@dataclass(frozen=True)
class Answered(SipEvent):
    body: bytes


@dataclass(frozen=True)
class Rejected(SipEvent):
    """The INVITE got a 3xx-6xx final (487 after our CANCEL), or no answer at all (408, Timer B)."""

    status: int
    reason: str


@dataclass(frozen=True)
class IncomingCall(SipEvent):
    request: Request


@dataclass(frozen=True)
class Cancelled(SipEvent):
    """The caller cancelled its INVITE before we answered (§9.2); the 487 has been sent."""


@dataclass(frozen=True)
class Confirmed(SipEvent):
    """The caller ACKed our 2xx."""


@dataclass(frozen=True)
class Ended(SipEvent):
    by: str  # "remote" (BYE received), "local" (our BYE answered or timed out), "no-ack"


@dataclass(frozen=True)
class ReinviteDone(SipEvent):
    status: int
    body: bytes


@dataclass(frozen=True)
class InDialogRequest(SipEvent):
    """INFO or a re-INVITE from the peer (answered 200 by the core; a re-INVITE with ``local_body``)."""

    request: Request


@dataclass(frozen=True)
class Registered(SipEvent):
    expires: int


@dataclass(frozen=True)
class RegistrationFailed(SipEvent):
    status: int  # 408 when the registrar did not answer
    retry_in: float


@dataclass(frozen=True)
class RegistrationLapsed(SipEvent):
    """The binding the registrar granted has expired and no refresh has succeeded since: the
    registrar no longer routes calls to us (its refresh is still being retried)."""


Action = Send | StartTimer | StopTimer | SipEvent
