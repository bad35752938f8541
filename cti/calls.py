"""The checks every telephony path makes before it acts on a call from the desktop."""

from __future__ import annotations

from collections.abc import Callable

from cti.agents import may_supervise, profile_of
from cti.config import AppConfig
from cti.domain import AgentProfile, Interaction, InteractionState, Role
from cti.errors import Conflict, Forbidden, InvalidInput
from cti.ports import ContextStore

MONITOR_MODES = ("listen", "whisper", "barge")
# The desk's recording actions and the call update each one publishes.
RECORDING_STEPS = {"start": "recording-started", "pause": "recording-paused",
                   "resume": "recording-resumed", "stop": "recording-stopped"}


def recording_step(action: str) -> str:
    """The call update a recording ``action`` from the desk publishes; a bad action is a 400."""
    what = RECORDING_STEPS.get(action)
    if what is None:
        raise InvalidInput("bad-recording-action", "action is start, pause, resume or stop")
    return what


async def owned_live_call(context: ContextStore, interaction_id: str, agent_id: str, *,
                          carried: Callable[[Interaction], bool], not_carried: str) -> Interaction:
    """The agent's own interaction with a live call on this path (``carried``), or the typed error:
    ``not_carried`` (400) when the path does not carry it, not-your-interaction (403), no-call (409)."""
    interaction = await context.interaction(interaction_id)
    if not carried(interaction):
        raise InvalidInput(not_carried, "this interaction is not a call on this line",
                           interaction_id=interaction_id)
    if interaction.agent_id != agent_id:
        raise Forbidden("not-your-interaction", "this interaction is not yours",
                        interaction_id=interaction_id)
    if interaction.state is not InteractionState.ACTIVE or interaction.customer_left:
        raise Conflict("no-call", "this interaction has no live call", interaction_id=interaction_id)
    return interaction


def may_monitor(config: AppConfig, supervisor_id: str, agent_id: str, mode: str) -> AgentProfile:
    """The supervisor's profile if they may listen to, whisper to or barge into ``agent_id``'s
    calls (admins, and supervisors of the agent's team), else the typed error."""
    if mode not in MONITOR_MODES:
        raise InvalidInput("bad-mode", "mode is listen, whisper or barge", mode=mode)
    supervisor = profile_of(config, supervisor_id)
    profile_of(config, agent_id)
    if supervisor.role is Role.AGENT or not may_supervise(config, supervisor_id, agent_id):
        raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=agent_id)
    return supervisor


async def audit_monitor(context: ContextStore, supervisor_id: str, agent_id: str, mode: str,
                        interaction_id: str) -> None:
    """The audit entry every telephony path writes when a supervisor joins an agent's call."""
    await context.audit(actor=supervisor_id, action=f"call.{mode}", target=agent_id,
                        details={"interaction_id": interaction_id})
