"""The desk's controls on a SIP-line call, a caller's or a dialled one alike (``talk.Talk``, found
in the calls table): hang-up, blind transfer, hold and resume, recording (``recording.py``), the
consult buttons the line does not offer, and a supervisor listening, whispering or barging on
their own SIP phone (``monitoring.py``). Click-to-dial is ``click_to_dial.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from adapters.sip.line import LineParts
from adapters.sip.media import MediaLeg
from adapters.sip.monitoring import Supervision
from adapters.sip.talk import Talk
from cti.calls import audit_monitor, may_monitor, recording_step
from cti.domain import Interaction
from cti.errors import Conflict, InvalidInput, Unavailable
from cti.events import SupervisionChanged

log = logging.getLogger(__name__)


class Desk:
    def __init__(self, parts: LineParts) -> None:
        self._parts = parts

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        """End the customer's call (a BYE through the proxy); the interaction goes to wrap-up."""
        parts = self._parts
        async with parts.locks.hold(interaction_id):
            interaction = await parts.live(interaction_id, agent_id)
            talk = parts.calls.talk(interaction)
            if talk is not None:
                await parts.calls.end_customer(talk)
            await parts.deps.interactions.call_ended(interaction_id, why="agent-hung-up")
        log.info("sip hang-up from the desktop interaction=%s agent=%s", interaction_id, agent_id)

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None = None, note: str | None = None) -> Interaction:
        """A blind transfer: the agent's phone hung up, the customer back on the hold audio, the
        interaction queued again or offered to ``to_agent`` (whose phone the offer rings)."""
        parts = self._parts
        async with parts.locks.hold(interaction_id):
            talk = parts.calls.connected(await parts.live(interaction_id, agent_id))
            moved = await parts.deps.interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                           to_agent=to_agent, note=note)
            talk.hand_over()
        log.info("sip transfer interaction=%s from=%s to_queue=%s to_agent=%s", interaction_id, agent_id,
                 to_queue, to_agent)
        return moved

    async def record(self, interaction_id: str, agent_id: str, action: str) -> None:
        """The desk's recording: ``start`` a WAV of both directions from the relay (two channels,
        ``recording.py``) named in the interaction's ``voice.recording``; ``pause`` (silence is
        kept in its place) and ``resume``; ``stop``. The call's end stops it too."""
        parts = self._parts
        what = recording_step(action)
        async with parts.locks.hold(interaction_id):
            talk = parts.calls.connected(await parts.live(interaction_id, agent_id))
            if action == "start":
                if talk.recording is not None:
                    raise Conflict("recording-in-progress", "the call is being recorded",
                                   interaction_id=interaction_id)
                if not parts.config.recording_dir:
                    raise Unavailable("recording-not-configured", "the SIP line has no recording_dir")
                path = Path(parts.config.recording_dir) / f"{interaction_id}.wav"
                await talk.start_recording(path)
                await parts.deps.interactions.update_refs(interaction_id,
                                                          context={"voice.recording": str(path)})
            elif talk.recording is None:
                raise Conflict("not-recording", "the call is not being recorded",
                               interaction_id=interaction_id)
            elif action == "stop":
                await talk.stop_recording()
            else:
                talk.recording.pause(action == "pause")
        await parts.call_updated(interaction_id, agent_id, what, {"by": "desktop"})
        log.info("sip recording %s interaction=%s agent=%s", action, interaction_id, agent_id)

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        """Hold and resume (``Talk.hold``): the customer hears the hold audio, the agent's phone is
        re-INVITEd ``sendonly``, then ``sendrecv``."""
        parts = self._parts
        async with parts.locks.hold(interaction_id):
            await parts.calls.connected(await parts.live(interaction_id, agent_id)).hold(on)
        await parts.call_updated(interaction_id, agent_id, "held" if on else "resumed", {"by": "desktop"})
        log.info("sip %s interaction=%s agent=%s", "hold" if on else "resume", interaction_id, agent_id)

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        raise Unavailable("not-supported", "consult is not available on SIP-line calls yet")

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        raise Unavailable("not-supported", "consult is not available on SIP-line calls yet")

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        raise Unavailable("not-supported", "consult is not available on SIP-line calls yet")

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        """Listen to, whisper to or barge into the agent's call on the supervisor's own SIP phone
        (``monitoring.py``): it rings through the proxy, and once answered the relay mixes as the
        mode says. Asked again by the same supervisor, the mode changes on the same leg."""
        parts = self._parts
        may_monitor(parts.deps.config, supervisor_id, agent_id, mode)
        uri = parts.config.endpoints.get(supervisor_id)
        if not uri:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=supervisor_id)
        talks = parts.calls.talks()  # called in, or dialled
        live = next((c for c in talks if c.agent_id == agent_id and c.agent_media is not None
                     and c.interaction_id is not None and not c.ended), None)
        if live is None or live.interaction_id is None or live.leg is None:
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        if parts.endpoint is None:
            raise Unavailable("sip-not-started", "the SIP line is not running")
        current = live.supervision if live.supervision is not None and not live.supervision.ended else None
        if current is not None and current.supervisor_id != supervisor_id:
            raise Conflict("already-monitored", "another supervisor is on this call", agent_id=agent_id)
        await audit_monitor(parts.deps.context, supervisor_id, agent_id, mode, live.interaction_id)
        if live.ended or live.agent_media is None or live.agent_id != agent_id:  # ended meanwhile
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        if current is not None:
            current.set_mode(mode)
            if current.conference is not None:
                await self._supervision_changed(current, True)
            return
        c = parts.config
        live.supervision = sup = Supervision.open(
            parts.endpoint, uri, from_uri=f"sip:{c.user}@{c.server}", local_ip=c.local_ip,
            law=live.leg.payload_type, supervisor_id=supervisor_id, agent_id=agent_id,
            interaction_id=live.interaction_id, mode=mode)
        parts.spawn(self._supervise(live, sup))
        log.info("sip ringing supervisor interaction=%s supervisor=%s mode=%s", live.interaction_id,
                 supervisor_id, mode)

    async def _supervise(self, live: Talk, sup: Supervision) -> None:
        def legs() -> tuple[MediaLeg, MediaLeg, bool] | None:
            if live.supervision is not sup or live.ended or live.leg is None or live.agent_media is None:
                return None
            return live.leg, live.agent_media, live.held
        try:
            await sup.run(self._parts.config.ring_seconds, legs,
                          lambda active: self._supervision_changed(sup, active))
        finally:
            if live.supervision is sup:
                live.supervision = None
            sup.end()  # stopped while ringing or talking (a stop of the server): BYE, socket closed

    async def _supervision_changed(self, sup: Supervision, active: bool) -> None:
        deps = self._parts.deps
        await deps.hub.publish(SupervisionChanged(
            at=deps.clock.now(), supervisor_id=sup.supervisor_id, agent_id=sup.agent_id, mode=sup.mode,
            active=active, interaction_id=sup.interaction_id))
