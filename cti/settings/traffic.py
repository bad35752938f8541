"""``traffic:`` limits that keep hostile or slow clients from stalling anyone else.

Every value has a default that suits one node serving a few hundred agents and a few thousand
chat visitors; each comment says why that default.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# A CSP source a browser understands and that cannot break out of the header: 'self', 'none',
# https: or an http(s) origin with an optional leading wildcard label and port.
FrameSource = Annotated[str, StringConstraints(
    pattern=r"^(?:'self'|'none'|https:|https?://(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?)$")]


class TrafficSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- every WebSocket (agent, supervisor, visitor) -------------------------------------------
    # Frames waiting for one socket. 256: a burst (a supervisor's board after a queue storm, an
    # agent's screen pops) fits several times over; past it the socket is behind for good and
    # frames are dropped (agents and supervisors get ``lagged`` and reload; visitors reconnect).
    socket_queue_size: int = Field(default=256, ge=8, le=100_000)
    # Seconds one frame may wait for a socket to take it before the socket is closed (1008).
    # 10: longer than a phone's usual network hiccup, far shorter than a TCP time-out; the
    # conversation is stored and waits for the reconnect, so closing loses nothing.
    socket_send_deadline: float = Field(default=10.0, gt=0, le=300)

    # --- client addresses ---------------------------------------------------------------------
    # Networks (CIDR) of reverse proxies whose ``X-Forwarded-For`` is believed. Empty: the peer
    # address is the client, since anyone can write that header.
    trusted_proxies: tuple[str, ...] = ()

    # --- chat visitors ------------------------------------------------------------------------
    # Open visitor sockets from one address. 50: an office or a mobile carrier's NAT puts many
    # people behind one address, each with a tab or two; a script opening thousands is refused
    # with 429 before the upgrade.
    visitor_sockets_per_address: int = Field(default=50, ge=1)
    # New conversations one address may start per minute. 10: a person starts one, an office a
    # few; 300 in seven seconds (seen) is a flood that would fill every agent's queue.
    visitor_conversations_per_minute: int = Field(default=10, ge=1)
    # Messages one visitor may send per minute. 30: fast typing sends one every few seconds;
    # more is a script flooding an agent.
    visitor_messages_per_minute: int = Field(default=30, ge=1)
    # Seconds a visitor socket may stay open without saying ``hello``. 10: the widget says it at
    # once; a socket that does not is a held-open connection.
    visitor_hello_deadline: float = Field(default=10.0, gt=0, le=300)
    # Visitor sockets one node holds at once. 5,000: well under the file descriptors a node
    # gets (see ``http_max_connections``), so visitors can never starve agents of connections.
    visitor_sockets_per_node: int = Field(default=5_000, ge=1)

    # --- the public knowledge paths (/kb pages, the chat widget's suggestions and feedback) --------
    # Requests one client address may make to them per minute, all paths together. 120: a reader
    # opens a page every few seconds, an office behind one address a few readers; a script
    # searching in a loop (each search costs the database) gets 429 with Retry-After.
    public_kb_requests_per_minute: int = Field(default=120, ge=1)

    # --- HTTP ---------------------------------------------------------------------------------
    # Seconds a connection may sit without a complete request: from when it opens, and from the
    # end of each response (keep-alive). aiohttp (3.14) has one timer for both, its
    # ``keepalive_timeout``: a request whose headers are not all in by then is dropped, so a
    # half-sent request (slowloris) holds its descriptor this long at most. 15: a browser sends
    # its headers at once and reuses an idle connection within seconds.
    http_keepalive_timeout: float = Field(default=15.0, gt=0, le=3600)
    # Open connections (HTTP and WebSocket) one node holds at once; a connection over the cap is
    # closed as soon as it is accepted, so descriptors never run out for the database, Redis
    # and the agents already connected. 10,000: above any real load of one node (agents plus
    # ``visitor_sockets_per_node``), below a usual descriptor limit (set ``ulimit -n`` above it:
    # the server warns at start when it is not).
    http_max_connections: int = Field(default=10_000, ge=16)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad entry
        return value

    # --- input helper's section: kept at the end so the traffic fields above merge cleanly ---
    # Who may frame the visitor chat page /chat: CSP ``frame-ancestors`` sources, e.g.
    # ["https://www.example.com", "https://*.example.com"]. Default ["'none'"]: no site may embed
    # it until the operator names theirs (clickjacking of the widget otherwise). Every other page
    # is never framed. See docs/security.md.
    chat_frame_ancestors: tuple[FrameSource, ...] = ("'none'",)

    @field_validator("chat_frame_ancestors")
    @classmethod
    def _none_alone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or ("'none'" in value and len(value) > 1):
            raise ValueError("list the sites that may embed /chat, or only 'none'")
        return value
