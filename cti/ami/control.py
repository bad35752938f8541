"""Call control from the desktop: the AMI actions behind hold, transfer, consult, recording,
click-to-dial and supervision, checked against who owns the call.

``AmiBridge`` (``bridge.py``) is a ``CallControl``: these methods act on Asterisk through the
bridge's link (or, on a node without the link, through the relay to the node that has it) and on
the state the bridge keeps of calls in flight; the bridge's event side reports what followed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cti.agents import AgentService
from cti.ami.frames import AmiMessage
from cti.ami.relay import CommandRelay
from cti.ami.transfers import Consult, Transfers
from cti.calls import audit_monitor, may_monitor, owned_live_call
from cti.clock import Clock
from cti.config import AmiConfig, AppConfig
from cti.domain import AgentProfile, Channel, Identity, IdentityKind, Interaction, InteractionState
from cti.errors import Conflict, CtiError, Forbidden, InvalidInput, NotFound, Unavailable
from cti.events import CallUpdated, InteractionTransferred
from cti.hub import EventHub
from cti.identities import normalise_phone
from cti.ports import ContextStore
from cti.service import InteractionService

REF_UNIQUEID = "asterisk_uniqueid"
REF_CHANNEL = "asterisk_channel"
REF_LINKEDID = "asterisk_linkedid"
REF_AGENT_CHANNEL = "asterisk_agent_channel"
ENDPOINT = "pjsip"  # the agent profile's endpoints key holding the phone's device, e.g. PJSIP/agent1
EXTENSION = "exten"  # the agent's extension in the agents context, for consult transfers
SPY_OPTIONS = {"listen": "q", "whisper": "qw", "barge": "qB"}
RELAYED = frozenset({"hold", "hangup", "transfer", "consult", "cancel_consult", "complete_consult",
                     "recording", "dial", "monitor"})


class AmiActions(Protocol):
    """What the bridge needs of the link (``cti.ami.link.AmiLink``)."""

    @property
    def connected(self) -> bool: ...
    async def send(self, action: Mapping[str, str | Sequence[str]]) -> AmiMessage: ...
    async def send_list(self, action: Mapping[str, str | Sequence[str]]) -> list[AmiMessage]: ...


@dataclass
class Ringing:
    """An Originate to an agent's phone for an offer, until it is answered or given up."""

    interaction_id: str
    agent_id: str
    channel: str | None = None  # the agent leg, once Asterisk created it


@dataclass
class Spy:
    supervisor_id: str
    agent_id: str
    mode: str
    interaction_id: str | None


