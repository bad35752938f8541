"""Folds AMI events into channels, bridges and calls, and reports call facts (pure).

No clock reads, no I/O: ``feed`` takes one parsed event and returns the ``cti.ami.signals`` it
implies, in order; times are the events' ``Timestamp``. Unknown events, responses and malformed
events (no ``Uniqueid`` …) give ``[]`` and never raise.

This module owns the folding (one handler per event, the resync snapshot); the tables it folds
into and the rules that read them are ``callstate.py``'s, channel names and views ``channels.py``'s.

What the recordings (``tests/fixtures/ami``) taught, and the rules that follow from them:

* A *caller* is a channel that sent ``UserEvent CtiQueued``; after a resync, a channel in the
  hold context (``Bridge()`` keeps ``Context: cti-hold`` on the bridged caller) or with
  ``CTI_ACCOUNT``/``CTI_QUEUE`` set. The caller keeps its Uniqueid through transfers.
* A *party* is any channel but a ``Local/`` one: Local pairs are attended-transfer plumbing,
  never reported (no ``AgentLegCreated``, ``Connected`` or ``HungUp`` for them).
* ``Connected`` is reported once per (caller, agent leg) pair, when they first share a bridge:
  on ``BridgeEnter`` of whichever comes second, on ``BridgeMerge``, or when a Local optimisation
  moves one of them into the other's bridge (either direction happens).
* ``by_party``: the leg whose phone sent BYE gets ``HangupRequest`` first; legs Asterisk hangs up
  get only ``SoftHangupRequest``. The order of the ``Hangup`` events themselves is not reliable.
* ``BlindTransfer`` is preceded by an ``Unhold`` on a transferer that was never held: an Unhold
  of a channel known not to be on hold is not a change and is not reported.
* ``MixMonitorStart``/``Mute``/``Stop`` carry no ``MixMonitorID``; the CTI starts MixMonitor
  with ``Options=i(CTI_MIXMON_ID)``, whose ``VarSet`` arrives before ``MixMonitorStart``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from cti.ami.callstate import CallState
from cti.ami.channels import LiveChannel, device_of, event_time, hangup_cause, is_local
from cti.ami.frames import AmiMessage
from cti.ami.signals import (
    AgentLegCreated,
    CallerFallback,
    DeviceState,
    HoldChanged,
    HungUp,
    LinkReset,
    RecordingChanged,
    Signal,
    SpyChanged,
    SurveyAnswered,
    SurveyStarted,
    Transferred,
)

__all__ = ["MIXMONITOR_ID_VARIABLE", "CallTracker"]

# The variable the CTI names in MixMonitor's ``i()`` option: the only place the id shows up.
MIXMONITOR_ID_VARIABLE = "CTI_MIXMON_ID"
_VARIABLE_PREFIX = "CTI_"
SURVEY_CONTEXT = "cti-survey"  # the dial plan's post-call survey (asterisk-config/extensions.conf)
_NONE = "none"  # Uniqueid/Channel of global-variable VarSet events ("Channel: none")


class CallTracker(CallState):
    """The call state of one Asterisk, folded from its AMI events."""

    def __init__(self, *, hold_context: str = "cti-hold", agent_devices: Collection[str] = (),
                 spy_devices: Collection[str] = ()) -> None:
        super().__init__(hold_context=hold_context, agent_devices=agent_devices, spy_devices=spy_devices)
        self._handlers: dict[str, Callable[[AmiMessage, float | None], list[Signal]]] = {
            "Newchannel": self._on_newchannel,
            "VarSet": self._on_varset,
            "Newexten": self._on_newexten,
            "UserEvent": self._on_userevent,
            "BridgeCreate": self._on_bridge_create,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "BridgeMerge": self._on_bridge_merge,
            "HangupRequest": self._on_hangup_request,
            "Hangup": self._on_hangup,
            "BlindTransfer": self._on_blind_transfer,
            "AttendedTransfer": self._on_attended_transfer,
            "Hold": self._on_hold,
            "Unhold": self._on_hold,
            "MusicOnHoldStart": self._on_moh,
            "MusicOnHoldStop": self._on_moh,
            "ChanSpyStart": self._on_chanspy,
            "ChanSpyStop": self._on_chanspy,
            "MixMonitorStart": self._on_mixmonitor,
            "MixMonitorStop": self._on_mixmonitor,
            "MixMonitorMute": self._on_mixmonitor,
            "DeviceStateChange": self._on_device_state,
            "QueueCallerJoin": self._on_queue_caller,
            "QueueCallerLeave": self._on_queue_caller,
            "QueueCallerAbandon": self._on_queue_caller,
            "Shutdown": self._on_shutdown,
            # Its Context/Exten are the Originate's target, not where the channel is: no update.
            "OriginateResponse": lambda msg, at: [],
        }

    # ---------------------------------------------------------------- folding

    def feed(self, msg: AmiMessage) -> list[Signal]:
        """Fold one event; return the signals it implies, in order."""
        name = msg.event
        if name is None:
            return []
        handler = self._handlers.get(name)
        if handler is None:
            self._touch(msg)
            return []
        return handler(msg, event_time(msg))

    def reset(self, why: str, at: float | None = None) -> list[Signal]:
        """Forget everything (link lost, Asterisk restarted)."""
        self._clear()
        return [LinkReset(at=at, why=why)]

    def load_snapshot(self, channels: Sequence[AmiMessage], bridges: Mapping[str, Sequence[AmiMessage]],
                      variables: Mapping[str, Mapping[str, str]]) -> list[Signal]:
        """Rebuild the state from a resync and report what is live.

        ``channels``: the ``CoreShowChannel`` events (``Status`` events are taken too, merged by
        Uniqueid: their ``DNID`` gives the caller's DID); ``bridges``: the ``BridgeInfoChannel``
        events per bridge id; ``variables``: channel name → the ``CTI_*`` values fetched with
        ``Getvar`` (an empty value is an unset variable). Returns ``CallerWaiting(resynced)`` for
        a caller waiting in the hold context, ``CallerFallback`` for one already in ``Queue()``,
        ``Connected(resynced)`` for a caller bridged with an agent leg and
        ``OutboundConnected(resynced)`` for an agent bridged with another party. Hold states are
        unknown after a resync. Does not emit ``LinkReset``: call ``reset`` when the link drops.
        """
        self._clear()
        for msg in channels:
            self._load_channel(msg)
        for bridge_id, members in bridges.items():
            for msg in members:
                ch = self._load_channel(msg)
                if ch is not None and bridge_id:
                    ch.bridge_id = bridge_id
        for ch in self._channels.values():
            if ch.bridge_id:
                self._bridges.setdefault(ch.bridge_id, {})[ch.uniqueid] = None
        for name, values in variables.items():
            uid = self._by_name.get(name)
            if uid is None:
                continue
            ch = self._channels[uid]
            ch.variables.update({k: v for k, v in values.items() if v})
        signals: list[Signal] = []
        for ch in self._channels.values():
            self._classify_resynced(ch)
        for bridge_id, uid_set in self._bridges.items():
            uids = list(uid_set)
            for i, a in enumerate(uids):
                for b in uids[i + 1:]:
                    signals.extend(self._pair(self._channels[a], self._channels[b], bridge_id, None,
                                              resynced=True))
        waiting: list[Signal] = []
        for ch in self._channels.values():
            if not ch.is_caller or ch.bridge_id is not None or ch.context != self.hold_context:
                continue
            if ch.application == "Queue":
                queue = ch.app_data.split(",", 1)[0]
                ch.app_queue = queue
                waiting.append(CallerFallback(at=None, uniqueid=ch.uniqueid, channel=ch.name, queue=queue))
            else:
                waiting.append(self._caller_waiting(ch, None, requeued=False, resynced=True))
        return waiting + signals

    # ---------------------------------------------------------------- internals: events

    def _on_newchannel(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        uid, name = msg.get("Uniqueid"), msg.get("Channel")
        if not uid or not name or uid == _NONE:
            return []
        ch = self._channels.get(uid) or self._add(uid, name)
        self._update(ch, msg)
        device = device_of(name)
        if device in self.agent_devices and not ch.is_caller:
            return [AgentLegCreated(at=at, uniqueid=uid, channel=name, device=device, linkedid=ch.linkedid)]
        return []

    def _on_varset(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch = self._touch(msg)
        variable, value = msg.get("Variable"), msg.get("Value")
        if ch is not None and variable and variable.startswith(_VARIABLE_PREFIX) and value is not None:
            if value:
                ch.variables[variable] = value
            else:
                ch.variables.pop(variable, None)
        return []

    def _on_newexten(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch = self._touch(msg)
        if ch is not None:
            ch.application = msg.get("Application") or ""
            ch.app_data = msg.get("AppData") or ""
        uid = msg.get("Uniqueid")
        if msg.get("Context") == SURVEY_CONTEXT and msg.get("Priority") == "1" and uid and uid != _NONE:
            return [SurveyStarted(at=at, uniqueid=uid)]
        return []

    def _on_userevent(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        kind = msg.get("UserEvent")
        uid, name = msg.get("Uniqueid"), msg.get("Channel")
        if kind == "CtiSurvey" and uid and uid != _NONE:
            # After the call: the channel may be gone from our picture already; the event says it all.
            self._touch(msg)
            return [SurveyAnswered(at=at, uniqueid=uid, linkedid=msg.get("Linkedid") or uid,
                                   rating=msg.get("Rating") or "")]
        if kind not in ("CtiQueued", "CtiFallback") or not uid or not name or uid == _NONE:
            self._touch(msg)
            return []
        # The caller may have arrived before the link did: the event carries the whole snapshot.
        ch = self._channels.get(uid) or self._add(uid, name)
        self._update(ch, msg)
        ch.is_caller = True
        ivr = {key: value for key, header in (("account", "Account"), ("reason", "Reason"))
               if (value := msg.get(header)) is not None}
        if kind == "CtiFallback":
            ch.ivr = ch.ivr or ivr
            return [CallerFallback(at=at, uniqueid=uid, channel=ch.name, queue=msg.get("Queue") or "",
                                   why=msg.get("Why") or "")]
        if not ch.did:  # a re-queue runs in the hold context: keep the DID of the first arrival
            ch.did = msg.get("Exten") or ""
        ch.queue = msg.get("Queue") or ""
        ch.ivr = ivr or ch.ivr
        requeued = (msg.get("Requeued") or "").lower() == "yes"
        return [self._caller_waiting(ch, at, requeued=requeued, resynced=False)]

    def _on_bridge_create(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        bridge_id = msg.get("BridgeUniqueid")
        if bridge_id:
            self._bridges.setdefault(bridge_id, {})
        return []

    def _on_bridge_enter(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch, bridge_id = self._touch(msg), msg.get("BridgeUniqueid")
        if ch is None or not bridge_id:
            return []
        return self._enter(ch, bridge_id, at)

    def _on_bridge_leave(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch, bridge_id = self._touch(msg), msg.get("BridgeUniqueid")
        if ch is not None and bridge_id:
            self._leave(ch, bridge_id)
        return []

    def _on_bridge_destroy(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        bridge_id = msg.get("BridgeUniqueid")
        for uid in self._bridges.pop(bridge_id or "", {}):
            ch = self._channels.get(uid)
            if ch is not None and ch.bridge_id == bridge_id:
                ch.bridge_id = None
        return []

    def _on_bridge_merge(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        # Asterisk 22 follows the merge with BridgeLeave/BridgeEnter for the moved channels;
        # moving them here as well keeps the state right if it does not, and is idempotent if it does.
        to_id, from_id = msg.get("ToBridgeUniqueid"), msg.get("FromBridgeUniqueid")
        if not to_id or not from_id or to_id == from_id:
            return []
        signals: list[Signal] = []
        for uid in list(self._bridges.pop(from_id, {})):
            ch = self._channels.get(uid)
            if ch is not None:
                ch.bridge_id = None
                signals.extend(self._enter(ch, to_id, at))
        return signals

    def _on_hangup_request(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch = self._touch(msg)
        if ch is not None:
            ch.hangup_requested = True
        return []

    def _on_hangup(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        uid, name = msg.get("Uniqueid"), msg.get("Channel")
        if not uid or not name or uid == _NONE:
            return []
        ch = self._channels.pop(uid, None)
        if ch is None:
            # Never seen (the link came up mid-call without a resync): report what the name tells.
            ch = LiveChannel(uniqueid=uid, name=name)
        else:
            if self._by_name.get(ch.name) == uid:
                del self._by_name[ch.name]
            if ch.bridge_id is not None:
                self._bridges.get(ch.bridge_id, {}).pop(uid, None)
            self._paired = {p for p in self._paired if uid not in p}
        role = self._role(ch)
        if role == "local":
            return []
        return [HungUp(at=at, uniqueid=uid, channel=ch.name, role=role, cause=hangup_cause(msg),
                       by_party=ch.hangup_requested, was_connected=ch.was_connected)]

    def _on_blind_transfer(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        transferee = msg.get("TransfereeUniqueid")
        if not transferee:
            return []
        exten, context = msg.get("Extension") or "", msg.get("Context") or ""
        target = f"{exten}@{context}" if exten and context else exten
        return [Transferred(at=at, kind="blind", caller_uniqueid=transferee,
                            transferer_channel=msg.get("TransfererChannel") or "", target=target,
                            success=msg.get("Result") == "Success")]

    def _on_attended_transfer(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        transferee = msg.get("TransfereeUniqueid")
        if not transferee:
            return []
        transferers = [u for u in (msg.get("OrigTransfererUniqueid"), msg.get("SecondTransfererUniqueid"))
                       if u]
        target = ""
        # The caller ends up in DestBridgeUniqueid; agent2 is there already, or at the far side
        # of the Local pair that is about to be optimised away.
        dest = msg.get("DestBridgeUniqueid")
        caller = self._channels.get(transferee)
        bridge = dest or (caller.bridge_id if caller else None)
        if bridge:
            agents = self._agents_with(bridge, [transferee, *transferers], set())
            if agents:
                target = device_of(agents[0].name)
        return [Transferred(at=at, kind="attended", caller_uniqueid=transferee,
                            transferer_channel=msg.get("OrigTransfererChannel") or "", target=target,
                            success=msg.get("Result") == "Success")]

    def _on_hold(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch = self._touch(msg)
        if ch is None or is_local(ch.name):
            return []
        on_hold = msg.event == "Hold"
        if ch.on_hold is on_hold:
            return []
        ch.on_hold = on_hold
        return [HoldChanged(at=at, uniqueid=ch.uniqueid, channel=ch.name, on_hold=on_hold)]

    def _on_moh(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch = self._touch(msg)
        if ch is not None:
            ch.moh_class = (msg.get("Class") or "") if msg.event == "MusicOnHoldStart" else None
        return []

    def _on_chanspy(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        spyer_uid, spyer = msg.get("SpyerUniqueid"), msg.get("SpyerChannel")
        if not spyer_uid or not spyer:
            return []
        active = msg.event == "ChanSpyStart"
        ch = self._channels.get(spyer_uid)
        if ch is not None:
            ch.spying = ch.spying or active
            ch.was_connected = ch.was_connected or active
        return [SpyChanged(at=at, spyer_uniqueid=spyer_uid, spyer_channel=spyer,
                           spyee_channel=msg.get("SpyeeChannel") or "", active=active)]

    def _on_mixmonitor(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch = self._touch(msg)
        uid, name = msg.get("Uniqueid"), msg.get("Channel")
        if not uid or not name:
            return []
        if msg.event == "MixMonitorStart":
            state = "started"
        elif msg.event == "MixMonitorStop":
            state = "stopped"
        else:
            mute = {"1": "muted", "0": "unmuted"}.get(msg.get("State") or "")
            if mute is None:
                return []
            state = mute
        mixmonitor_id = msg.get("MixMonitorID") or (ch.variables.get(MIXMONITOR_ID_VARIABLE) if ch else None)
        return [RecordingChanged(at=at, uniqueid=uid, channel=name, state=state, mixmonitor_id=mixmonitor_id)]

    def _on_device_state(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        device, state = msg.get("Device"), msg.get("State")
        if not device or not state or (device not in self.agent_devices and device not in self.spy_devices):
            return []
        return [DeviceState(at=at, device=device, state=state)]

    def _on_queue_caller(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        ch = self._touch(msg)
        if ch is not None:
            ch.app_queue = (msg.get("Queue") or "") if msg.event == "QueueCallerJoin" else None
        return []

    def _on_shutdown(self, msg: AmiMessage, at: float | None) -> list[Signal]:
        restart = (msg.get("Restart") or "").lower() == "true"
        return self.reset("asterisk restart" if restart else "asterisk shutdown", at)
