"""Keys pressed as RFC 4733 (RFC 2833) telephone-events in the caller's RTP, on plain bytes.

A key is taken once, at its end: the end packet is sent three times (RFC 4733 §2.5.1.4) with the
same RTP timestamp, which names the event, so a repeated timestamp is the same key and the same
key pressed again has a new one. Events 0-15 are the DTMF keys; others (flash, tones) are not.
"""

from __future__ import annotations

import struct

KEYS = "0123456789*#ABCD"
RTP_FIXED = 12
_EVENT = struct.Struct("!BBH")


def _payload(packet: bytes) -> tuple[int, int, bytes] | None:
    """(payload type, timestamp, payload) of an RTP packet, None if it is not one."""
    if len(packet) < RTP_FIXED or packet[0] >> 6 != 2:
        return None
    offset = RTP_FIXED + 4 * (packet[0] & 0x0F)  # CSRCs
    if packet[0] & 0x10:  # header extension: 4 bytes, then its length in 32-bit words
        if len(packet) < offset + 4:
            return None
        offset += 4 + 4 * int.from_bytes(packet[offset + 2:offset + 4], "big")
    timestamp = int.from_bytes(packet[4:8], "big")
    return packet[1] & 0x7F, timestamp, packet[offset:]


class DtmfReader:
    """One call's telephone-event stream (``payload_type`` as negotiated; None: none was)."""

    def __init__(self, payload_type: int | None) -> None:
        self.payload_type = payload_type
        self._last_end: int | None = None  # the timestamp of the last key taken

    def feed(self, packet: bytes) -> str | None:
        """The key this packet ends, once per key; None for anything else."""
        if self.payload_type is None:
            return None
        parsed = _payload(packet)
        if parsed is None or parsed[0] != self.payload_type or len(parsed[2]) < _EVENT.size:
            return None
        _, timestamp, payload = parsed
        event, flags, _duration = _EVENT.unpack_from(payload)
        if not flags & 0x80 or event >= len(KEYS) or timestamp == self._last_end:
            return None
        self._last_end = timestamp
        return KEYS[event]


def event_packet(key: str, payload_type: int, *, ts: int, seq: int, end: bool, ssrc: int = 1,
                 duration: int = 800) -> bytes:
    """One telephone-event packet for ``key`` (for tests and a phone's side of the line)."""
    if len(key) != 1 or key not in KEYS:
        raise ValueError(f"{key!r} is not a DTMF key")
    header = struct.pack("!BBHII", 0x80, payload_type, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
    return header + _EVENT.pack(KEYS.index(key), (0x80 if end else 0) | 10, duration)
