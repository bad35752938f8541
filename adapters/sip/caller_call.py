"""The caller's half of a SIP-line call as plain data (no socket, no clock): whether an INVITE is
taken and in which law, the key a SIP INFO carries, the numbers in From and To, where a re-INVITE
moves the caller's audio. ``caller_leg`` does the I/O around these decisions."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.sip.sipcore.message import NameAddr, Request
from adapters.sip.sipcore.sdp import G711, Media, SdpError, parse

DTMF_RELAY = "application/dtmf-relay"
DTMF = "application/dtmf"
KEYS = frozenset("0123456789*#ABCD")
# Some gateways send the event number (RFC 4733 §3.2) rather than the key: 10 is '*', 11 is '#'
EVENT_KEYS = {str(n): str(n) for n in range(10)} | {"10": "*", "11": "#", "12": "A", "13": "B",
                                                     "14": "C", "15": "D"}


@dataclass(frozen=True)
class Take:
    """Answer the call: the caller's stream and the G.711 law both ends will use."""

    offer: Media
    codec: int


@dataclass(frozen=True)
class Refuse:
    status: int
    reason: str


def admit(invite: Request, calls: int, max_calls: int) -> Take | Refuse:
    """What to answer an INVITE when ``calls`` are already up: 486 over ``max_calls``, 488 with no
    usable audio offer, else the first G.711 law the caller offered (its order is its preference)."""
    if calls >= max_calls:
        return Refuse(486, "Busy Here")
    if not invite.body:
        return Refuse(488, "Not Acceptable Here")  # no offer in the INVITE: not supported
    try:
        offer = parse(invite.body)
    except SdpError:
        return Refuse(488, "Not Acceptable Here")
    codec = offer.codec
    if codec is None or offer.port == 0:
        return Refuse(488, "Not Acceptable Here")
    return Take(offer, codec)


def info_key(request: Request) -> str | None:
    """The key a SIP INFO carries: ``application/dtmf-relay`` (``Signal=5``) or
    ``application/dtmf`` (the key alone); None for any other body."""
    kind = (request.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    text = request.body.decode("utf-8", "replace")
    if kind == DTMF_RELAY:
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                return _key(value)
        return None
    if kind == DTMF:
        return _key(text)
    return None


def _key(value: str) -> str | None:
    value = value.strip().upper()
    if value in EVENT_KEYS:
        return EVENT_KEYS[value]
    return value if value in KEYS else None


def user_part(header: str) -> str:
    """``"Bob" <sip:15551234567@host:5060>;tag=x`` → ``15551234567`` ('' when the URI has none)."""
    uri = NameAddr.parse(header).uri
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest.split("@", 1)[0] if "@" in rest else ""


def moved_to(body: bytes, codec: int) -> tuple[str, int] | None:
    """Where a re-INVITE's offer asks us to send the caller's audio, when it still carries our
    law and names an address (an RFC 2543 hold, ``c=0.0.0.0``, or a port 0 does not): else None,
    the audio stays where it goes."""
    if not body:
        return None
    try:
        offer = parse(body)
    except SdpError:
        return None
    if codec not in offer.formats or codec not in G711 or offer.port == 0 or offer.address == "0.0.0.0":
        return None
    return offer.address, offer.port
