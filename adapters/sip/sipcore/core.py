"""The SIP user agent core: transactions, dialogs, calls and registrations as one state machine.

``SipCore`` owns no socket and no clock. Feed it datagrams (``on_datagram``), timer expiries
(``on_timer``) and the TU's wishes (``invite``, ``cancel``, ``bye``, ``answer``…); each call
returns the actions to carry out in order: ``Send`` a message to an address, ``StartTimer`` /
``StopTimer``, or an event for the TU (the ``SipEvent`` subclasses). ``transport.SipEndpoint``
carries them out on asyncio; the unit tests read them as data.

This module owns the TU's requests, the clock, responses to our requests and the transaction
table; requests from the network are answered by ``incoming.IncomingRequests``, a leg's state is
``leg.Leg``, the events are in ``events`` and the registrations' decisions in ``registration``.

A leg is one INVITE dialog, keyed by its Call-ID (ours are random, so unique across restarts).
Forking is not handled: the first 2xx makes the dialog, a 2xx from another fork is ACKed and
sent a BYE (§13.2.2.4).
"""

from __future__ import annotations

import logging

from adapters.sip.sipcore import registration
from adapters.sip.sipcore.dialog import Dialog, via
from adapters.sip.sipcore.digest import Credentials, answer_challenge
from adapters.sip.sipcore.events import (
    Action,
    Answered,
    Ended,
    ReinviteDone,
    Rejected,
    Ringing,
)
from adapters.sip.sipcore.incoming import IncomingRequests
from adapters.sip.sipcore.leg import Leg, end_leg
from adapters.sip.sipcore.message import (
    Addr,
    NameAddr,
    Request,
    Response,
    SipParseError,
    cancel_for,
    new_call_id,
    new_tag,
    parse,
    response_to,
    uri_hostport,
)
from adapters.sip.sipcore.transaction import (
    T1,
    T2,
    TIMEOUT,
    ClientInvite,
    ClientNonInvite,
    ClientTxn,
    Deliver,
    Send,
    ServerInvite,
    ServerTxn,
    StartTimer,
    StopTimer,
    Terminated,
    TimedOut,
    TimerKey,
    TxnAction,
    txn_id,
)

log = logging.getLogger(__name__)


