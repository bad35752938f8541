"""A WebSocket client on a plain socket, for tests of clients that stop reading.

aiohttp's client reads everything the server sends into its own buffer, so it can never play
a reader that stalls. This one reads only when told to; with a small ``SO_RCVBUF`` the kernel's
window closes after a few kilobytes and the server's sends back up, as with a phone that went
into a tunnel. Whether the server has dropped the connection is read from the kernel (TCP_INFO),
without reading a byte.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import urlsplit

TCP_CLOSED_STATES = {7, 8, 9}  # TCP_CLOSE, TCP_CLOSE_WAIT, TCP_LAST_ACK (linux/tcp_states.h)


class RawWebSocket:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    @classmethod
    async def connect(cls, url: str, *, rcvbuf: int = 2048) -> RawWebSocket:
        parts = urlsplit(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (parts.hostname or "127.0.0.1", parts.port or 80))
        key = base64.b64encode(os.urandom(16)).decode()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        request = (f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        ws = cls(sock)
        head = await ws._read_until(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            sock.close()
            raise ConnectionError(f"upgrade refused: {head.splitlines()[0]!r}")
        return ws

    async def _recv(self) -> bytes:
        data = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        if not data:
            raise ConnectionError("closed by the server")
        return data

    async def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._buffer += await self._recv()
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    async def _read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._buffer += await self._recv()
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    async def send_json(self, data: Any) -> None:
        payload = json.dumps(data).encode()
        mask = os.urandom(4)
        n = len(payload)
        length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
        header = bytes([0x81]) + length
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        await asyncio.get_running_loop().sock_sendall(self.sock, header + mask + masked)

    async def receive(self) -> tuple[int, bytes]:
        """The next frame as ``(opcode, payload)`` (unmasked, as a server sends)."""
        first, second = await self._read_exactly(2)
        n = second & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self._read_exactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self._read_exactly(8))
        return first & 0x0F, await self._read_exactly(n)

    async def receive_json(self) -> Any:
        while True:
            opcode, payload = await self.receive()
            if opcode == 1:
                return json.loads(payload)
            if opcode == 8:
                raise ConnectionError(f"closed by the server: {payload!r}")

    def dropped_by_server(self) -> bool:
        """The server has closed or reset the connection (read from the kernel, nothing consumed)."""
        info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return info[0] in TCP_CLOSED_STATES

    def close(self) -> None:
        self.sock.close()