class CallControl:
    """The desktop's call-control commands; the attributes are ``AmiBridge``'s."""

    _ami: AmiConfig
    _interactions: InteractionService
    _agents: AgentService
    _context: ContextStore
    _hub: EventHub
    _clock: Clock
    _link: AmiActions | None
    _relay: CommandRelay | None

    @property
    def _config(self) -> AppConfig:  # the bridge's: the running configuration, read at each use
        raise NotImplementedError
    _lock: asyncio.Lock
    _transfers: Transfers
    _ringing: dict[str, Ringing]  # agent device -> originate in progress
    _spies: dict[str, Spy]  # supervisor device -> supervision in progress
    _dialing: dict[str, str]  # agent device -> click-to-dial interaction, until it rings

    # The desk's buttons for Asterisk calls (``cti.ports.DeskButtons``).
    call_refs: tuple[str, ...] = (REF_CHANNEL,)
    desk_controls: tuple[str, ...] = ("hold", "record", "consult")

    def handles(self, interaction: Interaction) -> bool:
        refs = interaction.channel_refs
        return bool(refs.get(REF_AGENT_CHANNEL) and refs.get(REF_CHANNEL))

    async def _relayed(self, method: str, **args: Any) -> Any:
        assert self._relay is not None
        result = await self._relay.call(method, args)
        if isinstance(result, Mapping) and "id" in result:
            return await self._context.interaction(str(result["id"]))
        return None

    def _elsewhere(self) -> bool:
        return not self.connected and self._relay is not None

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        """Hold: the caller to the holding bridge (music), the agent's phone waits; resume bridges them."""
        if self._elsewhere():
            await self._relayed("hold", interaction_id=interaction_id, agent_id=agent_id, on=on)
            return
        interaction, agent_channel = await self._live_call(interaction_id, agent_id)
        caller = interaction.channel_refs[REF_CHANNEL]
        link = self._require_link()
        if on:
            await link.send({"Action": "Setvar", "Channel": caller, "Variable": "CTI_AGENT",
                             "Value": agent_channel})
            await link.send({"Action": "Redirect", "Channel": caller, "Context": self._ami.hold_context,
                             "Exten": "held", "Priority": "1", "ExtraChannel": agent_channel,
                             "ExtraContext": "cti-agent-ready", "ExtraExten": "held",
                             "ExtraPriority": "1"})
        else:
            await link.send({"Action": "Bridge", "Channel1": caller, "Channel2": agent_channel,
                             "Tone": "no"})
        await self._call_updated(interaction_id, agent_id, "held" if on else "resumed", {"by": "desktop"})

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None, note: str | None) -> Interaction:
        """A blind transfer of a live call, keeping the interaction, its context and notes.

        To an agent: Asterisk rings their extension (the caller hears ringing); when they answer
        the interaction is theirs, and if they do not the dial plan puts the caller back in the
        queue. To a queue: the caller goes back on hold and the router offers them again.
        """
        if (to_queue is None) == (to_agent is None):
            raise InvalidInput("bad-transfer-target", "give exactly one of queue or agent_id")
        if self._elsewhere():
            moved: Interaction = await self._relayed("transfer", interaction_id=interaction_id,
                                                     agent_id=agent_id, to_queue=to_queue,
                                                     to_agent=to_agent, note=note)
            return moved
        # Under the event lock: Asterisk's own report of this transfer (a "Requeued: yes" caller)
        # is handled after the desk's transfer is recorded, or was handled before this request
        # was read; either way the interaction is transferred once.
        async with self._lock:
            return await self._transfer(interaction_id, agent_id, to_queue=to_queue,
                                        to_agent=to_agent, note=note)

    async def _transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                        to_agent: str | None, note: str | None) -> Interaction:
        done = self._transfers.requeued_by_phone.get(interaction_id)
        if to_queue is not None and done == (agent_id, to_queue):
            del self._transfers.requeued_by_phone[interaction_id]
            if note:
                await self._interactions.add_note(interaction_id, agent_id, note)
            return await self._context.interaction(interaction_id)
        interaction, agent_channel = await self._live_call(interaction_id, agent_id)
        if to_agent is not None:
            if to_agent == agent_id:
                raise InvalidInput("bad-transfer-target", "cannot transfer to yourself")
            _, exten = self._dialled(to_agent)
            # Before the action: its events (the target's phone ringing) may come before its answer.
            self._transfers.asked_by_desk(interaction_id, agent_id, to_agent)
            try:
                await self._require_link().send({"Action": "BlindTransfer", "Channel": agent_channel,
                                                 "Exten": exten, "Context": self._ami.agents_context})
            except CtiError:
                self._transfers.cancel(interaction_id)
                raise
            if note:
                await self._interactions.add_note(interaction_id, agent_id, note)
            await self._hub.publish(InteractionTransferred(
                at=self._clock.now(), interaction_id=interaction_id, agent_id=agent_id, to_queue=None,
                to_agent=to_agent, note=note))
            return interaction
        assert to_queue is not None
        if to_queue not in self._config.queues:
            raise NotFound("queue-not-found", f"no queue {to_queue!r}", queue=to_queue)
        await self._require_link().send({"Action": "BlindTransfer", "Channel": agent_channel,
                                         "Exten": to_queue, "Context": self._ami.hold_context})
        return await self._interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                 to_agent=None, note=note)

    def dials_for(self, agent_id: str) -> bool:
        """Click-to-dial for this agent goes through Asterisk: they have a phone on it."""
        profile = self._config.agents.get(agent_id)
        return profile is not None and bool(profile.endpoints.get(ENDPOINT))

    def _dialled(self, to_agent: str) -> tuple[AgentProfile, str]:
        """The agent a call is handed to and the extension that rings them, or the refusal."""
        target = self._config.agents.get(to_agent)
        if target is None:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        exten = target.endpoints.get(EXTENSION)
        if not exten:
            raise InvalidInput("no-extension", f"agent {to_agent!r} has no extension", agent_id=to_agent)
        return target, exten

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        if self._elsewhere():
            await self._relayed("hangup", interaction_id=interaction_id, agent_id=agent_id)
            return
        interaction = await self._owned_voice(interaction_id, agent_id)
        channel = interaction.channel_refs.get(REF_CHANNEL) or interaction.channel_refs.get(REF_AGENT_CHANNEL)
        if not channel:
            raise Conflict("no-call", "this interaction has no live call", interaction_id=interaction_id)
        await self._require_link().send({"Action": "Hangup", "Channel": channel, "Cause": "16"})

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        """Attended transfer: the agent talks to ``to_agent`` while the caller holds; completing it
        (``complete_consult`` or the agent hanging up) leaves the caller with ``to_agent``."""
        if self._elsewhere():
            await self._relayed("consult", interaction_id=interaction_id, agent_id=agent_id,
                                to_agent=to_agent)
            return
        _, agent_channel = await self._live_call(interaction_id, agent_id)
        target, exten = self._dialled(to_agent)
        self._transfers.consult_started(interaction_id, Consult(
            agent_id=agent_id, agent_channel=agent_channel, to_agent=to_agent,
            to_device=target.endpoints.get(ENDPOINT, "")))
        try:
            await self._require_link().send({"Action": "Atxfer", "Channel": agent_channel,
                                             "Exten": exten, "Context": self._ami.agents_context})
        except CtiError:
            self._transfers.drop_consult(interaction_id)
            raise
        await self._call_updated(interaction_id, agent_id, "consult-started", {"to_agent": to_agent})
        # The consulted agent sees who is waiting before they pick up.
        pop = await self._interactions.screen_pop(await self._context.interaction(interaction_id))
        await self._hub.publish(CallUpdated(at=self._clock.now(), interaction_id=interaction_id,
                                            agent_id=to_agent, what="consult-incoming",
                                            details={"from_agent": agent_id, "screen_pop": pop}))

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        if self._elsewhere():
            await self._relayed("cancel_consult", interaction_id=interaction_id, agent_id=agent_id)
            return
        _, agent_channel = await self._live_call(interaction_id, agent_id)
        await self._require_link().send({"Action": "CancelAtxfer", "Channel": agent_channel})
        await self._call_updated(interaction_id, agent_id, "consult-cancelled", {})
        await self._transfers.consult_ended(interaction_id, "cancelled")

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        """The transferring agent leaves; Asterisk joins the caller and the consulted agent."""
        if self._elsewhere():
            await self._relayed("complete_consult", interaction_id=interaction_id, agent_id=agent_id)
            return
        _, agent_channel = await self._live_call(interaction_id, agent_id)
        await self._require_link().send({"Action": "Hangup", "Channel": agent_channel, "Cause": "16"})

    async def recording(self, interaction_id: str, agent_id: str, action: str) -> None:
        if self._elsewhere():
            await self._relayed("recording", interaction_id=interaction_id, agent_id=agent_id,
                                action=action)
            return
        interaction, agent_channel = await self._live_call(interaction_id, agent_id)
        link = self._require_link()
        if action == "start":
            path = f"{self._ami.recording_dir.rstrip('/')}/{interaction_id}.wav"
            await link.send({"Action": "MixMonitor", "Channel": agent_channel, "File": path,
                             "Options": "i(CTI_MIXMON_ID)"})
            await self._interactions.update_refs(interaction_id, context={"voice.recording": path})
        elif action in ("pause", "resume"):
            # Paused while a card number is read out: the file keeps silence, not the digits.
            await link.send({"Action": "MixMonitorMute", "Channel": agent_channel, "Direction": "both",
                             "State": "1" if action == "pause" else "0"})
        elif action == "stop":
            stop: dict[str, str] = {"Action": "StopMixMonitor", "Channel": agent_channel}
            if interaction.channel_refs.get("asterisk_mixmonitor"):
                stop["MixMonitorID"] = interaction.channel_refs["asterisk_mixmonitor"]
            await link.send(stop)
        else:
            raise InvalidInput("bad-recording-action", "action is start, pause, resume or stop")

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        """Click-to-dial: the agent's phone rings first, then Asterisk dials the customer."""
        if self._elsewhere():
            placed: Interaction = await self._relayed("dial", agent_id=agent_id, number=number, queue=queue)
            return placed
        profile = self._config.agents.get(agent_id)
        if profile is None or not profile.endpoints.get(ENDPOINT):
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=agent_id)
        phone = normalise_phone(number, region=self._config.phone_region)
        dialled = number if number.isdigit() else phone.lstrip("+")
        device = profile.endpoints[ENDPOINT]
        link = self._require_link()
        if device in self._dialing or device in self._ringing:
            raise Conflict("phone-busy", "your phone is already ringing", agent_id=agent_id)
        interaction, _ = await self._interactions.start_active(
            channel=Channel.VOICE, agent_id=agent_id, identities=[Identity(IdentityKind.PHONE, phone)],
            display_name=None, queue=queue, context={"voice.dialled": dialled})
        # Registered before the Originate: the agent leg's Newchannel (AgentLegCreated) ties its
        # Uniqueid to this interaction, and it may arrive before the Originate's response.
        self._dialing[device] = interaction.id
        try:
            await link.send({
                "Action": "Originate", "Channel": device, "Context": self._ami.dialout_context,
                "Exten": dialled, "Priority": "1", "Timeout": "30000",
                "CallerID": f'"{profile.name[:40]}" <{profile.endpoints.get(EXTENSION, "")}>',
                "Variable": [f"CTI_AGENT_ID={agent_id}"], "Async": "true"})
        except CtiError:
            self._dialing.pop(device, None)
            await self._interactions.call_ended(interaction.id, why="dial-failed")
            raise
        return interaction

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        """Listen to, whisper to or barge into an agent's live call, on the supervisor's own phone."""
        if self._elsewhere():
            await self._relayed("monitor", supervisor_id=supervisor_id, agent_id=agent_id, mode=mode)
            return
        supervisor = may_monitor(self._config, supervisor_id, agent_id, mode)
        phone = supervisor.endpoints.get(ENDPOINT)
        if not phone:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=supervisor_id)
        live = [i for i in await self._context.list_interactions(agent_id=agent_id, open_only=True)
                if i.channel is Channel.VOICE and i.state is InteractionState.ACTIVE
                and i.channel_refs.get(REF_AGENT_CHANNEL)]
        if not live:
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        target = live[0]
        await audit_monitor(self._context, supervisor_id, agent_id, mode, target.id)
        self._spies[phone] = Spy(supervisor_id=supervisor_id, agent_id=agent_id, mode=mode,
                                  interaction_id=target.id)
        try:
            await self._require_link().send({
                "Action": "Originate", "Channel": phone, "Application": "ChanSpy",
                "Data": f"{target.channel_refs[REF_AGENT_CHANNEL]},{SPY_OPTIONS[mode]}",
                "Timeout": "15000", "CallerID": f'"Supervisor" <{supervisor_id}>', "Async": "true"})
        except CtiError:
            self._spies.pop(phone, None)
            raise

    def _require_link(self) -> AmiActions:
        if self._link is None or not self._link.connected:
            raise Unavailable("voice-unavailable", "the telephony link is down; try again shortly")
        return self._link

    async def _owned_voice(self, interaction_id: str, agent_id: str) -> Interaction:
        interaction = await self._context.interaction(interaction_id)
        if interaction.channel is not Channel.VOICE:
            raise InvalidInput("not-a-call", "this interaction is not a call", interaction_id=interaction_id)
        if interaction.agent_id != agent_id:
            raise Forbidden("not-your-interaction", "this interaction is not yours",
                            interaction_id=interaction_id)
        return interaction

    async def _live_call(self, interaction_id: str, agent_id: str) -> tuple[Interaction, str]:
        interaction = await owned_live_call(self._context, interaction_id, agent_id,
                                            carried=lambda i: i.channel is Channel.VOICE,
                                            not_carried="not-a-call")
        if not self.handles(interaction):  # a voice call, but not (or no longer) bridged by Asterisk
            raise Conflict("no-call", "this interaction has no live call", interaction_id=interaction_id)
        return interaction, interaction.channel_refs[REF_AGENT_CHANNEL]

    async def _hangup_quietly(self, channel: str | None) -> None:
        if channel and self.connected:
            with contextlib.suppress(CtiError):
                await self._require_link().send({"Action": "Hangup", "Channel": channel, "Cause": "16"})

    async def _call_updated(self, interaction_id: str, agent_id: str | None, what: str,
                            details: Mapping[str, Any]) -> None:
        await self._hub.publish(CallUpdated(at=self._clock.now(), interaction_id=interaction_id,
                                            agent_id=agent_id, what=what, details=dict(details)))
