"""``adapters.sip.sipcore`` on plain data: every test feeds the state machine messages and timer
expiries and reads the actions it returns. Test names carry the RFC 3261 section they check."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.sip.sipcore.core import SipCore
from adapters.sip.sipcore.digest import Credentials, authorization, parse_challenge
from adapters.sip.sipcore.events import (
    Action,
    Answered,
    Cancelled,
    Confirmed,
    Ended,
    IncomingCall,
    InDialogRequest,
    Registered,
    RegistrationFailed,
    RegistrationLapsed,
    ReinviteDone,
    Rejected,
    Ringing,
    SipEvent,
)
from adapters.sip.sipcore.message import (
    NameAddr,
    Request,
    Response,
    SipParseError,
    parse,
    response_to,
)
from adapters.sip.sipcore.transaction import Send, StartTimer, StopTimer

ME = ("127.0.0.1", 5070)
PROXY = ("127.0.0.1", 5060)
PHONE = ("127.0.0.1", 5071)
RR = ["<sip:10.0.0.1;lr;ftag=a>", "<sip:127.0.0.1:5060;lr;ftag=a>"]  # as the phone sees them
AGENT = "sip:agent1@127.0.0.1:5060"


def sends(actions: Sequence[Action]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def sent(actions: Sequence[Action]) -> list[Request | Response]:
    return [a.message for a in sends(actions)]


def events(actions: Sequence[Action]) -> list[SipEvent]:
    return [a for a in actions if isinstance(a, SipEvent)]


def timers(actions: Sequence[Action]) -> dict[str, float]:
    return {a.key[1]: a.delay for a in actions if isinstance(a, StartTimer)}


def wire(msg: Request | Response) -> bytes:
    """Through the serializer and the parser, as it would cross the network."""
    return msg.encode()


def answer(req: Request, status: int, *, tag: str = "ph1", rr: Sequence[str] = RR,
           contact: str = "<sip:agent1@127.0.0.1:5071>") -> bytes:
    """The phone's answer as relayed by the proxy: Record-Route and Contact on 18x/2xx."""
    resp = response_to(req, status, to_tag=tag if status > 100 else "")
    if 100 < status < 300:
        for value in rr:
            resp.add("Record-Route", value)
        resp.add("Contact", contact)
    return wire(resp)


def dial(core: SipCore) -> tuple[str, Request, list[Action]]:
    leg, acts = core.invite(AGENT, from_uri="sip:line@127.0.0.1", body=b"v=0\r\n")
    (invite,) = sent(acts)
    assert isinstance(invite, Request)
    return leg, invite, acts


def answered_call(core: SipCore) -> tuple[str, Request]:
    leg, invite, _ = dial(core)
    core.on_datagram(answer(invite, 180), PROXY)
    core.on_datagram(answer(invite, 200), PROXY)
    return leg, invite


@pytest.fixture
def core() -> SipCore:
    return SipCore(ME, outbound=PROXY)


# --- §7: the message model ----------------------------------------------------------------------

def test_s7_3_compact_forms_and_comma_lists_are_kept_in_order() -> None:
    data = (b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\n"
            b"Record-Route: <sip:a;lr>, <sip:b;lr>\r\nRecord-Route: <sip:c;lr>\r\n"
            b"f: <sip:x@y>;tag=1\r\nt: <sip:z@y>;tag=2\r\ni: abc\r\nCSeq: 1 INVITE\r\n"
            b"m: \"Agent, one\" <sip:agent@h:5071>\r\nl: 4\r\n\r\nbodyEXTRA")
    msg = parse(data)
    assert isinstance(msg, Response) and msg.status == 200
    assert msg.all("Record-Route") == ["<sip:a;lr>", "<sip:b;lr>", "<sip:c;lr>"]
    assert msg.call_id == "abc" and msg.branch == "z9hG4bKx" and msg.body == b"body"
    assert NameAddr.parse(msg.need("Contact")).uri == "sip:agent@h:5071"
    assert msg.to.params["tag"] == "2"


