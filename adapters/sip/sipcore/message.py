"""SIP messages as plain data: a small typed parser and serializer (RFC 3261 §7, §20, §25).

Why not pyVoIP's parser: it keeps only the first of each repeated header (so a route set of two
Record-Route headers is cut to one), does not know compact forms (``v:``, ``i:``, ``m:`` …) and
does not split comma lists, and the dialog layer lives on exactly those headers. This one keeps
every header value in order, one value per entry, which is what route sets and Via stacks need.
It is not a validating parser: it reads what the dialog and transaction layers use and keeps the
rest verbatim.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cti.errors import InvalidInput

SIP_VERSION = "SIP/2.0"
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: branches that start with it are unique per request

Addr = tuple[str, int]

COMPACT = {"i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
           "c": "Content-Type", "f": "From", "t": "To", "v": "Via", "s": "Subject", "k": "Supported"}
CANONICAL = {name.lower(): name for name in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Route", "Record-Route", "Max-Forwards",
    "Content-Length", "Content-Type", "Expires", "Allow", "Supported", "User-Agent", "Server",
    "WWW-Authenticate", "Authorization", "Proxy-Authenticate", "Proxy-Authorization", "Subject",
    "Content-Encoding", "Reason", "Event", "Refer-To", "Min-Expires")}
# Headers whose comma-separated values are separate entries (RFC 3261 §7.3.1); others are kept whole
LISTS = frozenset({"via", "route", "record-route", "contact"})

REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 400: "Bad Request",
           401: "Unauthorized", 407: "Proxy Authentication Required", 480: "Temporarily Unavailable",
           404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
           491: "Request Pending",
           488: "Not Acceptable Here", 500: "Server Internal Error", 503: "Service Unavailable",
           603: "Decline"}


class SipParseError(InvalidInput):
    def __init__(self, message: str, **details: object) -> None:
        super().__init__("sip-parse", message, **details)


def new_branch() -> str:
    """A Via branch: the magic cookie and 128 random bits, so no two runs ever share one."""
    return MAGIC_COOKIE + secrets.token_hex(16)


def new_tag() -> str:
    return secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(16)}@{host}"


def canonical(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return CANONICAL.get(low, name.strip())


def split_list(value: str) -> list[str]:
    """Split a header value at top-level commas (not inside quotes or ``<…>``)."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def parse_params(text: str) -> dict[str, str]:
    """``;a=1;lr`` → ``{"a": "1", "lr": ""}`` (names lower-cased)."""
    params: dict[str, str] = {}
    for part in text.split(";"):
        if part.strip():
            name, _, value = part.partition("=")
            params[name.strip().lower()] = value.strip()
    return params


@dataclass(frozen=True)
class NameAddr:
    """``"Name" <sip:u@h;lr>;tag=x`` → uri ``sip:u@h;lr``, params ``{"tag": "x"}``."""

    uri: str
    params: dict[str, str]
    display: str = ""

    @classmethod
    def parse(cls, value: str) -> NameAddr:
        value = value.strip()
        if "<" in value:
            display, _, rest = value.partition("<")
            uri, _, params = rest.partition(">")
            return cls(uri.strip(), parse_params(params), display.strip())
        uri, _, params = value.partition(";")
        return cls(uri.strip(), parse_params(params))

    def __str__(self) -> str:
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        display = f"{self.display} " if self.display else ""
        return f"{display}<{self.uri}>{params}"


def uri_hostport(uri: str) -> Addr:
    """Where a SIP URI points: ``sip:u@127.0.0.1:5071;transport=udp`` → ``("127.0.0.1", 5071)``."""
    rest = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    hostport = rest.rsplit("@", 1)[-1]
    host, _, port = hostport.partition(":")
    try:
        return host, int(port) if port else 5060
    except ValueError as exc:
        raise SipParseError("bad port in URI", uri=uri) from exc


def uri_params(uri: str) -> dict[str, str]:
    body = uri.split("?", 1)[0]
    return parse_params(body.split(";", 1)[1]) if ";" in body else {}


