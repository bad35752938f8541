"""The interaction life cycle as a pure function of (interaction, transition, time).

    new → queued → offered → active → wrap_up → closed
              ↑        │        │
              └────────┘        └→ queued (transfer)
    queued/offered → abandoned (customer left before an agent took it)
    new → active (dial: an agent's outbound call);  active → active (reassign: a consult
    transfer completed, the same call now with another agent)
"""

from __future__ import annotations

from dataclasses import replace

from cti.domain import Interaction, InteractionState
from cti.errors import Conflict

S = InteractionState

ALLOWED: dict[str, tuple[frozenset[InteractionState], InteractionState]] = {
    "enqueue": (frozenset({S.NEW}), S.QUEUED),
    "offer": (frozenset({S.QUEUED}), S.OFFERED),
    "requeue": (frozenset({S.OFFERED}), S.QUEUED),
    "accept": (frozenset({S.OFFERED}), S.ACTIVE),
    "transfer": (frozenset({S.ACTIVE, S.WRAP_UP}), S.QUEUED),
    "end": (frozenset({S.ACTIVE}), S.WRAP_UP),
    "close": (frozenset({S.ACTIVE, S.WRAP_UP}), S.CLOSED),
    "abandon": (frozenset({S.NEW, S.QUEUED, S.OFFERED}), S.ABANDONED),
    "dial": (frozenset({S.NEW}), S.ACTIVE),
    "reassign": (frozenset({S.ACTIVE}), S.ACTIVE),
}

OPEN_STATES = frozenset({S.NEW, S.QUEUED, S.OFFERED, S.ACTIVE, S.WRAP_UP})


def can(interaction: Interaction, transition: str) -> bool:
    sources, _ = ALLOWED[transition]
    return interaction.state in sources


def apply(interaction: Interaction, transition: str, *, now: float, agent_id: str | None = None,
          queue: str | None = None) -> Interaction:
    """Return the interaction after ``transition`` or raise ``Conflict`` if it is not allowed."""
    sources, target = ALLOWED[transition]
    if interaction.state not in sources:
        raise Conflict(
            "invalid-transition",
            f"cannot {transition} an interaction that is {interaction.state.value}",
            interaction_id=interaction.id, state=interaction.state.value, transition=transition,
        )
    if transition == "enqueue":
        return replace(interaction, state=target, queued_at=now)
    if transition == "offer":
        return replace(interaction, state=target, offered_at=now, agent_id=agent_id)
    if transition == "requeue":
        # The wait is measured from the original queued_at: a reject never resets it.
        return replace(interaction, state=target, offered_at=None, agent_id=None)
    if transition == "accept":
        return replace(interaction, state=target, answered_at=now, agent_id=agent_id)
    if transition in ("dial", "reassign"):
        if not agent_id:
            raise Conflict("agent-required", f"{transition} needs an agent", interaction_id=interaction.id)
        return replace(interaction, state=target, agent_id=agent_id)
    if transition == "transfer":
        return replace(interaction, state=target, agent_id=None, offered_at=None,
                       queue=queue or interaction.queue)
    if transition == "end":
        return replace(interaction, state=target, ended_at=now)
    if transition == "close":
        return replace(interaction, state=target, ended_at=interaction.ended_at or now)
    # abandon
    return replace(interaction, state=target, ended_at=now, customer_left=True)
