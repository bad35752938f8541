"""The thin layer of fixes around pyVoIP 1.6.8 (one module; each fix names the defect it overcomes).

pyVoIP runs its own threads: a SIP receive loop, a register timer and one thread per new call.
Everything here runs on those threads and reports to ``LineEvents`` (the adapter bridges that to
asyncio with ``loop.call_soon_threadsafe``). Media does not go through pyVoIP at all: its
``RTPClient`` decodes to 8-bit audio, re-paces at 20.1 ms and keeps every packet; ``RtpPort``
takes its place and hands the RTP socket to the adapter's relay (``adapters.sip.media``).

Fixes (the tests in ``tests/adapters/sip/test_fixes.py`` failed before each one):

- F1 Record-Route: pyVoIP's 200 OK to an INVITE does not copy the Record-Route headers (RFC 3261
  12.1.1), so the caller's in-dialog requests (INFO with the DTMF, BYE) carry no Route and a
  standard proxy refuses them with ``404 Not here``. ``gen_answer`` copies them.
- F2 INFO / OPTIONS / REFER: pyVoIP's parser refuses these methods and answers nothing (the
  caller retransmits, then drops the call). INFO (``application/dtmf-relay``) gets 200 and its
  digit goes to the call; OPTIONS gets 200; REFER gets 501.
- F3 CANCEL: an inbound CANCEL got 200 but the INVITE never got 487; it does now and the call ends.
- F4 capacity: when the RTP ports run out pyVoIP answers nothing and frees the ports of live
  inbound calls (``release_ports`` only keeps ports of calls it *dialled*). Here a call over the
  ``max_calls`` limit gets 486 and a call with no free port 503, and a port is only freed with
  its own call.
- F5 registration: after a registrar outage pyVoIP gives up (``FAILED``, its SIP thread stops)
  and it re-registers only 5 s before expiry (a restarted registrar forgets us until then). Here
  the line re-registers at half the expiry and retries with a back-off for ever.
- F6 call lifetime: pyVoIP forgets a call as soon as the thread that received it ends (its
  ``_cleanup_dead_calls``), so a later BYE is not seen; calls are forgotten only when they end.
- F7 BYE from our side of an inbound call: pyVoIP copies the INVITE's Via headers and sends no
  Route, so the proxy refuses it (``404 Not here``). ``gen_bye`` sends our Via, the Route set
  recorded from the INVITE and the next CSeq of our side.
- F8 a re-INVITE started a second pair of RTP threads: ``RtpPort.start`` is idempotent.
- F9 stopping the line: pyVoIP's receive thread died with ``Bad file descriptor`` when the socket
  was closed under it; the sockets are now closed under the receive lock and the loop ends quietly.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Protocol, cast

with warnings.catch_warnings():
    # pyVoIP imports ``audioop`` (deprecated in 3.11, gone in 3.13): it is never used here.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyVoIP
    from pyVoIP.VoIP import VoIP as pv  # first: ``pyVoIP.SIP`` alone is a circular import
    from pyVoIP import SIP  # isort: skip
    from pyVoIP.VoIP.status import PhoneStatus

log = logging.getLogger(__name__)

CallState = pv.CallState
InvalidStateError = pv.InvalidStateError

EXTRA_METHODS = ("INFO", "OPTIONS", "REFER")
for _method in EXTRA_METHODS:  # F2: the parser refuses a method not in this list
    if _method not in pyVoIP.SIPCompatibleMethods:
        pyVoIP.SIPCompatibleMethods.append(_method)

CRLF = "\r\n"
DTMF_SIGNAL = re.compile(r"Signal\s*=\s*([0-9*#A-Da-d])")


class LineEvents(Protocol):
    """What the line tells the adapter; called on pyVoIP's threads."""

    def registered(self, ok: bool, why: str) -> None: ...
    def incoming(self, call: FixedCall) -> None: ...
    def dtmf(self, call: FixedCall, digit: str) -> None: ...
    def ended(self, call: FixedCall, why: str) -> None: ...


@dataclass
class Media:
    """Where a call's RTP goes: our bound socket and the far end (from the SDP)."""

    sock: socket.socket
    local_port: int
    remote: tuple[str, int]
    payload_type: int  # the G.711 payload type both ends agreed (0 PCMU, 8 PCMA)
    dtmf_payload_type: int | None = None  # telephone-event (RFC 4733), when the caller offered it


class RtpPort:
    """Stands in for pyVoIP's ``RTPClient``: binds the port, moves no audio itself (F8)."""

    def __init__(self, codecs: dict[int, Any], local_ip: str, port: int, remote_ip: str,
                 remote_port: int, sock: socket.socket) -> None:
        self.assoc = codecs
        self.inIP = local_ip
        self.inPort = port
        self.outIP = remote_ip
        self.outPort = remote_port
        self.sock = sock
        self.started = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False


