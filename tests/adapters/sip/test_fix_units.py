"""Fixes around pyVoIP 1.6.8 that need no peer: driven with plain sockets."""

from __future__ import annotations

import socket
from typing import Any

from adapters.sip.pyvoip_fixes import FixedSIPClient


class ClosedUnderTheLoop(socket.socket):
    """The race seen under load: ``stop`` closes the socket just as the receive loop, having
    passed its ``while`` check, takes the lock and makes the socket non-blocking."""

    def __init__(self, client: FixedSIPClient) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)
        self.bind(("127.0.0.1", 0))
        self.client = client

    def setblocking(self, flag: bool) -> None:
        super().setblocking(flag)
        if not flag:
            self.client.NSD = False  # what stop() does first...
            self.close()  # ...and last


def test_stopping_the_line_under_its_receive_loop_ends_the_loop_quietly() -> None:
    """Defect: the receive thread died with ``OSError: Bad file descriptor``."""
    events: Any = None
    client = FixedSIPClient("127.0.0.1", 5060, "line", "secret", None, myIP="127.0.0.1", myPort=0,
                            expires=60, retry_seconds=1.0, events=events)
    client.s = ClosedUnderTheLoop(client)
    client.NSD = True
    client.recv_loop()  # returns; before the fix the OSError escaped the thread
    assert client.s.fileno() == -1
