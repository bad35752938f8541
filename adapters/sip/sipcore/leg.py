"""A leg: one INVITE dialog we placed (uac) or answered (uas), keyed by its Call-ID, and the
state it walks through (calling, ringing, answered, confirmed, ended) with what its ending
stops and starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.sip.sipcore.dialog import Dialog
from adapters.sip.sipcore.events import Action
from adapters.sip.sipcore.message import Addr, Request, Response
from adapters.sip.sipcore.transaction import T1, TIMEOUT, StartTimer, StopTimer


@dataclass
class Leg:
    id: str
    role: str  # "uac" | "uas"
    invite: Request
    peer: Addr  # where the initial INVITE went (uac) or came from (uas)
    state: str = "calling"  # calling, ringing, answered, confirmed, ended
    dialog: Dialog | None = None
    local_body: bytes = b""
    local_tag: str = ""
    cancel_wanted: bool = False  # asked before any provisional: sent when one arrives (§9.1)
    cancel_sent: bool = False
    acks: dict[int, Request] = field(default_factory=dict)  # CSeq → our ACK for its 2xx
    pending_invite: Request | None = None  # our re-INVITE in flight
    ok: Response | None = None  # our 2xx to the caller, retransmitted until ACKed
    ok_interval: float = T1
    auth_tried: bool = False


def end_leg(leg: Leg) -> list[Action]:
    """The leg is over: stop resending our 2xx, and forget it once retransmissions of its last
    messages can no longer arrive (64*T1)."""
    leg.state = "ended"
    out: list[Action] = []
    if leg.ok is not None:
        out += [StopTimer((leg.id, "2xx")), StopTimer((leg.id, "2xx-timeout"))]
        leg.ok = None
    if leg.cancel_sent:
        out.append(StopTimer((leg.id, "cancel-timeout")))
    return [*out, StartTimer((leg.id, "forget"), TIMEOUT)]
