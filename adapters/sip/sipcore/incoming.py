"""Requests from the network (the UAS side, §8.2, §9.2, §12.2.2, §13.3, §17.2): absorbing
retransmissions, confirming our 2xx with the ACK, new INVITEs, CANCELs, and requests inside a
dialog (BYE, re-INVITE, INFO…). ``SipCore`` owns the legs and transactions this reads and adds to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.sip.sipcore.events import Action, Cancelled, Confirmed, Ended, IncomingCall, InDialogRequest
from adapters.sip.sipcore.leg import Leg, end_leg
from adapters.sip.sipcore.message import Addr, Request, new_tag, response_to
from adapters.sip.sipcore.transaction import (
    T1,
    TIMEOUT,
    Send,
    ServerInvite,
    ServerNonInvite,
    StartTimer,
    StopTimer,
    txn_id,
)

if TYPE_CHECKING:
    from adapters.sip.sipcore.core import SipCore


class IncomingRequests:
    """Answers every request ``SipCore.on_datagram`` parsed; returns the actions, like the core."""

    def __init__(self, core: SipCore) -> None:
        self.core = core

    def on_request(self, req: Request, source: Addr) -> list[Action]:
        tid = txn_id(req.branch, req.method)
        if (stxn := self.core.servers.get(tid)) is not None:  # a retransmission, or the ACK of a failure
            return self.core.server_actions(stxn.on_request(req))
        if req.method == "ACK":
            leg = self.core.legs.get(req.call_id)
            if leg is not None and leg.ok is not None and leg.dialog is not None:
                leg.dialog.accept_remote(req)
                leg.state, leg.ok = "confirmed", None
                return [StopTimer((leg.id, "2xx")), StopTimer((leg.id, "2xx-timeout")), Confirmed(leg.id)]
            return []  # an ACK for nothing we know: dropped, never answered (§17.2.3)
        if req.method == "CANCEL":
            return self._on_cancel(req, source)
        if req.to.params.get("tag"):
            return self._in_dialog(req, source)
        if req.method == "INVITE":
            return self._new_invite(req, source)
        if req.method == "OPTIONS":
            return self._reply(req, source, 200)
        return self._reply(req, source, 405)

    def _reply(self, req: Request, source: Addr, status: int, body: bytes = b"",
               to_tag: str = "") -> list[Action]:
        txn = ServerNonInvite(req, source)
        self.core.servers[txn.id] = txn
        resp = response_to(req, status, to_tag=to_tag or new_tag())
        if status == 405:
            resp.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")
        resp.add("Server", self.core.user_agent)
        resp.body = body
        return self.core.server_actions(txn.respond(resp))

    def _reply_invite(self, req: Request, source: Addr, status: int, to_tag: str) -> list[Action]:
        """A final failure to an INVITE, through an INVITE server transaction (Timer G/H)."""
        txn = ServerInvite(req, source)
        self.core.servers[txn.id] = txn
        return self.core.server_actions(txn.respond(response_to(req, status, to_tag=to_tag)))

    def _new_invite(self, req: Request, source: Addr) -> list[Action]:
        known = self.core.legs.get(req.call_id)
        if known is not None and known.role == "uas" and known.invite.branch == req.branch:
            # the caller resends its INVITE after our 2xx ended the transaction (§13.3.1.4):
            # our 2xx again if it is still unacknowledged, else nothing
            return [Send(known.ok, known.peer)] if known.ok is not None else []
        txn = ServerInvite(req, source)
        self.core.servers[txn.id] = txn
        if req.call_id in self.core.legs:  # a second INVITE with a known Call-ID and no tag: a loop
            resp = response_to(req, 482, "Loop Detected", to_tag=new_tag())
            return self.core.server_actions(txn.respond(resp))
        leg = Leg(id=req.call_id, role="uas", invite=req, peer=source, local_tag=new_tag())
        self.core.legs[leg.id] = leg
        self.core.owner[txn.id] = leg.id
        trying = response_to(req, 100)
        return [*self.core.server_actions(txn.respond(trying)), IncomingCall(leg.id, req)]

    def _on_cancel(self, req: Request, source: Addr) -> list[Action]:
        """§9.2: match the INVITE's server transaction by branch; 200 to the CANCEL, then 487
        to the INVITE if it is not answered yet."""
        inv = self.core.servers.get(txn_id(req.branch, "INVITE"))
        if not isinstance(inv, ServerInvite):
            return self._reply(req, source, 481)
        out = self._reply(req, source, 200, to_tag=inv.request.to.params.get("tag", ""))
        leg = self.core.legs.get(inv.request.call_id)
        if leg is None or inv.state != "proceeding" or leg.state not in ("calling", "ringing"):
            return out
        out += self.core.server_actions(inv.respond(response_to(inv.request, 487, to_tag=leg.local_tag)))
        return [*out, *end_leg(leg), Cancelled(leg.id)]

    def _in_dialog(self, req: Request, source: Addr) -> list[Action]:
        leg = self.core.legs.get(req.call_id)
        dialog = leg.dialog if leg else None
        if (leg is None or dialog is None or leg.state == "ended"
                or req.to.params.get("tag") != dialog.local_tag
                or req.from_.params.get("tag") != dialog.remote_tag):
            return self._reply(req, source, 481)
        if not dialog.accept_remote(req):
            return self._reply(req, source, 500)
        if req.method == "BYE":
            return [*end_leg(leg), *self._reply(req, source, 200, to_tag=dialog.local_tag),
                    Ended(leg.id, "remote")]
        if req.method == "INVITE" and (leg.pending_invite is not None or leg.ok is not None):
            return self._reply_invite(req, source, 491, dialog.local_tag)  # §14.2: glare
        if req.method == "INVITE":  # a re-INVITE: answered with our current offer
            txn = ServerInvite(req, source)
            self.core.servers[txn.id] = txn
            resp = response_to(req, 200, to_tag=dialog.local_tag)
            resp.add("Contact", self.core.contact)
            if leg.local_body:
                resp.add("Content-Type", "application/sdp")
                resp.body = leg.local_body
            leg.ok, leg.ok_interval, leg.peer = resp, T1, source
            return [*self.core.server_actions(txn.respond(resp)), StartTimer((leg.id, "2xx"), T1),
                    StartTimer((leg.id, "2xx-timeout"), TIMEOUT), InDialogRequest(leg.id, req)]
        if req.method in ("INFO", "OPTIONS", "UPDATE"):
            return [*self._reply(req, source, 200, to_tag=dialog.local_tag), InDialogRequest(leg.id, req)]
        return self._reply(req, source, 405, to_tag=dialog.local_tag)
