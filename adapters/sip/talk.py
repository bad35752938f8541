"""What the desk's controls act on in a SIP-line call, whether the customer called in or was
dialled: the customer's RTP leg, the agent's phone leg and its RTP, hold, the recording and a
supervisor's leg (``monitoring.py``).

An inbound call (``LiveCall``) and a click-to-dial (``Dialled``) differ only in how the customer's
side began and ends (the line's caller half, or a ``sipcore`` leg through the trunk); hold, the
recording, a supervisor joining and handing the customer to another agent or queue are the same
relay operations on both, so they live here once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from adapters.sip.agent_leg import AgentLeg
from adapters.sip.media import MediaLeg, bridge, unbridge
from adapters.sip.monitoring import Supervision
from adapters.sip.recording import Recording

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Talk:
    interaction_id: str | None = None
    leg: MediaLeg | None = None  # the customer's RTP (the caller's, or the dialled customer's)
    agent: AgentLeg | None = None  # the agent's phone: ringing, or talking when ``agent_media``
    agent_id: str | None = None
    agent_media: MediaLeg | None = None
    held: bool = False  # on hold from the desk: the customer hears the hold audio, nothing is relayed
    recording: Recording | None = None  # the desk's recording of both directions
    supervision: Supervision | None = None  # a supervisor's phone: ringing, or in the mix
    ended: bool = False

    def tap(self) -> None:
        """The recording (if any) hears both legs: the customer on the left, the agent on the right."""
        rec = self.recording
        if self.leg is not None:
            self.leg.recorder = rec.tap(0) if rec is not None else None
        if self.agent_media is not None:
            self.agent_media.recorder = rec.tap(1) if rec is not None else None

    def drop_agent(self) -> None:
        """End the agent's leg whatever it is doing: CANCEL while it rings, BYE once answered. A
        supervisor's leg ends with it: it listened to this agent, not to whoever takes the call next."""
        supervision, self.supervision = self.supervision, None
        if supervision is not None:
            supervision.end()
        leg, media = self.agent, self.agent_media
        self.agent = self.agent_media = self.agent_id = None
        self.held = False
        if leg is not None and media is not None:
            leg.hangup()
        elif leg is not None:
            leg.cancel()  # the core sends CANCEL, or BYE if the answer crossed it
        if media is not None:
            media.close()
        if self.leg is not None:
            self.leg.peer = None

    def connect(self, media: MediaLeg) -> None:
        """The agent's phone answered: its RTP and the customer's relayed, and recorded if asked."""
        self.agent_media = media
        if self.leg is not None:
            bridge(self.leg, media)
        self.tap()

    def hand_over(self) -> None:
        """A blind transfer: the agent's phone hung up, the customer back on the hold audio until
        the next agent answers."""
        self.drop_agent()
        if self.leg is not None:
            self.leg.play(greeting=False)

    async def hold(self, on: bool) -> None:
        """Hold: the relay stops, the customer hears the hold audio and the agent's phone is
        re-INVITEd ``sendonly``; resume re-INVITEs it ``sendrecv`` and the relay passes audio
        again. The audio follows the desk even if the phone refuses the re-INVITE (the relay, not
        the phone, decides what each side hears)."""
        if self.held == on or self.leg is None:
            return
        self.held = on
        leg, media = self.agent, self.agent_media
        if on:
            unbridge(self.leg)
            self.leg.play(greeting=False)
        if leg is not None and media is not None and not await leg.hold(on):
            log.warning("sip re-INVITE refused interaction=%s hold=%s", self.interaction_id, on)
        # The phone may have hung up, or the call ended, during the re-INVITE.
        if not on and self.agent_media is not None and not self.ended:
            bridge(self.leg, self.agent_media)

    async def start_recording(self, path: Path) -> None:
        self.recording = await Recording.open(path)
        self.tap()

    async def stop_recording(self) -> None:
        rec, self.recording = self.recording, None
        self.tap()
        if rec is not None:
            await rec.close()