class SipCore:
    def __init__(self, local: Addr, *, outbound: Addr | None = None, user: str = "line",
                 user_agent: str = "cti-sipcore", credentials: Credentials | None = None) -> None:
        self.credentials = credentials  # answers 401/407 to our REGISTER and INVITE
        self.local = local  # put in Via and Contact
        self.outbound = outbound  # every out-of-dialog request goes there (a proxy)
        self.user = user
        self.user_agent = user_agent
        self.legs: dict[str, Leg] = {}
        self.registrations: dict[str, registration.Registration] = {}
        self.clients: dict[str, ClientTxn] = {}
        self.servers: dict[str, ServerTxn] = {}
        self.owner: dict[str, str] = {}  # transaction id → leg id or "reg:" + AOR
        self.requests = IncomingRequests(self)

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@{self.local[0]}:{self.local[1]}>"

    # --- the TU's requests ---------------------------------------------------------------------

    def invite(self, target: str, *, from_uri: str, body: bytes = b"",
               content_type: str = "application/sdp") -> tuple[str, list[Action]]:
        """Call ``target`` (a full SIP URI) through the outbound proxy; the leg id and actions."""
        call_id = new_call_id(self.local[0])
        req = Request(method="INVITE", uri=target)
        req.add("Via", via(self.local))
        req.add("Max-Forwards", "70")
        req.add("From", f"<{from_uri}>;tag={new_tag()}")
        req.add("To", f"<{target}>")
        req.add("Call-ID", call_id)
        req.add("CSeq", "1 INVITE")
        req.add("Contact", self.contact)
        req.add("User-Agent", self.user_agent)
        if body:
            req.add("Content-Type", content_type)
        req.body = body
        dest = self.outbound or uri_hostport(target)
        self.legs[call_id] = Leg(id=call_id, role="uac", invite=req, peer=dest, local_body=body)
        return call_id, self._client(ClientInvite(req, dest), call_id)

    def cancel(self, leg_id: str) -> list[Action]:
        """§9.1: CANCEL a ringing call (deferred until a provisional arrived); after an answer,
        BYE instead."""
        leg = self.legs.get(leg_id)
        if leg is None or leg.role != "uac" or leg.state == "ended":
            return []
        if leg.state in ("answered", "confirmed"):
            return self.bye(leg_id)
        txn = self.clients.get(txn_id(leg.invite.branch, "INVITE"))
        if not isinstance(txn, ClientInvite) or not txn.got_provisional:
            leg.cancel_wanted = True
            return []
        leg.cancel_wanted, leg.cancel_sent = False, True
        return [*self._client(ClientNonInvite(cancel_for(leg.invite), leg.peer), leg_id),
                StartTimer((leg.id, "cancel-timeout"), TIMEOUT)]

    def bye(self, leg_id: str) -> list[Action]:
        leg = self.legs.get(leg_id)
        if leg is None or leg.dialog is None or leg.state not in ("answered", "confirmed"):
            return []
        out = end_leg(leg)
        req = leg.dialog.request("BYE", self.local, self.contact)
        return out + self._client(ClientNonInvite(req, leg.dialog.next_hop(self.outbound)), leg_id)

    def reinvite(self, leg_id: str, body: bytes) -> list[Action]:
        """A re-INVITE with a new offer (hold: ``a=sendonly``/``inactive``)."""
        leg = self.legs.get(leg_id)
        if leg is None or leg.dialog is None or leg.state != "confirmed" or leg.pending_invite:
            return []
        req = leg.dialog.request("INVITE", self.local, self.contact)
        req.add("Content-Type", "application/sdp")
        req.body = leg.local_body = body
        leg.pending_invite = req
        return self._client(ClientInvite(req, leg.dialog.next_hop(self.outbound)), leg_id)

    def info(self, leg_id: str, body: bytes, content_type: str) -> list[Action]:
        leg = self.legs.get(leg_id)
        if leg is None or leg.dialog is None or leg.state != "confirmed":
            return []
        req = leg.dialog.request("INFO", self.local, self.contact)
        req.add("Content-Type", content_type)
        req.body = body
        return self._client(ClientNonInvite(req, leg.dialog.next_hop(self.outbound)), leg_id)

    def answer(self, leg_id: str, status: int, body: bytes = b"", reason: str = "") -> list[Action]:
        """Answer an incoming INVITE: 1xx (ringing), 2xx (with our SDP) or a failure."""
        leg = self.legs.get(leg_id)
        txn = self.servers.get(txn_id(leg.invite.branch, "INVITE")) if leg else None
        if leg is None or not isinstance(txn, ServerInvite) or leg.state not in ("calling", "ringing"):
            return []
        resp = response_to(leg.invite, status, reason, to_tag=leg.local_tag)
        if status > 100:
            resp.add("Contact", self.contact)
        resp.add("Server", self.user_agent)
        if body:
            resp.add("Content-Type", "application/sdp")
            resp.body = leg.local_body = body
        out: list[Action] = list(self.server_actions(txn.respond(resp)))
        if status < 200:
            leg.state = "ringing"
        elif status < 300:
            leg.state, leg.ok, leg.ok_interval = "answered", resp, T1
            leg.dialog = Dialog.as_uas(leg.invite, leg.local_tag)
            out += [StartTimer((leg.id, "2xx"), T1), StartTimer((leg.id, "2xx-timeout"), TIMEOUT)]
        else:
            out += end_leg(leg)
        return out

    def register(self, aor: str, expires: int) -> list[Action]:
        """Keep ``aor`` bound to our Contact at the outbound proxy: refreshed at half the granted
        expiry, retried with back-off (up to 30 s) for ever after a failure or a timeout."""
        host, port = self.outbound or uri_hostport(aor)
        reg = self.registrations.get(aor) or registration.Registration(
            aor=aor, contact=self.contact, registrar_uri=f"sip:{host}:{port}", expires=expires,
            call_id=new_call_id(self.local[0]), tag=new_tag())
        reg.expires = expires
        self.registrations[aor] = reg
        return self._send_register(reg)

    def unregister(self, aor: str) -> list[Action]:
        reg = self.registrations.get(aor)
        if reg is None:
            return []
        reg.expires = 0
        return [*registration.stop_timers(reg), *self._send_register(reg)]

    def shutdown(self) -> list[Action]:
        """Before the process goes: BYE every call through its route set, CANCEL every ringing
        one we placed, refuse every one ringing us (480), remove every registration."""
        out: list[Action] = []
        for leg in list(self.legs.values()):
            if leg.state in ("answered", "confirmed"):
                out += self.bye(leg.id)
            elif leg.role == "uac" and leg.state in ("calling", "ringing"):
                out += self.cancel(leg.id)
            elif leg.role == "uas" and leg.state in ("calling", "ringing"):
                out += self.answer(leg.id, 480, reason="Temporarily Unavailable")
        for aor in list(self.registrations):
            out += self.unregister(aor)
        return out

    # --- input from the network and the clock --------------------------------------------------

    def on_datagram(self, data: bytes, source: Addr) -> list[Action]:
        if not data.strip():
            return []  # keep-alive CRLF
        try:
            msg = parse(data)
        except SipParseError as exc:
            log.warning("sip.unparsable", extra={"source": f"{source[0]}:{source[1]}", "why": exc.message})
            return []
        try:
            if isinstance(msg, Response):
                return self._on_response(msg)
            return self.requests.on_request(msg, source)
        except SipParseError as exc:
            log.warning("sip.bad_message", extra={"source": f"{source[0]}:{source[1]}", "why": exc.message})
            return []

    def on_timer(self, key: TimerKey) -> list[Action]:
        owner, name = key
        if (ctxn := self.clients.get(owner)) is not None:
            return self._txn_actions(ctxn.on_timer(name))
        if (stxn := self.servers.get(owner)) is not None:
            return self.server_actions(stxn.on_timer(name))
        if (reg := self._registration_of(owner)) is not None:
            if name == "refresh":
                return self._send_register(reg)
            if name == "lapse":
                return registration.lapsed(reg)
        leg = self.legs.get(owner)
        if leg is not None and name == "forget":
            del self.legs[leg.id]
            return []
        if leg is not None and name == "cancel-timeout" and leg.state in ("calling", "ringing"):
            # §9.1: no final to the cancelled INVITE in 64*T1: the transaction is given up
            tid = txn_id(leg.invite.branch, "INVITE")
            self.clients.pop(tid, None)
            self.owner.pop(tid, None)
            return [*end_leg(leg), Rejected(leg.id, 408, "Request Timeout")]
        if leg is not None and leg.ok is not None:
            if name == "2xx":  # §13.3.1.4: retransmit our 2xx, T1 doubling to T2, until the ACK
                leg.ok_interval = min(leg.ok_interval * 2, T2)
                return [Send(leg.ok, leg.peer), StartTimer((leg.id, "2xx"), leg.ok_interval)]
            if name == "2xx-timeout":  # no ACK in 64*T1: end the session with a BYE
                out: list[Action] = [StopTimer((leg.id, "2xx"))]
                leg.state, leg.ok = "confirmed", None
                out += self.bye(leg.id)
                return [*out, Ended(leg.id, "no-ack")]
        return []

    # --- responses -----------------------------------------------------------------------------

    def _on_response(self, resp: Response) -> list[Action]:
        txn = self.clients.get(txn_id(resp.branch, resp.cseq[1]))
        if txn is not None:
            return self._txn_actions(txn.on_response(resp))
        # no transaction: a retransmitted 2xx to an INVITE (§13.2.2.4: ACK it again)
        leg = self.legs.get(resp.call_id)
        if leg is None or leg.dialog is None or resp.cseq[1] != "INVITE" or not 200 <= resp.status < 300:
            return []
        if resp.to.params.get("tag") != leg.dialog.remote_tag:
            return self._ack_and_bye_fork(leg, resp)
        ack = leg.acks.get(resp.cseq[0])
        return [Send(ack, leg.dialog.next_hop(self.outbound))] if ack is not None else []

    def _on_invite_response(self, leg: Leg, resp: Response, txn: str) -> list[Action]:
        if leg.pending_invite is not None and txn == txn_id(leg.pending_invite.branch, "INVITE"):
            return self._on_reinvite_response(leg, resp)
        if resp.status < 200:
            out: list[Action] = []
            if resp.status in (180, 183) and leg.state == "calling":
                leg.state = "ringing"
                out.append(Ringing(leg.id, resp.status))
            if leg.cancel_wanted:
                out += self.cancel(leg.id)
            return out
        if resp.status < 300:
            if leg.dialog is not None and resp.to.params.get("tag") != leg.dialog.remote_tag:
                return self._ack_and_bye_fork(leg, resp)
            dialog = Dialog.as_uac(leg.invite, resp)
            hop = dialog.next_hop(self.outbound)  # a SipParseError here leaves the leg untouched
            leg.dialog = dialog
            ack = dialog.ack(resp.cseq[0], self.local)
            leg.acks[resp.cseq[0]] = ack
            out = [Send(ack, hop)]
            leg.state = "confirmed"
            if leg.cancel_wanted or leg.cancel_sent:
                return out + self.bye(leg.id)  # §9.1: the answer crossed our CANCEL
            return [*out, Answered(leg.id, resp.body)]
        # the transaction has ACKed it already (§17.1.1.3)
        if resp.status in (401, 407) and self.credentials and not leg.auth_tried and not leg.cancel_sent:
            return self._invite_again_with_auth(leg, resp)
        return [*end_leg(leg), Rejected(leg.id, resp.status, resp.reason)]

    def _invite_again_with_auth(self, leg: Leg, resp: Response) -> list[Action]:
        """§22.2: the same INVITE with credentials, a new branch and the next CSeq."""
        assert self.credentials is not None
        leg.auth_tried = True
        old = leg.invite
        req = Request(method="INVITE", uri=old.uri, headers=list(old.headers), body=old.body)
        req.set("Via", via(self.local))
        req.set("CSeq", f"{old.cseq[0] + 1} INVITE")
        req.set(*answer_challenge(resp, self.credentials, "INVITE", old.uri))
        leg.invite = req
        return self._client(ClientInvite(req, leg.peer), leg.id)

    def _on_reinvite_response(self, leg: Leg, resp: Response) -> list[Action]:
        if resp.status < 200 or leg.dialog is None:
            return []
        leg.pending_invite = None
        out: list[Action] = []
        if resp.status < 300:
            if (contact := resp.get("Contact")) is not None:
                leg.dialog.remote_target = NameAddr.parse(contact).uri  # a target refresh
            ack = leg.dialog.ack(resp.cseq[0], self.local)
            leg.acks[resp.cseq[0]] = ack
            out.append(Send(ack, leg.dialog.next_hop(self.outbound)))
        return [*out, ReinviteDone(leg.id, resp.status, resp.body)]

    def _ack_and_bye_fork(self, leg: Leg, resp: Response) -> list[Action]:
        fork = Dialog.as_uac(leg.invite, resp)
        hop = fork.next_hop(self.outbound)
        bye = fork.request("BYE", self.local, self.contact)
        return [Send(fork.ack(resp.cseq[0], self.local), hop), *self._client(ClientNonInvite(bye, hop), "")]

    # --- transactions and their owners ---------------------------------------------------------

    def _client(self, txn: ClientTxn, owner: str) -> list[Action]:
        self.clients[txn.id] = txn
        self.owner[txn.id] = owner
        return self._txn_actions(txn.start())

    def server_actions(self, actions: list[TxnAction]) -> list[Action]:
        return self._txn_actions(actions)

    def _txn_actions(self, actions: list[TxnAction]) -> list[Action]:
        out: list[Action] = []
        for act in actions:
            if isinstance(act, Send | StartTimer | StopTimer):
                out.append(act)
            elif isinstance(act, Deliver):
                out += self._delivered(act.txn, act.message)
            elif isinstance(act, TimedOut):
                out += self._timed_out(act.txn)
            elif isinstance(act, Terminated):
                self.clients.pop(act.txn, None)
                self.servers.pop(act.txn, None)
                self.owner.pop(act.txn, None)
        return out

    def _delivered(self, tid: str, msg: Request | Response) -> list[Action]:
        owner = self.owner.get(tid, "")
        if not isinstance(msg, Response):
            return []
        if owner.startswith(registration.OWNER_PREFIX):
            return self._on_register_response(owner.removeprefix(registration.OWNER_PREFIX), msg)
        leg = self.legs.get(owner)
        if leg is None:
            return []
        method = msg.cseq[1]
        if method == "INVITE":
            return self._on_invite_response(leg, msg, tid)
        if method == "BYE" and msg.status >= 200:
            return [Ended(leg.id, "local")]
        return []

    def _timed_out(self, tid: str) -> list[Action]:
        owner = self.owner.get(tid, "")
        if owner.startswith(registration.OWNER_PREFIX):
            return self._on_register_response(owner.removeprefix(registration.OWNER_PREFIX), None)
        leg = self.legs.get(owner)
        if leg is None:
            return []
        txn = self.clients.get(tid)
        if isinstance(txn, ClientInvite) and txn.request is leg.invite:
            return [*end_leg(leg), Rejected(leg.id, 408, "Request Timeout")]
        if isinstance(txn, ClientNonInvite) and txn.request.method == "BYE":
            return [Ended(leg.id, "local")]
        if isinstance(txn, ServerInvite) and leg.state == "ended":
            return []  # Timer H: our failure answer was never ACKed; nothing left to do
        return []

    # --- registrations -------------------------------------------------------------------------

    def _registration_of(self, owner: str) -> registration.Registration | None:
        if not owner.startswith(registration.OWNER_PREFIX):
            return None
        return self.registrations.get(owner.removeprefix(registration.OWNER_PREFIX))

    def _send_register(self, reg: registration.Registration,
                       auth: tuple[str, str] | None = None) -> list[Action]:
        req = registration.register_request(reg, self.local, self.user_agent, auth)
        dest = self.outbound or uri_hostport(reg.registrar_uri)
        return self._client(ClientNonInvite(req, dest), reg.owner)

    def _on_register_response(self, aor: str, resp: Response | None) -> list[Action]:
        reg = self.registrations.get(aor)
        if reg is None or (resp is not None and resp.status < 200):
            return []
        if resp is not None and resp.status in (401, 407) and self.credentials and not reg.auth_tried:
            reg.auth_tried = True
            auth = answer_challenge(resp, self.credentials, "REGISTER", reg.registrar_uri)
            return self._send_register(reg, auth)
        reg.auth_tried = False
        out = registration.answered(reg, resp)
        if reg.expires == 0 and resp is not None and 200 <= resp.status < 300:
            self.registrations.pop(aor, None)  # unregistered: nothing left to refresh
        return out
