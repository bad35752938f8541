"""The desk's controls of the caller's call itself: hang up, a blind transfer (the caller back in
their Twilio queue, the interaction to another queue or agent) and the recording button
(Recordings API: start, pause, resume, stop)."""

from __future__ import annotations

import logging

from adapters.twilio_voice import twiml
from adapters.twilio_voice.refs import (
    RECORDING_STATUS,
    REF_AGENT_LEG,
    REF_CALL_SID,
    REF_MOVED,
    REF_RECORDING_SID,
)
from adapters.twilio_voice.rest import TwilioCallError
from adapters.twilio_voice.state import VoiceState, conference_sid
from cti.calls import recording_step
from cti.domain import Interaction
from cti.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)


class CallControl:
    def __init__(self, state: VoiceState) -> None:
        self._state = state
        self._deps = state.deps  # fixed for the adapter's life, unlike the config

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        """End the caller's call (the agent's leg ends with it); the interaction goes to wrap-up."""
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            await self._state.require_calls().update(interaction.channel_refs[REF_CALL_SID],
                                                     status="completed")
            await self._deps.interactions.call_ended(interaction_id, why="agent-hung-up")
        log.info("twilio hang-up from the desktop interaction=%s agent=%s", interaction_id, agent_id)

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None = None, note: str | None = None) -> Interaction:
        """A blind transfer: the caller back on hold in their Twilio queue, the interaction (its
        context, notes and wait target) queued to ``to_queue`` or offered to ``to_agent``."""
        config = self._deps.config
        if (to_queue is None) == (to_agent is None):
            raise InvalidInput("bad-transfer-target", "give exactly one of queue or agent_id")
        if to_queue is not None and to_queue not in config.queues:
            raise NotFound("queue-not-found", f"no queue {to_queue!r}", queue=to_queue)
        if to_agent is not None and to_agent not in config.agents:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        if to_agent == agent_id:
            raise InvalidInput("bad-transfer-target", "cannot transfer to yourself")
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            leg = interaction.channel_refs.get(REF_AGENT_LEG, "")
            # The agent's leg ends when the caller leaves it: that end is not the call's.
            refs = self._deps.interactions.update_refs
            await refs(interaction_id, refs={REF_AGENT_LEG: "", REF_MOVED: "1"})
            try:
                await self._state.redirect_to_queue(interaction)
            except TwilioCallError:
                await refs(interaction_id, refs={REF_AGENT_LEG: leg, REF_MOVED: ""})
                raise
            try:
                moved = await self._deps.interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                              to_agent=to_agent, note=note)
            except BaseException:
                await refs(interaction_id, refs={REF_MOVED: ""})
                raise
        log.info("twilio transfer interaction=%s from=%s to_queue=%s to_agent=%s", interaction_id,
                 agent_id, to_queue, to_agent)
        return moved

    async def record(self, interaction_id: str, agent_id: str, action: str) -> None:
        """The desk's recording of the caller's call (Twilio's Recordings API, two channels):
        ``start``, ``pause`` (silence kept in its place), ``resume``, ``stop``. Its status
        callback (signed, like every webhook) puts the finished recording's URL in the
        interaction's context; the call's end stops it too."""
        what = recording_step(action)
        async with self._state.locks.hold(interaction_id):
            interaction = await self._state.live(interaction_id, agent_id)
            conference_sid(interaction)  # connected: the caller (or dialled customer) is in it
            call_sid = interaction.channel_refs[REF_CALL_SID]
            recording = interaction.channel_refs.get(REF_RECORDING_SID, "")
            calls = self._state.require_calls()
            if action == "start":
                if recording:
                    raise Conflict("recording-in-progress", "the call is being recorded",
                                   interaction_id=interaction_id)
                sid = await calls.start_recording(call_sid, status_callback=twiml.url(
                    self._state.config, twiml.RECORDING_PATH, {"interaction": interaction_id}))
                await self._deps.interactions.update_refs(interaction_id, refs={REF_RECORDING_SID: sid})
            elif not recording:
                raise Conflict("not-recording", "the call is not being recorded",
                               interaction_id=interaction_id)
            else:
                await calls.update_recording(call_sid, recording, RECORDING_STATUS[action])
                if action == "stop":
                    await self._deps.interactions.update_refs(interaction_id, refs={REF_RECORDING_SID: ""})
        await self._state.call_updated(interaction_id, agent_id, what, {"by": "desktop"})
        log.info("twilio recording %s interaction=%s agent=%s", action, interaction_id, agent_id)
