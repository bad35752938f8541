"""SDP offer/answer for one G.711 audio stream (RFC 4566, RFC 3264), for the agent leg and hold.

Only what a pass-through G.711 relay needs: the connection address and port, the codec (PCMU 0
or PCMA 8), RFC 4733 telephone-events, and the direction (hold: ``sendonly`` / ``inactive``).
Anything else in a peer's SDP is read past.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cti.errors import InvalidInput

PCMU, PCMA = 0, 8
G711 = {PCMU: "PCMU", PCMA: "PCMA"}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                    "inactive": "inactive"}  # RFC 3264 §6.1


class SdpError(InvalidInput):
    def __init__(self, message: str, **details: object) -> None:
        super().__init__("sdp", message, **details)


@dataclass(frozen=True)
class Media:
    """One audio stream as a side describes it: where it receives, in which formats, how."""

    address: str
    port: int
    formats: tuple[int, ...]  # payload types, in the order of preference
    dtmf: int | None = None  # the telephone-event payload type
    direction: str = "sendrecv"
    rtpmap: dict[int, str] = field(default_factory=dict)

    @property
    def codec(self) -> int | None:
        """The first G.711 format: what a pass-through relay sends on this leg."""
        return next((pt for pt in self.formats if pt in G711), None)


@dataclass
class Session:
    """Our side of one SDP session: the o= line's id and version (RFC 3264 §8: +1 per change)."""

    address: str
    port: int
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    version: int = 0

    def offer(self, formats: tuple[int, ...] = (PCMU, PCMA), *, dtmf: int | None = 101,
              direction: str = "sendrecv") -> bytes:
        """A new offer (the first, or a re-INVITE's: same session id, next version)."""
        return self._describe(formats, dtmf, direction)

    def answer(self, offer: Media, supported: tuple[int, ...] = (PCMU, PCMA)) -> bytes:
        """RFC 3264 §6.1: the offered formats we support, in the offer's order; its
        telephone-event if it had one; the mirrored direction. ``SdpError`` if no G.711 is common
        (answer the INVITE 488)."""
        common = tuple(pt for pt in offer.formats if pt in supported)
        if not common:
            raise SdpError("no common codec", offered=list(offer.formats))
        return self._describe(common, offer.dtmf, ANSWER_DIRECTION[offer.direction])

    def _describe(self, formats: tuple[int, ...], dtmf: int | None, direction: str) -> bytes:
        if direction not in DIRECTIONS:
            raise SdpError("unknown direction", direction=direction)
        self.version += 1
        pts = [*formats, *([dtmf] if dtmf is not None else [])]
        lines = ["v=0", f"o=cti {self.session_id} {self.version} IN IP4 {self.address}", "s=cti",
                 f"c=IN IP4 {self.address}", "t=0 0",
                 f"m=audio {self.port} RTP/AVP {' '.join(str(pt) for pt in pts)}"]
        lines += [f"a=rtpmap:{pt} {G711[pt]}/8000" for pt in formats if pt in G711]
        if dtmf is not None:
            lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-16"]
        lines += ["a=ptime:20", f"a={direction}"]
        return ("\r\n".join(lines) + "\r\n").encode()


def parse(body: bytes) -> Media:
    """The first audio stream of an SDP body; ``SdpError`` if there is none or it is unusable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    session_addr, media_addr = "", ""
    port = -1
    formats: tuple[int, ...] = ()
    direction = "sendrecv"
    rtpmap: dict[int, str] = {}
    in_audio, seen_audio = False, False
    for raw in text.splitlines():
        line = raw.strip()
        kind, _, value = line.partition("=")
        if kind == "m":
            if seen_audio:
                break  # only the first audio stream
            parts = value.split()
            in_audio = len(parts) >= 4 and parts[0] == "audio"
            if in_audio:
                seen_audio = True
                try:
                    port = int(parts[1])
                    formats = tuple(int(pt) for pt in parts[3:])
                except ValueError as exc:
                    raise SdpError("bad m= line", line=line[:80]) from exc
        elif kind == "c":
            addr = value.split()[-1] if value.split() else ""
            if in_audio:
                media_addr = addr
            elif not seen_audio:
                session_addr = addr
        elif kind == "a" and in_audio:
            if value in DIRECTIONS:
                direction = value
            elif value.startswith("rtpmap:"):
                pt, _, encoding = value[7:].partition(" ")
                if pt.isdigit():
                    rtpmap[int(pt)] = encoding
        elif kind == "a" and not seen_audio and value in DIRECTIONS:
            direction = value  # a session-level direction, unless the stream says otherwise
    if not seen_audio or port < 0:
        raise SdpError("no audio stream")
    address = media_addr or session_addr
    if not address:
        raise SdpError("no connection address")
    if address == "0.0.0.0":  # RFC 2543 hold
        direction = "inactive" if direction == "sendrecv" else direction
    dtmf = next((pt for pt, enc in rtpmap.items() if enc.lower().startswith("telephone-event/")), None)
    return Media(address=address, port=port, formats=formats, dtmf=dtmf, direction=direction,
                 rtpmap=rtpmap)