def _header(raw: bytes, name: str) -> str:
    found = _raw_headers_whole(raw, name)
    return found[0] if found else ""


def _raw_headers_whole(raw: bytes, name: str) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf8", "replace")
    out = []
    for line in head.split(CRLF)[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            out.append(value.strip())
    return out


class FixedSIPClient(SIP.SIPClient):
    def __init__(self, *args: Any, expires: int, retry_seconds: float, events: LineEvents,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_expires = expires
        self.register_timeout = 2
        self.retry_seconds = retry_seconds
        self.events = events
        self.local_cseq: dict[str, int] = {}
        self.registered_ok = False
        self._retry = retry_seconds

    # F1: the 200 OK copies the Record-Route headers
    def gen_answer(self, request: SIP.SIPMessage, sess_id: str, ms: Any, sendtype: Any) -> str:
        answer: str = super().gen_answer(request, sess_id, ms, sendtype)
        routes = _raw_headers_whole(request.raw, "Record-Route")
        if not routes:
            return answer
        head, sep, body = answer.partition(CRLF + CRLF)
        extra = "".join(f"{CRLF}Record-Route: {r}" for r in routes)
        return head + extra + sep + body

    # F7: our BYE on an inbound call: our Via, the recorded Route set, our next CSeq
    def gen_bye(self, request: SIP.SIPMessage) -> str:
        call_id = request.headers["Call-ID"]
        tag = self.tagLibrary[call_id]
        if request.headers["From"]["tag"] == tag:  # a call we dialled: pyVoIP's own (see the note)
            text: str = super().gen_bye(request)
            return text
        target = _header(request.raw, "Contact").strip()
        target = target[target.find("<") + 1:target.find(">")] if "<" in target else target.split(";")[0]
        routes = _raw_headers_whole(request.raw, "Record-Route")
        cseq = self.local_cseq.get(call_id, 0) + 1
        self.local_cseq[call_id] = cseq
        lines = [f"BYE {target} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.myIP}:{self.myPort};branch={self.gen_branch()};rport",
                 *(f"Route: {r}" for r in routes),
                 "Max-Forwards: 70",
                 f"From: {request.headers['To']['raw']};tag={tag}",
                 f"To: {request.headers['From']['raw']};tag={request.headers['From']['tag']}",
                 f"Call-ID: {call_id}", f"CSeq: {cseq} BYE",
                 f"User-Agent: pyVoIP {pyVoIP.__version__}", "Content-Length: 0"]
        return CRLF.join(lines) + CRLF + CRLF

    def bye(self, request: SIP.SIPMessage) -> None:
        message = self.gen_bye(request)
        routes = _raw_headers_whole(request.raw, "Record-Route")
        self.out.sendto(message.encode("utf8"), (self.server, self.port) if routes
                        else _uri_address(_header(request.raw, "Contact")) or (self.server, self.port))

    def reply(self, request: SIP.SIPMessage, status: int, reason: str, *, tag: str | None = None,
              cseq: str | None = None) -> None:
        """A response built from the request (Via, From, To, Call-ID, CSeq copied)."""
        to = request.headers["To"]
        to_tag = to["tag"] or tag or self.tagLibrary.get(request.headers["Call-ID"]) or self.gen_tag()
        lines = [f"SIP/2.0 {status} {reason}", *(f"Via: {v}" for v in _raw_headers_whole(request.raw, "Via")),
                 f"From: {request.headers['From']['raw']};tag={request.headers['From']['tag']}",
                 f"To: {to['raw']};tag={to_tag}", f"Call-ID: {request.headers['Call-ID']}",
                 f"CSeq: {cseq or _header(request.raw, 'CSeq')}",
                 f"User-Agent: pyVoIP {pyVoIP.__version__}",
                 f"Allow: {', '.join(pyVoIP.SIPCompatibleMethods)}", "Content-Length: 0"]
        self.out.sendto((CRLF.join(lines) + CRLF + CRLF).encode("utf8"), self._reply_to(request))

    def _reply_to(self, request: SIP.SIPMessage) -> tuple[str, int]:
        via = request.headers["Via"][0]
        host, port = via["address"]
        if via.get("received"):
            host = via["received"]
        if via.get("rport"):
            port = via["rport"]
        return str(host), int(port)

    # F2, F3: INFO, OPTIONS, REFER, CANCEL answered
    def parse_message(self, message: SIP.SIPMessage) -> None:
        if message.type == SIP.SIPMessageType.MESSAGE:
            method = message.method
            phone = cast(FixedPhone, self.phone)
            if method == "OPTIONS":
                self.reply(message, 200, "OK")
                return
            if method == "REFER":
                self.reply(message, 501, "Not Implemented")
                return
            if method == "INFO":
                call = cast("FixedCall | None", phone.calls.get(message.headers["Call-ID"]))
                if call is None:
                    self.reply(message, 481, "Call/Transaction Does Not Exist")
                    return
                self.reply(message, 200, "OK")
                found = DTMF_SIGNAL.search(message.raw.split(b"\r\n\r\n", 1)[-1].decode("utf8", "replace"))
                if found:
                    call.dtmf_callback(found.group(1).upper())
                    self.events.dtmf(call, found.group(1).upper())
                return
            if method == "CANCEL":
                call = cast("FixedCall | None", phone.calls.get(message.headers["Call-ID"]))
                self.reply(message, 200, "OK")
                if call is not None and call.state == pv.CallState.RINGING:
                    number = message.headers["CSeq"]["check"]
                    self.reply(call.request, 487, "Request Terminated", cseq=f"{number} INVITE")
                    call.cancelled()
                return
            if method == "BYE" and message.headers["Call-ID"] not in phone.calls:
                self.reply(message, 481, "Call/Transaction Does Not Exist")
                return
        super().parse_message(message)

    # F5: registration that never gives up
    def register(self) -> bool:
        ok = False
        why = ""
        try:
            with self.recvLock:
                ok = bool(self._SIPClient__register())  # type: ignore[attr-defined]
        except BaseException as exc:  # pyVoIP raises TimeoutError, OSError, its own errors
            why = f"{type(exc).__name__}: {exc}"
        finally:
            with contextlib.suppress(OSError):  # closed by ``stop`` meanwhile
                self.s.setblocking(True)
        if not self.NSD:
            return ok
        if ok != self.registered_ok or not ok:
            self.events.registered(ok, why)
        self.registered_ok = ok
        self.phone._status = PhoneStatus.REGISTERED if ok else PhoneStatus.REGISTERING
        if ok:
            self._retry = self.retry_seconds
            delay = max(1.0, self.default_expires / 2)
        else:
            delay = self._retry
            self._retry = min(self._retry * 2, 30.0)
        if self.NSD:
            timer = threading.Timer(delay, self.register)
            timer.daemon = True
            timer.name = "sip-register"
            self.registerThread = timer
            timer.start()
        return ok

    def start(self) -> None:
        if self.NSD:
            raise RuntimeError("already started")
        self.NSD = True
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((self.myIP, self.myPort))
        self.out = self.s
        self.register()
        thread = threading.Thread(target=self.recv_loop, name="sip-receive", daemon=True)
        thread.start()

    def stop(self) -> None:
        if not self.NSD:
            return
        self.NSD = False
        if self.registerThread is not None:
            self.registerThread.cancel()
        try:
            with self.recvLock:
                self._SIPClient__deregister()  # type: ignore[attr-defined]
        except BaseException as exc:  # the registrar may be gone: nothing to undo then
            log.info("sip line: deregister failed: %s", exc)
        with self.recvLock:  # not while the receive loop is inside a read
            self._close_sockets()

    # F9: pyVoIP's receive loop dies with ``OSError: Bad file descriptor`` (an unhandled thread
    # exception) when ``stop`` closes the socket between its ``while`` check and its read.
    def recv_loop(self) -> None:
        try:
            super().recv_loop()
        except OSError:
            if self.NSD:
                raise
            # Stopped under it: the end of the loop, not an error.

    def recv(self) -> None:
        try:
            super().recv()
        except ConnectionRefusedError:  # the registrar is down (ICMP): the register timer retries
            time.sleep(0.05)


def _uri_address(contact: str) -> tuple[str, int] | None:
    found = re.search(r"sip:(?:[^@>;]*@)?([^:;>]+)(?::(\d+))?", contact)
    if not found:
        return None
    return found.group(1), int(found.group(2) or 5060)


class FixedCall(pv.VoIPCall):
    phone: FixedPhone
    media: Media | None = None
    forgotten = False  # the adapter was told the call ended

    def create_rtp_clients(self, codecs: dict[int, Any], ip: str, port: int,
                           request: SIP.SIPMessage, baseport: int) -> None:
        if self.RTPClients:  # F8: a re-INVITE: same port, new far end
            self.RTPClients[0].outIP = request.body["c"][0]["address"]
            self.RTPClients[0].outPort = baseport
            return
        sock = self.phone.take_socket(port)
        client = RtpPort(codecs, ip, port, request.body["c"][0]["address"], baseport, sock)
        self.RTPClients.append(client)  # type: ignore[arg-type]
        self.assignedPorts[port] = codecs
        g711 = [pt for pt in codecs if pt in (0, 8)]
        events = [pt for pt, codec in codecs.items() if str(codec) == "telephone-event"]
        self.media = Media(sock=sock, local_port=port, remote=(client.outIP, client.outPort),
                           payload_type=g711[0] if g711 else 0,
                           dtmf_payload_type=events[0] if events else None)

    def renegotiate(self, request: SIP.SIPMessage) -> None:
        super().renegotiate(request)
        if self.media is not None and self.RTPClients:
            self.media.remote = (self.RTPClients[0].outIP, self.RTPClients[0].outPort)

    def bye(self) -> None:
        super().bye()
        self.phone.forget(self, "remote-bye")

    def cancelled(self) -> None:
        self.state = pv.CallState.ENDED
        self.phone.forget(self, "cancelled")

    def hangup(self) -> None:
        if self.state == pv.CallState.RINGING:
            self.deny()
        else:
            super().hangup()
        self.phone.forget(self, "hung-up")

    def __del__(self) -> None:  # pyVoIP frees ports in __del__: ours are freed in ``forget``
        pass


class FixedPhone(pv.VoIPPhone):
    def __init__(self, *, server: str, port: int, user: str, password: str, local_ip: str,
                 sip_port: int, rtp_low: int, rtp_high: int, max_calls: int, expires: int,
                 events: LineEvents, retry_seconds: float = 1.0) -> None:
        super().__init__(server, port, user, password, myIP=local_ip,
                         callCallback=self._incoming,  # type: ignore[arg-type]
                         sipPort=sip_port, rtpPortLow=rtp_low, rtpPortHigh=rtp_high)
        self.events = events
        self.max_calls = max_calls
        self.sockets: dict[int, socket.socket] = {}
        self.fixed_sip = FixedSIPClient(server, port, user, password, phone=self, myIP=local_ip,
                                        myPort=sip_port, callCallback=self.callback,
                                        fatalCallback=self.fatal, expires=expires,
                                        retry_seconds=retry_seconds, events=events)
        self.sip = self.fixed_sip

    def _incoming(self, call: FixedCall) -> None:
        self.events.incoming(call)

    # F4: refuse cleanly what we cannot carry; the other calls go on
    def _callback_MSG_Invite(self, request: SIP.SIPMessage) -> None:
        call_id = request.headers["Call-ID"]
        if call_id not in self.calls:
            if len(self.calls) >= self.max_calls:
                log.warning("sip line: call refused, %d calls already call=%s", len(self.calls), call_id)
                self.fixed_sip.reply(request, 486, "Busy Here")
                return
            try:
                self.request_port(blocking=False, reserve=False)
            except pv.NoPortsAvailableError:
                log.warning("sip line: call refused, no RTP port free call=%s", call_id)
                self.fixed_sip.reply(request, 503, "Service Unavailable")
                return
        super()._callback_MSG_Invite(request)

    def _create_Call(self, request: SIP.SIPMessage, sess_id: int) -> None:
        call_id = request.headers["Call-ID"]
        self.calls[call_id] = FixedCall(self, pv.CallState.RINGING, request, sess_id, self.myIP,
                                        sendmode=self.recvmode)

    def request_port(self, blocking: bool = True, *, reserve: bool = True) -> int:
        with self.portsLock:
            free = [p for p in range(self.rtpPortLow, self.rtpPortHigh + 1, 2) if p not in self.assignedPorts]
            random.shuffle(free)
            for candidate in free:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    sock.bind((self.myIP, candidate))
                except OSError:
                    sock.close()
                    continue
                if not reserve:
                    sock.close()
                    return candidate
                self.assignedPorts.append(candidate)
                self.sockets[candidate] = sock
                return candidate
        raise pv.NoPortsAvailableError("no RTP port free")

    def take_socket(self, port: int) -> socket.socket:
        return self.sockets.pop(port)

    def release_ports(self, call: Any = None) -> None:
        if not isinstance(call, pv.VoIPCall):
            return  # F4: never the ports of live calls
        with self.portsLock:
            for port in list(call.assignedPorts):
                if port in self.assignedPorts:
                    self.assignedPorts.remove(port)
                sock = self.sockets.pop(port, None)
                if sock is not None:
                    sock.close()

    def _cleanup_dead_calls(self) -> None:
        return  # F6: a call lives until it ends, not until the thread that received it ends

    def forget(self, call: FixedCall, why: str) -> None:
        self.calls.pop(call.call_id, None)
        call.state = pv.CallState.ENDED
        self.release_ports(call)
        if not call.forgotten:
            call.forgotten = True
            self.events.ended(call, why)

    def fatal(self) -> None:  # F5: never stop the line on registration trouble
        log.warning("sip line: pyVoIP reported a fatal error; the register timer keeps trying")


def caller_number(call: FixedCall) -> str:
    number = call.request.headers["From"].get("number") or ""
    return str(number)


def called_number(call: FixedCall) -> str:
    return str(call.request.headers["To"].get("number") or "")

