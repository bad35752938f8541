"""RFC 2833 / 4733 telephone-events read from RTP packets, on plain bytes."""

from __future__ import annotations

import struct

import pytest

from adapters.sip.dtmf import DtmfReader, event_packet

PT = 101


def packet(event: int, *, end: bool, ts: int, seq: int, pt: int = PT, duration: int = 800,
           csrc: int = 0, extension: bytes = b"") -> bytes:
    first = 0x80 | (0x10 if extension else 0) | csrc
    header = struct.pack("!BBHII", first, pt, seq, ts, 0x1234) + b"\0\0\0\1" * csrc + extension
    return header + struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)


def test_a_digit_is_taken_once_at_its_end_though_the_end_is_sent_three_times() -> None:
    reader = DtmfReader(PT)
    got = [reader.feed(packet(5, end=False, ts=1000, seq=s)) for s in range(3)]
    got += [reader.feed(packet(5, end=True, ts=1000, seq=s)) for s in range(3, 6)]
    assert got == [None, None, None, "5", None, None]


def test_the_same_key_twice_is_two_digits_by_timestamp() -> None:
    reader = DtmfReader(PT)
    assert reader.feed(packet(1, end=True, ts=1000, seq=1)) == "1"
    assert reader.feed(packet(1, end=True, ts=1000, seq=2)) is None
    assert reader.feed(packet(1, end=True, ts=2600, seq=3)) == "1"


@pytest.mark.parametrize(("event", "digit"), [(0, "0"), (9, "9"), (10, "*"), (11, "#"), (12, "A"), (15, "D")])
def test_event_codes(event: int, digit: str) -> None:
    assert DtmfReader(PT).feed(packet(event, end=True, ts=1, seq=1)) == digit


def test_other_payloads_and_events_and_junk_are_ignored() -> None:
    reader = DtmfReader(PT)
    assert reader.feed(packet(5, end=True, ts=1, seq=1, pt=0)) is None  # audio
    assert reader.feed(packet(16, end=True, ts=2, seq=2)) is None  # a flash/tone event, not a key
    assert reader.feed(b"\x80\x65\x00") is None  # short
    assert reader.feed(b"\x40" + packet(5, end=True, ts=3, seq=3)[1:]) is None  # not RTP version 2
    assert DtmfReader(None).feed(packet(5, end=True, ts=4, seq=4)) is None  # none negotiated


def test_csrcs_and_header_extensions_are_skipped() -> None:
    reader = DtmfReader(PT)
    assert reader.feed(packet(7, end=True, ts=1, seq=1, csrc=2)) == "7"
    ext = b"\xbe\xde\x00\x01" + b"\x10\xaa\x00\x00"
    assert reader.feed(packet(8, end=True, ts=2, seq=2, extension=ext)) == "8"


def test_event_packet_is_what_the_reader_reads() -> None:
    reader = DtmfReader(PT)
    assert reader.feed(event_packet("#", PT, ts=77, seq=1, end=True)) == "#"
    with pytest.raises(ValueError, match="not a DTMF key"):
        event_packet("x", PT, ts=1, seq=1, end=True)