def test_s7_a_datagram_without_the_mandatory_headers_is_refused() -> None:
    with pytest.raises(SipParseError):
        parse(b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n")


def test_s8_1_1_7_branches_and_call_ids_are_random_per_instance() -> None:
    """pyVoIP's were a hash of a counter: the same in every run."""
    firsts = [dial(SipCore(ME, outbound=PROXY))[1] for _ in range(2)]
    assert firsts[0].branch != firsts[1].branch and firsts[0].call_id != firsts[1].call_id
    assert all(i.branch.startswith("z9hG4bK") and len(i.branch) >= 7 + 32 for i in firsts)


# --- §17.1.1: INVITE client transaction ---------------------------------------------------------

def test_s17_1_1_2_timer_a_retransmits_doubling_and_timer_b_gives_408(core: SipCore) -> None:
    leg, invite, acts = dial(core)
    assert sends(acts)[0].addr == PROXY
    assert timers(acts) == {"A": 0.5, "B": 32.0}
    tid = invite.branch + "/INVITE"
    delays = []
    for _ in range(3):
        again = core.on_timer((tid, "A"))
        assert sent(again) == [invite]
        delays.append(timers(again)["A"])
    assert delays == [1.0, 2.0, 4.0]
    out = core.on_timer((tid, "B"))
    assert events(out) == [Rejected(leg, 408, "Request Timeout")]
    assert core.on_timer((tid, "A")) == []  # the transaction is gone


def test_s17_1_1_2_a_provisional_stops_timer_a(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    out = core.on_datagram(answer(invite, 180), PROXY)
    tid = invite.branch + "/INVITE"
    assert StopTimer((tid, "A")) in out and StopTimer((tid, "B")) in out
    assert events(out) == [Ringing(leg, 180)]
    assert core.on_timer((tid, "A")) == []


def test_s17_1_1_3_a_failure_final_is_acked_by_the_transaction(core: SipCore) -> None:
    core_routes = SipCore(ME, outbound=PROXY)
    leg, invite, _ = dial(core_routes)
    invite.add("Route", "<sip:127.0.0.1:5060;lr>")  # a preloaded route is copied to the ACK
    out = core_routes.on_datagram(answer(invite, 486, tag="busy"), PROXY)
    (ack,) = sent(out)
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.uri == invite.uri and ack.branch == invite.branch
    assert ack.all("Via") == [invite.top_via]
    assert ack.to.params["tag"] == "busy" and ack.cseq == (1, "ACK")
    assert ack.all("Route") == ["<sip:127.0.0.1:5060;lr>"]
    assert sends(out)[0].addr == PROXY
    assert events(out) == [Rejected(leg, 486, "Busy Here")]
    assert timers(out) == {"D": 32.0, "forget": 32.0}
    # a retransmitted 486: ACKed again, the TU is not told twice
    again = core_routes.on_datagram(answer(invite, 486, tag="busy"), PROXY)
    assert [m.encode() for m in sent(again)] == [ack.encode()] and events(again) == []
    assert core_routes.on_timer((invite.branch + "/INVITE", "D")) == []
    assert core_routes.clients == {}


def test_s17_1_1_2_a_603_is_acked_and_reported(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    out = core.on_datagram(answer(invite, 603, tag="dec"), PROXY)
    assert [m.method for m in sent(out) if isinstance(m, Request)] == ["ACK"]
    assert events(out) == [Rejected(leg, 603, "Decline")]


# --- §17.1.2: non-INVITE client transaction -----------------------------------------------------

def test_s17_1_2_2_timer_e_caps_at_t2_then_f_times_out(core: SipCore) -> None:
    out = core.register("sip:line@127.0.0.1", 60)
    (reg,) = sent(out)
    assert isinstance(reg, Request) and timers(out) == {"E": 0.5, "F": 32.0}
    tid = reg.branch + "/REGISTER"
    delays = [timers(core.on_timer((tid, "E")))["E"] for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    out = core.on_timer((tid, "F"))
    assert events(out) == [RegistrationFailed("sip:line@127.0.0.1", 408, 2.0)]
    assert timers(out) == {"refresh": 2.0}


def test_s17_1_2_2_a_final_stops_e_and_f_and_timer_k_ends_it(core: SipCore) -> None:
    (reg,) = sent(core.register("sip:line@127.0.0.1", 60))
    assert isinstance(reg, Request)
    tid = reg.branch + "/REGISTER"
    resp = response_to(reg, 200, to_tag="r")
    resp.add("Contact", core.contact + ";expires=40")
    out = core.on_datagram(wire(resp), PROXY)
    assert StopTimer((tid, "E")) in out and StopTimer((tid, "F")) in out
    assert timers(out) == {"K": 5.0, "refresh": 20.0, "lapse": 40.0}
    assert events(out) == [Registered("sip:line@127.0.0.1", 40)]
    assert core.on_datagram(wire(resp), PROXY) == []  # absorbed in Completed
    core.on_timer((tid, "K"))
    assert tid not in core.clients


def test_s10_2_4_refresh_reuses_call_id_and_increments_cseq(core: SipCore) -> None:
    (first,) = sent(core.register("sip:line@127.0.0.1", 60))
    (second,) = sent(core.on_timer(("reg:sip:line@127.0.0.1", "refresh")))
    assert second.call_id == first.call_id and second.cseq == (2, "REGISTER")
    assert second.branch != first.branch


def test_s10_registrar_failures_back_off_up_to_30_seconds(core: SipCore) -> None:
    retries = []
    for _ in range(7):
        (reg,) = sent(core.on_timer(("reg:sip:line@127.0.0.1", "refresh")) if retries
                      else core.register("sip:line@127.0.0.1", 60))
        assert isinstance(reg, Request)
        out = core.on_datagram(wire(response_to(reg, 503, to_tag="r")), PROXY)
        retries.append(timers(out)["refresh"])
    assert retries == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_s10_2_1_a_binding_not_refreshed_in_time_is_reported_lapsed_once(core: SipCore) -> None:
    """A registrar that stops answering: the refresh retransmits for 32 s (Timer F), but the
    binding it granted ends sooner; the TU hears of it then, not at Timer F."""
    aor = "sip:line@127.0.0.1"
    (reg,) = sent(core.register(aor, 4))
    out = core.on_datagram(wire(response_to(reg, 200, to_tag="r")), PROXY)
    assert timers(out) == {"K": 5.0, "refresh": 2.0, "lapse": 4.0}
    (refresh,) = sent(core.on_timer(("reg:" + aor, "refresh")))  # unanswered from here on
    assert events(core.on_timer(("reg:" + aor, "lapse"))) == [RegistrationLapsed(aor)]
    assert core.on_timer(("reg:" + aor, "lapse")) == []  # told once
    out = core.on_datagram(wire(response_to(refresh, 200, to_tag="r")), PROXY)  # the registrar is back
    assert events(out) == [Registered(aor, 4)] and timers(out)["lapse"] == 4.0


# --- §12.1.2 dialogs (UAC) and §13.2.2.4 the ACK for 2xx ---------------------------------------

def test_s12_1_2_the_uac_dialog_takes_route_set_target_and_tags_from_the_2xx(core: SipCore) -> None:
    leg, invite = answered_call(core)
    dialog = core.legs[leg].dialog
    assert dialog is not None
    assert dialog.route_set == list(reversed(RR))
    assert dialog.remote_target == "sip:agent1@127.0.0.1:5071"
    assert dialog.remote_tag == "ph1" and dialog.local_tag == invite.from_.params["tag"]
    assert dialog.local_seq == 1


def test_s13_2_2_4_the_ack_for_2xx_goes_to_the_remote_target_through_the_route_set(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    out = core.on_datagram(answer(invite, 200), PROXY)
    (send,) = sends(out)
    ack = send.message
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.uri == "sip:agent1@127.0.0.1:5071"  # the Contact, not the To
    assert ack.all("Route") == list(reversed(RR))
    assert send.addr == PROXY  # the first Route: 127.0.0.1:5060
    assert ack.branch != invite.branch and ack.cseq == (1, "ACK")
    assert ack.to.params["tag"] == "ph1" and ack.from_.params == invite.from_.params
    assert events(out) == [Answered(leg, b"")]
    # a retransmitted 200 (the transaction is gone): the same ACK again, no second answer
    again = core.on_datagram(answer(invite, 200), PROXY)
    assert [m.encode() for m in sent(again)] == [ack.encode()] and events(again) == []


def test_s13_2_2_4_a_2xx_from_a_second_fork_is_acked_and_sent_a_bye(core: SipCore) -> None:
    _, invite = answered_call(core)
    out = core.on_datagram(answer(invite, 200, tag="fork2"), PROXY)
    methods = [m.method for m in sent(out) if isinstance(m, Request)]
    assert methods == ["ACK", "BYE"]
    assert all(m.to.params["tag"] == "fork2" for m in sent(out))


# --- §12.2.1.1 in-dialog requests: BYE, re-INVITE ------------------------------------------------

def test_s12_2_1_1_bye_carries_the_route_set_and_the_next_cseq(core: SipCore) -> None:
    leg, invite = answered_call(core)
    out = core.bye(leg)
    (send,) = sends(out)
    bye = send.message
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert bye.uri == "sip:agent1@127.0.0.1:5071" and bye.all("Route") == list(reversed(RR))
    assert bye.cseq == (2, "BYE") and bye.to.params["tag"] == "ph1" and send.addr == PROXY
    assert bye.branch != invite.branch and timers(out) == {"E": 0.5, "F": 32.0, "forget": 32.0}
    done = core.on_datagram(wire(response_to(bye, 200)), PROXY)
    assert events(done) == [Ended(leg, "local")]


def test_s12_2_1_1_a_strict_router_takes_the_request_uri(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    core.on_datagram(answer(invite, 200, rr=["<sip:10.9.9.9:5080>"]), PROXY)
    (send,) = sends(core.bye(leg))
    bye = send.message
    assert isinstance(bye, Request)
    assert bye.uri == "sip:10.9.9.9:5080" and bye.all("Route") == ["<sip:agent1@127.0.0.1:5071>"]
    assert send.addr == ("10.9.9.9", 5080)


def test_s14_1_a_reinvite_is_a_new_invite_transaction_acked_from_the_dialog(core: SipCore) -> None:
    leg, _ = answered_call(core)
    out = core.reinvite(leg, b"v=0\r\na=sendonly\r\n")
    (reinvite,) = sent(out)
    assert isinstance(reinvite, Request) and reinvite.method == "INVITE"
    assert reinvite.cseq == (2, "INVITE") and reinvite.all("Route") == list(reversed(RR))
    assert reinvite.to.params["tag"] == "ph1" and timers(out) == {"A": 0.5, "B": 32.0}
    assert core.reinvite(leg, b"x") == []  # one at a time (§14.1)
    done = core.on_datagram(answer(reinvite, 200), PROXY)
    (ack,) = sent(done)
    assert isinstance(ack, Request) and ack.method == "ACK" and ack.cseq == (2, "ACK")
    assert events(done) == [ReinviteDone(leg, 200, b"")]


def test_s14_2_a_reinvite_from_the_peer_is_answered_with_our_offer(core: SipCore) -> None:
    leg, _ = answered_call(core)
    dialog = core.legs[leg].dialog
    assert dialog is not None
    req = Request(method="INVITE", uri="sip:line@127.0.0.1:5070")
    req.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKre1")
    req.add("From", f"<sip:agent1@127.0.0.1>;tag={dialog.remote_tag}")
    req.add("To", f"<sip:line@127.0.0.1>;tag={dialog.local_tag}")
    req.add("Call-ID", leg)
    req.add("CSeq", "7 INVITE")
    req.add("Contact", "<sip:agent1@127.0.0.1:5099>")
    out = core.on_datagram(wire(req), PROXY)
    (ok,) = sent(out)
    assert isinstance(ok, Response) and ok.status == 200 and ok.body == b"v=0\r\n"
    assert isinstance(events(out)[0], InDialogRequest)
    assert dialog.remote_target == "sip:agent1@127.0.0.1:5099"  # a target refresh (§12.2.2)


# --- §12.2.2 requests inside a dialog -----------------------------------------------------------

def in_dialog(core: SipCore, leg: str, method: str, seq: int, *, to_tag: str | None = None) -> Request:
    dialog = core.legs[leg].dialog
    assert dialog is not None
    req = Request(method=method, uri="sip:line@127.0.0.1:5070")
    req.add("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{method}{seq}")
    req.add("From", f"<sip:agent1@127.0.0.1>;tag={dialog.remote_tag}")
    req.add("To", f"<sip:line@127.0.0.1>;tag={to_tag or dialog.local_tag}")
    req.add("Call-ID", leg)
    req.add("CSeq", f"{seq} {method}")
    return req


def test_s12_2_2_a_bye_from_the_peer_ends_the_call(core: SipCore) -> None:
    leg, _ = answered_call(core)
    out = core.on_datagram(wire(in_dialog(core, leg, "BYE", 5)), PROXY)
    (ok,) = sent(out)
    assert isinstance(ok, Response) and ok.status == 200 and sends(out)[0].addr == PROXY
    assert events(out) == [Ended(leg, "remote")]
    assert core.bye(leg) == []


def test_s12_2_2_unknown_tags_get_481_and_an_old_cseq_500(core: SipCore) -> None:
    leg, _ = answered_call(core)
    (resp,) = sent(core.on_datagram(wire(in_dialog(core, leg, "INFO", 3, to_tag="other")), PROXY))
    assert isinstance(resp, Response) and resp.status == 481
    core.on_datagram(wire(in_dialog(core, leg, "INFO", 9)), PROXY)
    (resp,) = sent(core.on_datagram(wire(in_dialog(core, leg, "INFO", 8)), PROXY))
    assert isinstance(resp, Response) and resp.status == 500


# --- §9.1 CANCEL (ours) -------------------------------------------------------------------------

def test_s9_1_cancel_waits_for_a_provisional_then_copies_the_invite(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    assert core.cancel(leg) == []  # no provisional yet: deferred
    out = core.on_datagram(answer(invite, 180), PROXY)
    cancels = [s for s in sends(out) if isinstance(s.message, Request) and s.message.method == "CANCEL"]
    (send,) = cancels
    cancel = send.message
    assert isinstance(cancel, Request)
    assert cancel.uri == invite.uri and cancel.branch == invite.branch
    assert cancel.cseq == (1, "CANCEL") and cancel.call_id == invite.call_id
    assert cancel.from_.params == invite.from_.params and "tag" not in cancel.to.params
    assert send.addr == PROXY


def test_s9_1_the_487_after_cancel_is_acked_and_reported(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    core.on_datagram(answer(invite, 180), PROXY)
    (cancel,) = sent(core.cancel(leg))
    assert isinstance(cancel, Request)
    assert events(core.on_datagram(wire(response_to(cancel, 200, to_tag="px")), PROXY)) == []
    out = core.on_datagram(answer(invite, 487), PROXY)
    (ack,) = sent(out)
    assert isinstance(ack, Request) and ack.method == "ACK" and ack.branch == invite.branch
    assert events(out) == [Rejected(leg, 487, "Request Terminated")]


def test_s9_1_a_2xx_crossing_our_cancel_is_acked_then_ended_with_bye(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    core.on_datagram(answer(invite, 180), PROXY)
    core.cancel(leg)
    out = core.on_datagram(answer(invite, 200), PROXY)
    assert [m.method for m in sent(out) if isinstance(m, Request)] == ["ACK", "BYE"]
    assert not any(isinstance(e, Answered) for e in events(out))


def test_s9_1_cancel_after_the_answer_is_a_bye(core: SipCore) -> None:
    leg, _ = answered_call(core)
    assert [m.method for m in sent(core.cancel(leg)) if isinstance(m, Request)] == ["BYE"]


# --- §17.2 server transactions, §13.3 the UAS, §9.2 CANCEL (theirs) -----------------------------

def incoming_invite(branch: str = "z9hG4bKcaller1") -> Request:
    req = Request(method="INVITE", uri="sip:line@127.0.0.1:5070")
    req.add("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch}")
    req.add("Via", "SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bKorig")
    req.add("Record-Route", "<sip:127.0.0.1:5060;lr;ftag=c>")
    req.add("From", "<sip:15551234567@127.0.0.1>;tag=caller")
    req.add("To", "<sip:line@127.0.0.1>")
    req.add("Call-ID", "incoming-1")
    req.add("CSeq", "10 INVITE")
    req.add("Contact", "<sip:15551234567@127.0.0.1:6000>")
    req.body = b"v=0\r\n"
    return req


def test_s17_2_1_an_invite_gets_100_at_once_and_a_retransmission_the_last_answer(core: SipCore) -> None:
    invite = incoming_invite()
    out = core.on_datagram(wire(invite), PROXY)
    (trying,) = sent(out)
    assert isinstance(trying, Response) and trying.status == 100 and sends(out)[0].addr == PROXY
    assert trying.all("Via") == invite.all("Via") and "tag" not in trying.to.params
    (call,) = events(out)
    assert isinstance(call, IncomingCall) and call.leg == "incoming-1"
    ringing = sent(core.answer("incoming-1", 180))
    assert isinstance(ringing[0], Response) and ringing[0].to.params.get("tag")
    again = sent(core.on_datagram(wire(invite), PROXY))
    assert [m.encode() for m in again] == [ringing[0].encode()]


def test_s17_2_1_a_failure_is_retransmitted_by_g_until_acked_then_timer_i(core: SipCore) -> None:
    invite = incoming_invite()
    core.on_datagram(wire(invite), PROXY)
    out = core.answer("incoming-1", 486)
    (busy,) = sent(out)
    assert isinstance(busy, Response) and busy.status == 486
    assert timers(out) == {"G": 0.5, "H": 32.0, "forget": 32.0}
    tid = invite.branch + "/INVITE"
    delays = [timers(core.on_timer((tid, "G")))["G"] for _ in range(4)]
    assert delays == [1.0, 2.0, 4.0, 4.0]
    ack = Request(method="ACK", uri=invite.uri, headers=[h for h in invite.headers if h[0] != "To"])
    ack.add("To", busy.need("To"))
    ack.set("CSeq", "10 ACK")
    out = core.on_datagram(wire(ack), PROXY)
    assert StopTimer((tid, "G")) in out and timers(out) == {"I": 5.0}
    assert core.on_timer((tid, "G")) == []


def test_s17_2_1_timer_h_ends_a_failure_never_acked(core: SipCore) -> None:
    invite = incoming_invite()
    core.on_datagram(wire(invite), PROXY)
    core.answer("incoming-1", 603)
    tid = invite.branch + "/INVITE"
    out = core.on_timer((tid, "H"))
    assert StopTimer((tid, "G")) in out and tid not in core.servers


def test_s12_1_1_and_s13_3_1_4_the_2xx_makes_the_dialog_and_is_resent_until_the_ack(core: SipCore) -> None:
    invite = incoming_invite()
    core.on_datagram(wire(invite), PROXY)
    out = core.answer("incoming-1", 200, b"v=0\r\nanswer\r\n")
    (ok,) = sent(out)
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.all("Record-Route") == invite.all("Record-Route") and ok.get("Contact") == core.contact
    dialog = core.legs["incoming-1"].dialog
    assert dialog is not None and dialog.route_set == ["<sip:127.0.0.1:5060;lr;ftag=c>"]
    assert dialog.remote_target == "sip:15551234567@127.0.0.1:6000" and dialog.remote_seq == 10
    assert timers(out) == {"2xx": 0.5, "2xx-timeout": 32.0}
    delays = []
    for _ in range(4):
        again = core.on_timer(("incoming-1", "2xx"))
        assert [m.encode() for m in sent(again)] == [ok.encode()]
        delays.append(timers(again)["2xx"])
    assert delays == [1.0, 2.0, 4.0, 4.0]
    ack = Request(method="ACK", uri="sip:line@127.0.0.1:5070")
    ack.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKack2xx")
    ack.add("From", invite.need("From"))
    ack.add("To", ok.need("To"))
    ack.add("Call-ID", "incoming-1")
    ack.add("CSeq", "10 ACK")
    out = core.on_datagram(wire(ack), PROXY)
    assert events(out) == [Confirmed("incoming-1")]
    assert StopTimer(("incoming-1", "2xx")) in out
    # our BYE to the caller goes through its route set
    (bye,) = sent(core.bye("incoming-1"))
    assert isinstance(bye, Request) and bye.all("Route") == ["<sip:127.0.0.1:5060;lr;ftag=c>"]
    assert bye.uri == "sip:15551234567@127.0.0.1:6000" and bye.cseq == (1, "BYE")


def test_s13_3_1_4_no_ack_for_the_2xx_ends_the_session_with_bye(core: SipCore) -> None:
    core.on_datagram(wire(incoming_invite()), PROXY)
    core.answer("incoming-1", 200, b"v=0\r\n")
    out = core.on_timer(("incoming-1", "2xx-timeout"))
    assert [m.method for m in sent(out) if isinstance(m, Request)] == ["BYE"]
    assert Ended("incoming-1", "no-ack") in events(out)


def test_s9_2_a_cancel_gets_200_and_the_invite_487(core: SipCore) -> None:
    invite = incoming_invite()
    core.on_datagram(wire(invite), PROXY)
    core.answer("incoming-1", 180)
    kept = [h for h in invite.headers if h[0] not in ("CSeq", "Record-Route", "Contact")]
    cancel = Request(method="CANCEL", uri=invite.uri, headers=kept)
    cancel.add("CSeq", "10 CANCEL")
    out = core.on_datagram(wire(cancel), PROXY)
    statuses = [(m.status, m.cseq[1]) for m in sent(out) if isinstance(m, Response)]
    assert statuses == [(200, "CANCEL"), (487, "INVITE")]
    assert events(out) == [Cancelled("incoming-1")]
    assert core.answer("incoming-1", 200, b"v=0") == []  # too late to answer


def test_s9_2_a_cancel_for_no_invite_gets_481(core: SipCore) -> None:
    cancel = incoming_invite("z9hG4bKnothing")
    cancel.method = "CANCEL"
    cancel.set("CSeq", "10 CANCEL")
    (resp,) = sent(core.on_datagram(wire(cancel), PROXY))
    assert isinstance(resp, Response) and resp.status == 481


def test_s17_2_2_a_retransmitted_request_gets_the_same_final(core: SipCore) -> None:
    opt = incoming_invite("z9hG4bKopt")
    opt.method = "OPTIONS"
    opt.set("CSeq", "1 OPTIONS")
    (first,) = sent(core.on_datagram(wire(opt), PROXY))
    out = core.on_datagram(wire(opt), PROXY)
    assert [m.encode() for m in sent(out)] == [first.encode()]
    (tid,) = [t for t in core.servers if t.endswith("/OPTIONS")]
    core.on_timer((tid, "J"))
    assert tid not in core.servers


def test_s17_2_3_an_ack_for_nothing_is_dropped_unanswered(core: SipCore) -> None:
    ack = incoming_invite("z9hG4bKstray")
    ack.method = "ACK"
    ack.set("To", "<sip:line@127.0.0.1>;tag=x")
    ack.set("CSeq", "10 ACK")
    assert core.on_datagram(wire(ack), PROXY) == []


# --- the leg's end, and a restart ---------------------------------------------------------------

def test_an_ended_leg_is_forgotten_after_64_t1(core: SipCore) -> None:
    leg, _ = answered_call(core)
    out = core.bye(leg)
    assert timers(out)["forget"] == 32.0
    assert leg in core.legs  # a retransmitted 200 to the INVITE is still ACKed meanwhile
    core.on_timer((leg, "forget"))
    assert leg not in core.legs


def test_a_rejected_or_cancelled_leg_is_forgotten_too(core: SipCore) -> None:
    _, invite, _ = dial(core)
    assert timers(core.on_datagram(answer(invite, 486), PROXY))["forget"] == 32.0
    core.on_datagram(wire(incoming_invite()), PROXY)
    assert timers(core.answer("incoming-1", 603))["forget"] == 32.0


def test_shutdown_ends_every_call_and_registration(core: SipCore) -> None:
    core.register("sip:line@127.0.0.1", 60)
    talking, _ = answered_call(core)
    ringing, invite, _ = dial(core)
    core.on_datagram(answer(invite, 180), PROXY)
    core.on_datagram(wire(incoming_invite()), PROXY)
    out = core.shutdown()
    by_method = {(m.method if isinstance(m, Request) else m.status): m for m in sent(out)}
    assert set(by_method) == {"BYE", "CANCEL", 480, "REGISTER"}
    assert by_method["BYE"].call_id == talking and by_method["BYE"].all("Route") == list(reversed(RR))
    assert by_method["CANCEL"].call_id == ringing
    assert by_method["REGISTER"].get("Expires") == "0"


# --- §22 authentication -------------------------------------------------------------------------

def test_s22_4_the_digest_answer_matches_rfc_2617s_example() -> None:
    challenge = parse_challenge('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                                'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
                                'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    value = authorization(challenge, Credentials("Mufasa", "Circle Of Life"), "GET", "/dir/index.html",
                          cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value and "nc=00000001" in value


def challenged(req: Request, status: int) -> bytes:
    resp = response_to(req, status, to_tag="reg")
    header = "Proxy-Authenticate" if status == 407 else "WWW-Authenticate"
    resp.add(header, 'Digest realm="127.0.0.1", nonce="abc123", qop="auth"')
    return wire(resp)


def test_s22_2_a_challenged_register_is_sent_once_more_with_credentials() -> None:
    core = SipCore(ME, outbound=PROXY, credentials=Credentials("line", "secret"))
    (first,) = sent(core.register("sip:line@127.0.0.1", 60))
    assert isinstance(first, Request)
    (second,) = sent(core.on_datagram(challenged(first, 401), PROXY))
    assert isinstance(second, Request) and second.cseq == (2, "REGISTER")
    assert second.call_id == first.call_id and second.branch != first.branch
    assert 'username="line"' in (second.get("Authorization") or "")
    # refused again: reported and retried later, never a loop of REGISTERs
    out = core.on_datagram(challenged(second, 401), PROXY)
    assert sent(out) == [] and events(out) == [RegistrationFailed("sip:line@127.0.0.1", 401, 2.0)]


def test_s22_3_a_challenged_invite_is_acked_and_sent_again_with_credentials() -> None:
    core = SipCore(ME, outbound=PROXY, credentials=Credentials("line", "secret"))
    leg, invite, _ = dial(core)
    out = core.on_datagram(challenged(invite, 407), PROXY)
    ack, again = sent(out)
    assert isinstance(ack, Request) and ack.method == "ACK" and ack.branch == invite.branch
    assert isinstance(again, Request) and again.method == "INVITE" and again.cseq == (2, "INVITE")
    assert again.call_id == invite.call_id and again.from_.params == invite.from_.params
    assert 'uri="sip:agent1@127.0.0.1:5060"' in (again.get("Proxy-Authorization") or "")
    assert events(out) == []
    done = core.on_datagram(answer(again, 200), PROXY)
    assert events(done) == [Answered(leg, b"")]
    (ack2,) = sent(done)
    assert isinstance(ack2, Request) and ack2.cseq == (2, "ACK")


def test_s22_3_without_credentials_a_challenge_is_a_rejection(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    assert events(core.on_datagram(challenged(invite, 407), PROXY)) == [
        Rejected(leg, 407, "Proxy Authentication Required")]


# --- hostile input ------------------------------------------------------------------------------

def test_mangled_datagrams_never_raise_out_of_the_core() -> None:
    """Every message of a call flow, cut, with bytes flipped or lines dropped: the core drops or
    answers them, it never raises (an exception would reach the event loop's protocol)."""
    import random

    rnd = random.Random(15)
    core = SipCore(ME, outbound=PROXY)
    leg, invite, _ = dial(core)
    samples = [answer(invite, 180), answer(invite, 200), answer(invite, 486), wire(incoming_invite()),
               challenged(invite, 407), b"\r\n\r\n", b"SIP/2.0 200\r\n\r\n", b"\xff\xfe",
               answer(invite, 200, tag="bad", rr=["<sip:127.0.0.1:5x;lr>"]),
               answer(invite, 200, tag="bad2", rr=[], contact="<sip:agent@127.0.0.1:9z>")]
    for _ in range(3000):
        data = bytearray(rnd.choice(samples))
        how = rnd.randrange(4)
        if how == 0 and data:
            del data[rnd.randrange(len(data)):]
        elif how == 1 and data:
            for _ in range(rnd.randrange(1, 6)):
                data[rnd.randrange(len(data))] = rnd.choice(b":;<>,=@ \r\n\"0aZ\xff")
        elif how == 2:
            lines = bytes(data).split(b"\r\n")
            if len(lines) > 1:
                del lines[rnd.randrange(1, len(lines))]
            data = bytearray(b"\r\n".join(lines))
        core.on_datagram(bytes(data), (PROXY[0], PROXY[1]))
    assert leg in core.legs


def test_s9_1_a_cancelled_invite_with_no_final_in_64_t1_is_given_up(core: SipCore) -> None:
    leg, invite, _ = dial(core)
    core.on_datagram(answer(invite, 180), PROXY)
    out = core.cancel(leg)
    assert timers(out)["cancel-timeout"] == 32.0
    out = core.on_timer((leg, "cancel-timeout"))
    assert events(out) == [Rejected(leg, 408, "Request Timeout")]
    assert invite.branch + "/INVITE" not in core.clients
    # when the 487 does come, the give-up timer is stopped
    leg2, invite2, _ = dial(core)
    core.on_datagram(answer(invite2, 180), PROXY)
    core.cancel(leg2)
    assert StopTimer((leg2, "cancel-timeout")) in core.on_datagram(answer(invite2, 487), PROXY)


def test_s14_2_a_reinvite_while_ours_is_pending_gets_491(core: SipCore) -> None:
    leg, _ = answered_call(core)
    (ours,) = sent(core.reinvite(leg, b"v=0\r\na=sendonly\r\n"))
    theirs = in_dialog(core, leg, "INVITE", 20)
    out = core.on_datagram(wire(theirs), PROXY)
    (resp,) = sent(out)
    assert isinstance(resp, Response) and resp.status == 491 and timers(out) == {"G": 0.5, "H": 32.0}
    assert isinstance(ours, Request)
    rejected = core.on_datagram(wire(response_to(ours, 491, to_tag="ph1")), PROXY)
    assert [m.method for m in sent(rejected) if isinstance(m, Request)] == ["ACK"]
    assert events(rejected) == [ReinviteDone(leg, 491, b"")]
    assert core.reinvite(leg, b"v=0\r\n") != []  # the TU may try again


def test_s13_3_1_4_an_invite_resent_after_our_2xx_gets_the_2xx_not_a_loop_error(core: SipCore) -> None:
    invite = incoming_invite()
    core.on_datagram(wire(invite), PROXY)
    (ok,) = sent(core.answer("incoming-1", 200, b"v=0\r\n"))
    again = sent(core.on_datagram(wire(invite), PROXY))
    assert [m.encode() for m in again] == [ok.encode()]
    # a different INVITE with the same Call-ID and no tag is a loop (§8.2.2.2)
    (loop,) = sent(core.on_datagram(wire(incoming_invite("z9hG4bKother")), PROXY))
    assert isinstance(loop, Response) and loop.status == 482