@dataclass
class Message:
    """Headers in wire order, one value per entry, canonical names; the body as bytes."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str | None:
        key = canonical(name).lower()
        return next((v for n, v in self.headers if n.lower() == key), None)

    def all(self, name: str) -> list[str]:
        key = canonical(name).lower()
        return [v for n, v in self.headers if n.lower() == key]

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SipParseError(f"missing {name}", header=name)
        return value

    def set(self, name: str, value: str) -> None:
        """Replace every value of ``name`` with one (appended if absent)."""
        key = canonical(name)
        at = next((i for i, (n, _) in enumerate(self.headers) if n.lower() == key.lower()), None)
        self.remove(key)
        self.headers.insert(len(self.headers) if at is None else at, (key, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((canonical(name), value))

    def remove(self, name: str) -> None:
        key = canonical(name).lower()
        self.headers = [(n, v) for n, v in self.headers if n.lower() != key]

    # --- the fields every layer reads ---

    @property
    def call_id(self) -> str:
        return self.need("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        num, _, method = self.need("CSeq").strip().partition(" ")
        try:
            return int(num), method.strip().upper()
        except ValueError as exc:
            raise SipParseError("bad CSeq", cseq=self.get("CSeq")) from exc

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.need("From"))

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.need("To"))

    @property
    def top_via(self) -> str:
        return self.need("Via")

    @property
    def branch(self) -> str:
        return via_params(self.top_via).get("branch", "")

    def first_line(self) -> str:
        raise NotImplementedError

    def encode(self) -> bytes:
        self.set("Content-Length", str(len(self.body)))
        lines = [self.first_line(), *(f"{n}: {v}" for n, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Request(Message):
    method: str = ""
    uri: str = ""

    def first_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"


@dataclass
class Response(Message):
    status: int = 0
    reason: str = ""

    def first_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"


def via_params(via: str) -> dict[str, str]:
    _, _, params = via.partition(";")
    return parse_params(params)


def parse(data: bytes) -> Request | Response:
    """One SIP message from a datagram; ``SipParseError`` if it is not one."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("not UTF-8") from exc
    raw_lines = text.replace("\r\n", "\n").split("\n")
    lines: list[str] = []
    for line in raw_lines:  # unfold continuation lines (§7.3.1)
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        elif line:
            lines.append(line)
    if not lines:
        raise SipParseError("empty message")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError("header without colon", line=line[:80])
        key = canonical(name)
        values = split_list(value) if key.lower() in LISTS else [value.strip()]
        headers.extend((key, v) for v in values)
    start = lines[0].split(" ", 2)
    msg: Request | Response
    if start[0] == SIP_VERSION:
        if len(start) < 2 or not start[1].isdigit():
            raise SipParseError("bad status line", line=lines[0][:80])
        msg = Response(headers=headers, status=int(start[1]), reason=start[2] if len(start) > 2 else "")
    else:
        if len(start) != 3 or start[2] != SIP_VERSION:
            raise SipParseError("bad request line", line=lines[0][:80])
        msg = Request(headers=headers, method=start[0].upper(), uri=start[1])
    length = msg.get("Content-Length")
    if length is not None and length.strip().isdigit():
        body = body[: int(length)]
    msg.body = body
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        msg.need(name)
    msg.cseq  # noqa: B018 — validates the CSeq once, here
    return msg


def response_to(request: Request, status: int, reason: str = "", *, to_tag: str = "") -> Response:
    """A response copying Via, From, To, Call-ID and CSeq (§8.2.6.2); the To tag added if given."""
    resp = Response(status=status, reason=reason or REASONS.get(status, ""))
    for name in ("Via", "Record-Route"):
        for value in request.all(name):
            resp.add(name, value)
    resp.add("From", request.need("From"))
    to = request.to
    if to_tag and "tag" not in to.params:
        to = NameAddr(to.uri, {**to.params, "tag": to_tag}, to.display)
    resp.add("To", str(to) if to_tag else request.need("To"))
    resp.add("Call-ID", request.call_id)
    resp.add("CSeq", request.need("CSeq"))
    if status == 100 or status >= 300:  # Record-Route belongs only on answers that make a dialog
        resp.remove("Record-Route")
    return resp


def cancel_for(invite: Request) -> Request:
    """The CANCEL of ``invite`` (§9.1): the same Request-URI, top Via, Route set, From, To,
    Call-ID and CSeq number."""
    cancel = Request(method="CANCEL", uri=invite.uri)
    cancel.add("Via", invite.top_via)  # the INVITE's branch: the proxy matches it to the INVITE
    for route in invite.all("Route"):
        cancel.add("Route", route)
    cancel.add("Max-Forwards", "70")
    for name in ("From", "To", "Call-ID"):
        cancel.add(name, invite.need(name))
    cancel.add("CSeq", f"{invite.cseq[0]} CANCEL")
    return cancel
