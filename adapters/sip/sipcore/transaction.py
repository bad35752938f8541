"""The four RFC 3261 §17 transactions over UDP, as state machines that return actions.

No socket and no clock inside: a transaction is fed messages and timer expiries and answers
with ``Send``/``StartTimer``/``StopTimer`` and, for its owner (``core.SipCore``), ``Deliver``
(a response or request the TU must see), ``TimedOut`` and ``Terminated``. Timer values are those
of §17 for an unreliable transport (T1 = 500 ms, T2 = 4 s, T4 = 5 s).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.sip.sipcore.message import Addr, Request, Response

T1 = 0.5
T2 = 4.0
T4 = 5.0
TIMEOUT = 64 * T1  # Timers B, F, H, J (and D's lower bound, 32 s)

TimerKey = tuple[str, str]  # (owner id, timer name)


@dataclass(frozen=True)
class Send:
    message: Request | Response
    addr: Addr


@dataclass(frozen=True)
class StartTimer:
    key: TimerKey
    delay: float


@dataclass(frozen=True)
class StopTimer:
    key: TimerKey


@dataclass(frozen=True)
class Deliver:
    """A message the transaction passes up to its TU."""

    txn: str
    message: Request | Response


@dataclass(frozen=True)
class TimedOut:
    """Timer B/F fired (no final response), or Timer H (no ACK for our failure answer)."""

    txn: str


@dataclass(frozen=True)
class Terminated:
    txn: str


TxnAction = Send | StartTimer | StopTimer | Deliver | TimedOut | Terminated


def txn_id(branch: str, method: str) -> str:
    """§17.1.3 / §17.2.3: the top Via branch and the method (ACK matches the INVITE's)."""
    return f"{branch}/{'INVITE' if method == 'ACK' else method}"


def ack_for_failure(invite: Request, response: Response) -> Request:
    """§17.1.1.3: the ACK for a 300-699 answer, built by the INVITE client transaction.

    Same Request-URI, Call-ID, From and CSeq number as the INVITE, the response's To (with the
    remote tag), only the INVITE's top Via (same branch), and the INVITE's Route headers.
    """
    ack = Request(method="ACK", uri=invite.uri)
    ack.add("Via", invite.top_via)
    for route in invite.all("Route"):
        ack.add("Route", route)
    ack.add("Max-Forwards", "70")
    ack.add("From", invite.need("From"))
    ack.add("To", response.need("To"))
    ack.add("Call-ID", invite.call_id)
    ack.add("CSeq", f"{invite.cseq[0]} ACK")
    return ack


class ClientInvite:
    """§17.1.1: Calling → Proceeding → Completed (Timer D) / Terminated on 2xx."""

    def __init__(self, request: Request, dest: Addr) -> None:
        self.id = txn_id(request.branch, "INVITE")
        self.request, self.dest = request, dest
        self.state = "calling"
        self.interval = T1
        self.ack: Request | None = None
        self.got_provisional = False

    def _t(self, name: str) -> TimerKey:
        return (self.id, name)

    def start(self) -> list[TxnAction]:
        return [Send(self.request, self.dest), StartTimer(self._t("A"), T1),
                StartTimer(self._t("B"), TIMEOUT)]

    def on_response(self, resp: Response) -> list[TxnAction]:
        out: list[TxnAction] = []
        if self.state in ("calling", "proceeding"):
            if self.state == "calling":
                out += [StopTimer(self._t("A")), StopTimer(self._t("B"))]
            if resp.status < 200:
                self.state, self.got_provisional = "proceeding", True
                return [*out, Deliver(self.id, resp)]
            if resp.status < 300:  # the TU (dialog) ACKs a 2xx, not the transaction (§17.1.1.2)
                self.state = "terminated"
                return [*out, Deliver(self.id, resp), Terminated(self.id)]
            self.state = "completed"
            self.ack = ack_for_failure(self.request, resp)
            return [*out, Send(self.ack, self.dest), StartTimer(self._t("D"), TIMEOUT),
                    Deliver(self.id, resp)]
        if self.state == "completed" and resp.status >= 300 and self.ack is not None:
            return [Send(self.ack, self.dest)]  # a retransmitted final: ACK again, TU not told
        return []

    def on_timer(self, name: str) -> list[TxnAction]:
        if name == "A" and self.state == "calling":
            self.interval *= 2
            return [Send(self.request, self.dest), StartTimer(self._t("A"), self.interval)]
        if name == "B" and self.state == "calling":
            self.state = "terminated"
            return [StopTimer(self._t("A")), TimedOut(self.id), Terminated(self.id)]
        if name == "D" and self.state == "completed":
            self.state = "terminated"
            return [Terminated(self.id)]
        return []


class ClientNonInvite:
    """§17.1.2: Trying → Proceeding → Completed (Timer K) → Terminated; E retransmits, F gives up."""

    def __init__(self, request: Request, dest: Addr) -> None:
        self.id = txn_id(request.branch, request.method)
        self.request, self.dest = request, dest
        self.state = "trying"
        self.interval = T1

    def _t(self, name: str) -> TimerKey:
        return (self.id, name)

    def start(self) -> list[TxnAction]:
        return [Send(self.request, self.dest), StartTimer(self._t("E"), T1),
                StartTimer(self._t("F"), TIMEOUT)]

    def on_response(self, resp: Response) -> list[TxnAction]:
        if self.state not in ("trying", "proceeding"):
            return []
        if resp.status < 200:
            self.state = "proceeding"
            return [Deliver(self.id, resp)]
        self.state = "completed"
        return [StopTimer(self._t("E")), StopTimer(self._t("F")), StartTimer(self._t("K"), T4),
                Deliver(self.id, resp)]

    def on_timer(self, name: str) -> list[TxnAction]:
        if name == "E" and self.state in ("trying", "proceeding"):
            self.interval = T2 if self.state == "proceeding" else min(self.interval * 2, T2)
            return [Send(self.request, self.dest), StartTimer(self._t("E"), self.interval)]
        if name == "F" and self.state in ("trying", "proceeding"):
            self.state = "terminated"
            return [StopTimer(self._t("E")), TimedOut(self.id), Terminated(self.id)]
        if name == "K" and self.state == "completed":
            self.state = "terminated"
            return [Terminated(self.id)]
        return []


class ServerInvite:
    """§17.2.1: Proceeding → Completed (G retransmits, H gives up) → Confirmed (Timer I);
    a 2xx ends it at once (the TU retransmits the 2xx, §13.3.1.4)."""

    def __init__(self, request: Request, source: Addr) -> None:
        self.id = txn_id(request.branch, "INVITE")
        self.request, self.source = request, source
        self.state = "proceeding"
        self.last: Response | None = None
        self.interval = T1

    def _t(self, name: str) -> TimerKey:
        return (self.id, name)

    def respond(self, resp: Response) -> list[TxnAction]:
        if self.state != "proceeding":
            return []
        self.last = resp
        if resp.status < 200:
            return [Send(resp, self.source)]
        if resp.status < 300:
            self.state = "terminated"
            return [Send(resp, self.source), Terminated(self.id)]
        self.state = "completed"
        return [Send(resp, self.source), StartTimer(self._t("G"), T1), StartTimer(self._t("H"), TIMEOUT)]

    def on_request(self, req: Request) -> list[TxnAction]:
        if req.method == "ACK":
            if self.state != "completed":
                return []
            self.state = "confirmed"
            return [StopTimer(self._t("G")), StopTimer(self._t("H")), StartTimer(self._t("I"), T4)]
        if self.state in ("proceeding", "completed") and self.last is not None:
            return [Send(self.last, self.source)]  # a retransmitted INVITE: our last answer again
        return []

    def on_timer(self, name: str) -> list[TxnAction]:
        if name == "G" and self.state == "completed" and self.last is not None:
            self.interval = min(self.interval * 2, T2)
            return [Send(self.last, self.source), StartTimer(self._t("G"), self.interval)]
        if name == "H" and self.state == "completed":
            self.state = "terminated"
            return [StopTimer(self._t("G")), TimedOut(self.id), Terminated(self.id)]
        if name == "I" and self.state == "confirmed":
            self.state = "terminated"
            return [Terminated(self.id)]
        return []


class ServerNonInvite:
    """§17.2.2: Trying → Proceeding → Completed (Timer J absorbs retransmissions) → Terminated."""

    def __init__(self, request: Request, source: Addr) -> None:
        self.id = txn_id(request.branch, request.method)
        self.request, self.source = request, source
        self.state = "trying"
        self.last: Response | None = None

    def respond(self, resp: Response) -> list[TxnAction]:
        if self.state not in ("trying", "proceeding"):
            return []
        self.last = resp
        if resp.status < 200:
            self.state = "proceeding"
            return [Send(resp, self.source)]
        self.state = "completed"
        return [Send(resp, self.source), StartTimer((self.id, "J"), TIMEOUT)]

    def on_request(self, req: Request) -> list[TxnAction]:
        if self.last is not None and self.state in ("proceeding", "completed"):
            return [Send(self.last, self.source)]
        return []

    def on_timer(self, name: str) -> list[TxnAction]:
        if name == "J" and self.state == "completed":
            self.state = "terminated"
            return [Terminated(self.id)]
        return []


ClientTxn = ClientInvite | ClientNonInvite
ServerTxn = ServerInvite | ServerNonInvite
