"""Registrations: the state of one AOR's binding at the registrar, the REGISTER that asks for it,
and what each answer (or its absence) means: when to refresh, when to retry, when the binding
has lapsed. Pure: ``SipCore`` owns the client transactions and the digest answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.sip.sipcore.dialog import via
from adapters.sip.sipcore.events import Action, Registered, RegistrationFailed, RegistrationLapsed
from adapters.sip.sipcore.message import Addr, NameAddr, Request, Response
from adapters.sip.sipcore.transaction import StartTimer, StopTimer

REGISTER_RETRY_MAX = 30.0
OWNER_PREFIX = "reg:"  # marks a transaction or timer owner as a registration, not a leg


@dataclass
class Registration:
    aor: str
    contact: str
    registrar_uri: str
    expires: int
    call_id: str
    tag: str
    seq: int = 0
    failures: int = 0
    registered: bool = False
    auth_tried: bool = False  # one authenticated retry per challenge, never a loop

    @property
    def owner(self) -> str:
        return OWNER_PREFIX + self.aor


def register_request(reg: Registration, local: Addr, user_agent: str,
                     auth: tuple[str, str] | None = None) -> Request:
    """The next REGISTER of ``reg`` (a new CSeq each time), with credentials when given."""
    reg.seq += 1
    req = Request(method="REGISTER", uri=reg.registrar_uri)
    req.add("Via", via(local))
    req.add("Max-Forwards", "70")
    req.add("From", f"<{reg.aor}>;tag={reg.tag}")
    req.add("To", f"<{reg.aor}>")
    req.add("Call-ID", reg.call_id)
    req.add("CSeq", f"{reg.seq} REGISTER")
    req.add("Contact", reg.contact)
    req.add("Expires", str(reg.expires))
    req.add("User-Agent", user_agent)
    if auth is not None:
        req.add(*auth)
    return req


def stop_timers(reg: Registration) -> list[Action]:
    return [StopTimer((reg.owner, "refresh")), StopTimer((reg.owner, "lapse"))]


def answered(reg: Registration, resp: Response | None) -> list[Action]:
    """The REGISTER got a final answer that is not a challenge to answer (``None``: no answer at
    all). The caller forgets ``reg`` once it is no longer ``registered`` with ``expires`` 0."""
    key = (reg.owner, "refresh")
    if resp is not None and 200 <= resp.status < 300:
        if reg.expires == 0:
            reg.registered = False
            return [StopTimer((reg.owner, "lapse")), Registered(reg.aor, 0)]
        granted = granted_expires(resp, reg.contact, reg.expires)
        reg.failures, reg.registered = 0, True
        return [StartTimer(key, max(granted / 2, 1.0)), StartTimer((reg.owner, "lapse"), granted),
                Registered(reg.aor, granted)]
    reg.failures += 1
    reg.registered = False
    retry = min(2.0 ** reg.failures, REGISTER_RETRY_MAX)
    return [StartTimer(key, retry), StopTimer((reg.owner, "lapse")),
            RegistrationFailed(reg.aor, resp.status if resp else 408, retry)]


def lapsed(reg: Registration) -> list[Action]:
    """The lapse timer fired: the refresh (sent at half the expiry) is still unanswered, so the
    binding is gone."""
    was, reg.registered = reg.registered, False
    return [RegistrationLapsed(reg.aor)] if was else []


def granted_expires(resp: Response, contact: str, asked: int) -> int:
    """The binding time the registrar gave our Contact (its ``expires`` param, else Expires)."""
    ours = NameAddr.parse(contact).uri
    for value in resp.all("Contact"):
        c = NameAddr.parse(value)
        if c.uri == ours and c.params.get("expires", "").isdigit():
            return int(c.params["expires"])
    header = resp.get("Expires")
    return int(header) if header and header.strip().isdigit() else asked
