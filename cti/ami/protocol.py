"""The asyncio protocol of one AMI connection: bytes in, frames out to the link, nothing escapes.

``AmiProtocol`` is panoramisk's ``AMIProtocol`` with our framing (``frames.py``): it checks the
banner, cuts the stream into frames and hands each to its ``AmiLink`` (``link.py``), keeps the
actions in flight on this connection, and reports why the connection went.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from typing import TYPE_CHECKING, cast

from panoramisk.ami_protocol import AMIProtocol

from cti.ami.actions import PendingAction
from cti.ami.frames import banner_of, split_stream

if TYPE_CHECKING:
    from cti.ami.link import AmiLink

    # panoramisk ships no type hints: typing the base as what it is underneath keeps our code checked.
    _ProtocolBase = asyncio.Protocol
else:
    _ProtocolBase = AMIProtocol

__all__ = ["AmiProtocol", "clip"]

# Under the link's name: what its connection does is the link's story in the logs.
log = logging.getLogger("cti.ami.link")

_MAX_BUFFER = 1 << 20  # unframed text beyond this is not AMI: drop the link rather than grow


class AmiProtocol(_ProtocolBase):
    """panoramisk's ``AMIProtocol`` with our framing: nothing a frame does escapes ``data_received``."""

    def __init__(self, link: AmiLink, session: int) -> None:
        loop = asyncio.get_running_loop()
        self._link = link
        self.session = session
        self.banner: asyncio.Future[str] = loop.create_future()
        self.lost: asyncio.Future[str] = loop.create_future()
        self.logged_in = False
        self.resync_failed = False
        self.pending: dict[str, PendingAction] = {}  # by ActionID; they die with this connection
        self._transport: asyncio.Transport | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._why: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # panoramisk keeps the transport and resets its state
        self._transport = cast(asyncio.Transport, transport)

    def write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the AMI connection is closing")
        self._transport.write(data)

    def abort(self, why: str) -> None:
        """Drop the connection now, without waiting to flush (a half-open peer never reads)."""
        if self._why is None:
            self._why = why
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        # The decoder keeps a UTF-8 sequence cut between two reads for the next one.
        self._buffer += self._decoder.decode(data)
        frames, self._buffer = split_stream(self._buffer)
        for frame in frames:
            if not self.banner.done():
                version = banner_of(frame)
                if version is None:
                    log.error("ami link: the peer did not greet as Asterisk AMI: %r", clip(frame))
                    self.abort("no AMI banner")
                    return
                self.banner.set_result(version)
                continue
            try:
                self._link._frame_received(self, frame)
            except Exception:
                # Never let a frame kill the link: panoramisk lets this escape, and asyncio then
                # closes the transport and loses the rest of the read.
                log.exception("ami link: failed to handle a frame, skipped: %r", clip(frame))
        if len(self._buffer) > _MAX_BUFFER:
            log.error("ami link: %d bytes without a frame end; dropping the connection", len(self._buffer))
            self.abort("oversized frame")

    def eof_received(self) -> bool:
        return False  # close our side too: Asterisk only half-closes when it is done with us

    def connection_lost(self, exc: Exception | None) -> None:
        why = self._why or (f"connection error: {exc}" if exc else "closed by Asterisk")
        if not self.lost.done():
            self.lost.set_result(why)
        self._link._connection_lost(self, why)


def clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
