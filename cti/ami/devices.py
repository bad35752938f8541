"""An agent's phone decides whether they can take a call (pure).

``DeviceStateChange`` on an agent's endpoint device (``PJSIP/agent1``) says what the phone is
doing whatever made it so: a call the server offered, a call app_queue's fallback queue put
through, a consult, a call the agent dialled by hand. A phone that rings or is on a call
(``RINGING``, ``INUSE``, ``BUSY``, ``ONHOLD``, ``RINGINUSE``) cannot take another one, and one
that is not registered (``UNAVAILABLE``, ``INVALID``, ``UNKNOWN``) none at all: either way the
agent is kept out of voice routing until the phone is ``NOT_INUSE`` again, while chat and e-mail
go on. The live recordings (``live2/agent_busy_on_fallback_call``) show the states the fallback
queue's calls give, and the first set (``inbound_*``) those of the server's own offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNREACHABLE = frozenset({"UNAVAILABLE", "INVALID", "UNKNOWN"})
ON_A_CALL = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})


def blocks_voice(state: str) -> str | None:
    """Why a phone in ``state`` takes no call: "unreachable", "busy", or None (it can)."""
    if state in UNREACHABLE:
        return "unreachable"
    if state in ON_A_CALL:
        return "busy"
    return None


@dataclass
class PhoneStates:
    """The last known state of each agent's phone, and which agents it keeps from calls."""

    _blocked: dict[str, str] = field(default_factory=dict)  # agent id -> why (see blocks_voice)

    def update(self, agent_id: str, state: str) -> bool:
        """Fold one device state; True when the agent's voice availability changed."""
        why = blocks_voice(state)
        before = agent_id in self._blocked
        if why is None:
            self._blocked.pop(agent_id, None)
        else:
            self._blocked[agent_id] = why
        return before != (why is not None)

    def blocked(self, agent_id: str) -> str | None:
        return self._blocked.get(agent_id)

    def agents(self, why: str) -> list[str]:
        return sorted(a for a, w in self._blocked.items() if w == why)
