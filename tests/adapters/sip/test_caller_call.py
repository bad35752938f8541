"""The caller's half's decisions (``adapters.sip.caller_call``) on plain data: no socket."""

from __future__ import annotations

import pytest

from adapters.sip.caller_call import Refuse, Take, admit, info_key, moved_to, user_part
from adapters.sip.sipcore.message import Request, parse
from adapters.sip.sipcore.sdp import PCMA, PCMU


def sdp(formats: str, *, address: str = "10.0.0.7", port: int = 4000, extra: str = "") -> bytes:
    return (f"v=0\r\no=c 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {formats}\r\n{extra}").encode()


def invite(body: bytes = b"") -> Request:
    data = ("INVITE sip:line@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa\r\n"
            'From: "Bob" <sip:15551234567@10.0.0.7:5062>;tag=c1\r\nTo: <sip:4420@127.0.0.1>\r\n'
            "Call-ID: abc@10.0.0.7\r\nCSeq: 1 INVITE\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    msg = parse(data)
    assert isinstance(msg, Request)
    return msg


def info(content_type: str, body: str) -> Request:
    req = invite()
    req.method = "INFO"
    req.set("Content-Type", content_type)
    req.body = body.encode()
    return req


@pytest.mark.parametrize(("formats", "law"), [("8 0 101", PCMA), ("0 8", PCMU), ("18 8", PCMA)])
def test_the_call_is_taken_in_the_first_g711_law_the_caller_offered(formats: str, law: int) -> None:
    decision = admit(invite(sdp(formats, extra="a=rtpmap:101 telephone-event/8000\r\n")), 0, 5)
    assert isinstance(decision, Take)
    assert decision.codec == law and (decision.offer.address, decision.offer.port) == ("10.0.0.7", 4000)


def test_the_telephone_event_type_offered_is_kept() -> None:
    decision = admit(invite(sdp("0 101", extra="a=rtpmap:101 telephone-event/8000\r\n")), 0, 5)
    assert isinstance(decision, Take) and decision.offer.dtmf == 101


def test_a_call_over_the_limit_is_busy() -> None:
    assert admit(invite(sdp("0")), 5, 5) == Refuse(486, "Busy Here")


@pytest.mark.parametrize("body", [b"", sdp("18"), sdp("0", port=0), b"not sdp at all"])
def test_an_offer_without_g711_audio_is_not_acceptable(body: bytes) -> None:
    assert admit(invite(body), 0, 5) == Refuse(488, "Not Acceptable Here")


@pytest.mark.parametrize(("content_type", "body", "key"), [
    ("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", "5"),
    ("application/dtmf-relay", "Signal= #\r\nDuration=160", "#"),
    ("Application/DTMF-Relay; charset=x", "signal=*\nduration=100", "*"),
    ("application/dtmf-relay", "Signal=11\r\n", "#"),
    ("application/dtmf", "7", "7"),
    ("application/dtmf", "10", "*"),
    ("application/dtmf-relay", "Duration=160", None),
    ("application/dtmf-relay", "Signal=Z", None),
    ("text/plain", "Signal=5", None),
])
def test_an_info_key_is_read_from_either_dtmf_body(content_type: str, body: str, key: str | None) -> None:
    assert info_key(info(content_type, body)) == key


def test_the_numbers_are_the_user_parts_of_from_and_to() -> None:
    req = invite()
    assert user_part(req.need("From")) == "15551234567"
    assert user_part(req.need("To")) == "4420"
    assert user_part("<sip:10.0.0.7>") == ""


def test_a_reinvite_moves_the_audio_only_to_a_real_address_in_our_law() -> None:
    assert moved_to(sdp("0", address="10.0.0.9", port=5000), PCMU) == ("10.0.0.9", 5000)
    held = sdp("0", address="10.0.0.9", port=5000, extra="a=sendonly\r\n")
    assert moved_to(held, PCMU) == ("10.0.0.9", 5000)
    assert moved_to(sdp("0", address="0.0.0.0"), PCMU) is None  # RFC 2543 hold
    assert moved_to(sdp("0", port=0), PCMU) is None
    assert moved_to(sdp("8"), PCMU) is None  # another law: our answer keeps ours, so does the audio
    assert moved_to(b"", PCMU) is None
