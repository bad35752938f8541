"""The SIP line on ``sipcore`` against kamailio and SIPp phones: the shared set-up of the wire tests."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from adapters.sip.sipcore.digest import Credentials
from adapters.sip.sipcore.events import Registered
from adapters.sip.sipcore.message import Addr
from adapters.sip.sipcore.sdp import Session
from adapters.sip.sipcore.transport import SipEndpoint
from tests.adapters.sip.peers import (
    KAMAILIO_CFG,
    Kamailio,
    free_udp_port,
    require_binary,
    running_kamailio,
)
from tests.adapters.sip.wire import Phone, register, start_phone

MEDIA = Session("127.0.0.1", 9)  # RTP is not relayed here: SIPp's stream goes to the discard port
OFFER = MEDIA.offer()

# A phone that answers (copying Record-Route), takes one re-INVITE from us, then waits for BYE
REINVITE_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="phone taking a re-INVITE">
  <recv request="INVITE" crlf="true" rrs="true" />
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]RI[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv request="ACK" crlf="true" />
  <recv request="INVITE" crlf="true" />
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

  ]]></send>
  <recv request="ACK" crlf="true" />
  <recv request="BYE" />
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <timewait milliseconds="300" />
</scenario>
"""


@dataclass
class Line:
    kamailio: Kamailio
    endpoint: SipEndpoint
    tmp_path: Path
    received: list[str] = field(default_factory=list)  # first lines of what the line received
    sent: list[tuple[str, Addr]] = field(default_factory=list)  # what it sent, and where
    phones: list[Phone] = field(default_factory=list)

    def uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.kamailio.port}"

    def phone(self, name: str, scenario: Path, *args: str) -> Phone:
        phone = start_phone(self.tmp_path, name, scenario, *args)
        self.phones.append(phone)
        assert register(self.kamailio.port, name, phone.port) == "SIP/2.0 200 OK"
        return phone

    def requests_sent(self, method: str) -> list[tuple[str, Addr]]:
        return [(text, addr) for text, addr in self.sent if text.startswith(method + " ")]

    def count(self, first_line: str) -> int:
        return sum(1 for line in self.received if line.startswith(first_line))


# kamailio.cfg, but the line (From user "line") must authenticate its REGISTER (401) and its
# INVITE (407) with the password "secret"; the SIPp phones are not challenged
AUTH_MODULE = 'loadmodule "auth.so"\n'
AUTH_ROUTE = """    if ($fU == "line") {
        if (is_method("REGISTER")) {
            if (!pv_www_authenticate("$td", "secret", "0")) {
                www_challenge("$td", "1");
                exit;
            }
        } else if (is_method("INVITE")) {
            if (!pv_proxy_authenticate("$fd", "secret", "0")) {
                proxy_challenge("$fd", "1");
                exit;
            }
            consume_credentials();
        }
    }
"""


def authenticating_kamailio(tmp_path: Path) -> Path:
    text = KAMAILIO_CFG.read_text()
    anchor = '    remove_hf("Route");\n'
    assert text.count(anchor) == 1 and text.count('loadmodule "corex.so"\n') == 1
    text = text.replace(anchor, AUTH_ROUTE + anchor).replace(
        'loadmodule "corex.so"\n', 'loadmodule "corex.so"\n' + AUTH_MODULE)
    path = tmp_path / "kamailio-auth.cfg"
    path.write_text(text)
    return path


@contextlib.contextmanager
def kamailio_with(tmp_path: Path, config: Path | None) -> Iterator[Kamailio]:
    if config is None:
        with running_kamailio(tmp_path) as kam:
            yield kam
        return
    workdir = tmp_path / "kamailio"
    workdir.mkdir()
    kam = Kamailio(port=free_udp_port(), workdir=workdir, binary=require_binary("kamailio"), config=config)
    kam.start()
    try:
        yield kam
    finally:
        kam.stop()


@contextlib.asynccontextmanager
async def line(tmp_path: Path, *, config: Path | None = None,
               credentials: Credentials | None = None) -> AsyncIterator[Line]:
    with kamailio_with(tmp_path, config) as kam:
        proxy: Addr = ("127.0.0.1", kam.port)
        ep = await SipEndpoint.open("127.0.0.1", 0, outbound=proxy, user="line", credentials=credentials)
        seen = Line(kamailio=kam, endpoint=ep, tmp_path=tmp_path)

        def tap(way: str, data: bytes, addr: Addr) -> None:
            text = data.decode(errors="replace")
            if way == "in":
                seen.received.append(text.split("\r\n", 1)[0])
            else:
                seen.sent.append((text, addr))

        ep.tap = tap
        try:
            ep.run(ep.core.register(seen.uri("line"), 60))
            await ep.next_event(Registered)
            yield seen
        finally:
            ep.close()
            for phone in seen.phones:
                phone.kill()


def phone_received(phone: Phone, method: str) -> list[str]:
    """The messages the phone received whose first line starts with ``method``."""
    text = "".join(p.read_text(errors="replace") for p in phone.workdir.glob("*_messages.log"))
    blocks = re.split(r"-{20,}[^\n]*\n", text)
    return [b.split(":\n\n", 1)[1].strip() for b in blocks
            if "message received" in b and b.split(":\n\n", 1)[-1].startswith(method + " ")]


def headers(msg: str, name: str) -> list[str]:
    prefix = name.lower() + ":"
    return [ln.split(":", 1)[1].strip() for ln in msg.splitlines() if ln.lower().startswith(prefix)]


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    for _ in range(int(timeout * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def all_dialogs_ended(kam: Kamailio) -> None:
    await until(lambda: kam.dialogs().get("all") == 0, 5, f"kamailio dialogs to end: {kam.dialogs()}")


def no_route_refusals(kam: Kamailio) -> None:
    logs = kam.logs()
    assert "without Route" not in logs, [ln for ln in logs.splitlines() if "without Route" in ln]


