"""``adapters.sip.sipcore.sdp``: offer/answer for one G.711 stream (RFC 3264), on plain data."""

from __future__ import annotations

import pytest

from adapters.sip.sipcore.sdp import PCMA, PCMU, SdpError, Session, parse

SIPP_ANSWER = (b"v=0\r\no=phone 2000 2000 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def test_rfc3264_s5_our_offer_lists_g711_and_telephone_events() -> None:
    media = parse(Session("127.0.0.1", 4000).offer())
    assert (media.address, media.port, media.formats) == ("127.0.0.1", 4000, (PCMU, PCMA, 101))
    assert media.dtmf == 101 and media.direction == "sendrecv" and media.codec == PCMU


def test_rfc3264_s6_1_the_answer_keeps_the_offers_order_and_mirrors_direction() -> None:
    offer = parse(b"v=0\r\no=a 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                  b"m=audio 5000 RTP/AVP 18 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=sendonly\r\n")
    answer = parse(Session("127.0.0.1", 4000).answer(offer))
    assert answer.formats == (PCMA, PCMU, 96) and answer.codec == PCMA and answer.dtmf == 96
    assert answer.direction == "recvonly"


def test_rfc3264_s6_1_no_common_codec_is_an_error() -> None:
    offer = parse(b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 5000 RTP/AVP 18 9\r\n")
    with pytest.raises(SdpError):
        Session("127.0.0.1", 4000).answer(offer)


def test_rfc3264_s8_4_hold_is_a_new_version_with_sendonly_or_inactive() -> None:
    session = Session("127.0.0.1", 4000)
    first = session.offer()
    hold = session.offer(direction="sendonly")
    off = session.offer(direction="inactive")
    versions = [b.split(b"\r\n")[1].split()[2] for b in (first, hold, off)]
    assert versions == [b"1", b"2", b"3"]
    assert [parse(b).direction for b in (first, hold, off)] == ["sendrecv", "sendonly", "inactive"]
    assert len({b.split(b"\r\n")[1].split()[1] for b in (first, hold, off)}) == 1  # same session id


def test_a_phones_answer_media_level_address_and_the_old_hold_form() -> None:
    media = parse(SIPP_ANSWER)
    assert (media.address, media.port, media.codec, media.dtmf) == ("127.0.0.1", 6000, PCMU, None)
    old_hold = parse(b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 6000 RTP/AVP 0\r\n")
    assert old_hold.direction == "inactive"
    per_stream = parse(b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 6000 RTP/AVP 8\r\nc=IN IP4 10.0.0.2\r\n"
                       b"m=audio 7000 RTP/AVP 0\r\n")
    assert (per_stream.address, per_stream.port, per_stream.codec) == ("10.0.0.2", 6000, PCMA)


@pytest.mark.parametrize("body", [b"", b"v=0\r\nm=video 5000 RTP/AVP 96\r\n",
                                  b"v=0\r\nm=audio 5000 RTP/AVP 0\r\n",
                                  b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", b"\xff"])
def test_unusable_sdp_is_a_typed_error(body: bytes) -> None:
    with pytest.raises(SdpError):
        parse(body)
