"""What the supervision tests share: the two-team centre of the access tests, a chat taken by an
agent, and the audit as a supervisor reads it."""

from __future__ import annotations

from tests.adapters.center import Center
from tests.security.scoping import chat, take
from tests.wsclient import JsonSocket


async def taken_chat(center: Center, agent: JsonSocket, name: str = "Mia") -> tuple[JsonSocket, str]:
    """A visitor whose chat ``agent`` accepted; the visitor's socket and the interaction id."""
    visitor = await chat(center, name)
    accepted = await take(agent)
    return visitor, str(accepted["id"])


async def audit_actions(center: Center, who: str) -> list[tuple[str, str, str]]:
    """(actor, action, target) of the audit entries ``who`` may read, newest first."""
    status, entries = await center.api(who, "GET", "/api/audit")
    assert status == 200, entries
    return [(e["actor"], e["action"], e["target"]) for e in entries]


def never_said(sock: JsonSocket, text: str) -> bool:
    """No frame the socket received (and kept while waiting for others) mentions ``text``."""
    return all(text not in repr(frame) for frame in sock.seen)


async def supervisor_socket(center: Center, who: str) -> JsonSocket:
    token = await center.token(who)
    ws_url = center.url.replace("http", "ws", 1)
    sock = JsonSocket(await center.http.ws_connect(f"{ws_url}/ws/supervisor?token={token}"))
    await sock.expect("hello")
    return sock
