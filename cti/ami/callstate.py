"""The call state of one Asterisk: its live channels and bridges, and what follows from them.

``CallState`` owns the tables the tracker folds events into (channels by Uniqueid and by name,
bridge members in order of entry, the caller/agent pairs already reported), their read-only
views, and the rules that do not depend on which event arrived: a channel's role, what two
channels sharing a bridge mean for the call, and how a resynced channel is classified. The
event handlers are ``CallTracker``'s (``tracker.py``). Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from types import MappingProxyType

from cti.ami.channels import BridgeView, ChannelView, LiveChannel, clean, device_of, is_local, local_partner
from cti.ami.frames import AmiMessage
from cti.ami.signals import CallerWaiting, Connected, OutboundConnected, Signal

__all__ = ["CallState"]


class CallState:
    """Channels, bridges and pairings, with the rules that read them (``CallTracker`` folds into it)."""

    def __init__(self, *, hold_context: str = "cti-hold", agent_devices: Collection[str] = (),
                 spy_devices: Collection[str] = ()) -> None:
        self.hold_context = hold_context
        self.agent_devices = frozenset(agent_devices)
        self.spy_devices = frozenset(spy_devices)
        self._channels: dict[str, LiveChannel] = {}
        self._by_name: dict[str, str] = {}
        # dict as an ordered set: signals come out in order of entry, deterministically.
        self._bridges: dict[str, dict[str, None]] = {}
        self._paired: set[tuple[str, str]] = set()

    # ---------------------------------------------------------------- read-only accessors

    def channel(self, uniqueid: str) -> ChannelView | None:
        ch = self._channels.get(uniqueid)
        return None if ch is None else self._view(ch)

    def channel_by_name(self, name: str) -> ChannelView | None:
        uid = self._by_name.get(name)
        return None if uid is None else self.channel(uid)

    def channels(self) -> tuple[ChannelView, ...]:
        return tuple(self._view(ch) for ch in self._channels.values())

    def channels_on(self, device: str) -> tuple[ChannelView, ...]:
        """The live channels on an endpoint device (``PJSIP/agent1``), oldest first."""
        return tuple(self._view(ch) for ch in self._channels.values() if device_of(ch.name) == device)

    def callers(self) -> tuple[ChannelView, ...]:
        return tuple(self._view(ch) for ch in self._channels.values() if ch.is_caller)

    def bridge_of(self, uniqueid: str) -> BridgeView | None:
        ch = self._channels.get(uniqueid)
        if ch is None or ch.bridge_id is None or ch.bridge_id not in self._bridges:
            return None
        return BridgeView(ch.bridge_id, tuple(self._bridges[ch.bridge_id]))

    def bridges(self) -> tuple[BridgeView, ...]:
        return tuple(BridgeView(b, tuple(m)) for b, m in self._bridges.items())

    def role_of(self, uniqueid: str) -> str | None:
        ch = self._channels.get(uniqueid)
        return None if ch is None else self._role(ch)

    # ---------------------------------------------------------------- internals: state

    def _clear(self) -> None:
        self._channels.clear()
        self._by_name.clear()
        self._bridges.clear()
        self._paired.clear()

    def _role(self, ch: LiveChannel) -> str:
        if is_local(ch.name):
            return "local"
        if ch.is_caller:
            return "caller"
        device = device_of(ch.name)
        if device in self.agent_devices:
            return "agent"
        if ch.spying or device in self.spy_devices:
            return "spy"
        return "other"

    def _view(self, ch: LiveChannel) -> ChannelView:
        return ChannelView(
            uniqueid=ch.uniqueid, name=ch.name, device=device_of(ch.name), role=self._role(ch),
            linkedid=ch.linkedid, state=ch.state, caller_num=ch.caller_num, caller_name=ch.caller_name,
            connected_num=ch.connected_num, connected_name=ch.connected_name, context=ch.context,
            exten=ch.exten, application=ch.application, bridge_id=ch.bridge_id, on_hold=bool(ch.on_hold),
            music_on_hold=ch.moh_class is not None, variables=MappingProxyType(dict(ch.variables)),
            did=ch.did, queue=ch.queue, ivr=MappingProxyType(dict(ch.ivr)), app_queue=ch.app_queue,
        )

    def _known(self, msg: AmiMessage) -> LiveChannel | None:
        uid = msg.get("Uniqueid")
        return None if not uid else self._channels.get(uid)

    def _add(self, uid: str, name: str) -> LiveChannel:
        ch = LiveChannel(uniqueid=uid, name=name)
        self._channels[uid] = ch
        self._by_name[name] = uid
        return ch

    def _update(self, ch: LiveChannel, msg: AmiMessage) -> None:
        """Copy the channel snapshot headers every channel event carries."""
        for key, attr in (("Linkedid", "linkedid"), ("ChannelStateDesc", "state"),
                          ("CallerIDNum", "caller_num"), ("CallerIDName", "caller_name"),
                          ("ConnectedLineNum", "connected_num"), ("ConnectedLineName", "connected_name"),
                          ("Context", "context"), ("Exten", "exten")):
            value = msg.get(key)
            if value is not None:
                setattr(ch, attr, value)
        name = msg.get("Channel")
        if name and name != ch.name:  # a masquerade renamed it
            self._by_name.pop(ch.name, None)
            ch.name = name
            self._by_name[name] = ch.uniqueid

    def _touch(self, msg: AmiMessage) -> LiveChannel | None:
        ch = self._known(msg)
        if ch is not None:
            self._update(ch, msg)
        return ch

    def _load_channel(self, msg: AmiMessage) -> LiveChannel | None:
        uid, name = msg.get("Uniqueid"), msg.get("Channel")
        if not uid or not name:
            return None
        ch = self._channels.get(uid) or self._add(uid, name)
        ch.on_hold = None
        for key, attr in (("Linkedid", "linkedid"), ("ChannelStateDesc", "state"),
                          ("CallerIDNum", "caller_num"), ("CallerIDName", "caller_name"),
                          ("ConnectedLineNum", "connected_num"), ("ConnectedLineName", "connected_name"),
                          ("Context", "context"), ("Exten", "exten"), ("DNID", "did")):
            value = msg.get(key)
            if value and not getattr(ch, attr):
                setattr(ch, attr, value)
        application = clean(msg.get("Application"))
        if application and not ch.application:
            ch.application = application
            ch.app_data = clean(msg.get("ApplicationData", msg.get("Data")))
            if application == "MusicOnHold":
                ch.moh_class = ch.app_data.split(",", 1)[0]
        bridge_id = msg.get("BridgeId") or msg.get("BridgeID")
        if bridge_id and ch.bridge_id is None:
            ch.bridge_id = bridge_id
        return ch

    def _classify_resynced(self, ch: LiveChannel) -> None:
        if is_local(ch.name):
            return
        v = ch.variables
        if ch.context == self.hold_context or v.get("CTI_ACCOUNT") or v.get("CTI_QUEUE"):
            ch.is_caller = True
            ch.queue = v.get("CTI_QUEUE", "")
            ch.ivr = {key: v[var] for key, var in (("account", "CTI_ACCOUNT"), ("reason", "CTI_REASON"))
                      if v.get(var)}

    def _caller_waiting(self, ch: LiveChannel, at: float | None, *, requeued: bool,
                        resynced: bool) -> CallerWaiting:
        return CallerWaiting(at=at, uniqueid=ch.uniqueid, channel=ch.name, linkedid=ch.linkedid,
                             caller_num=ch.caller_num, caller_name=ch.caller_name, did=ch.did,
                             queue=ch.queue, context=dict(ch.ivr), requeued=requeued,
                             resynced=resynced)

    def _pair(self, a: LiveChannel, b: LiveChannel, bridge_id: str, at: float | None, *,
              resynced: bool = False) -> list[Signal]:
        """Two channels now share a bridge: what that means for the call."""
        if is_local(a.name) or is_local(b.name) or a.uniqueid == b.uniqueid:
            return []
        a.was_connected = b.was_connected = True
        key = (min(a.uniqueid, b.uniqueid), max(a.uniqueid, b.uniqueid))
        if key in self._paired:
            return []
        roles = {self._role(a): a, self._role(b): b}
        agent = roles.get("agent")
        if agent is None:
            return []
        other = b if agent is a else a
        role = self._role(other)
        self._paired.add(key)
        device = device_of(agent.name)
        if role == "caller":
            return [Connected(at=at, caller_uniqueid=other.uniqueid, caller_channel=other.name,
                              agent_uniqueid=agent.uniqueid, agent_channel=agent.name, device=device,
                              bridge_id=bridge_id, resynced=resynced)]
        if role == "other":
            return [OutboundConnected(at=at, agent_uniqueid=agent.uniqueid, agent_channel=agent.name,
                                      device=device, party_uniqueid=other.uniqueid, party_channel=other.name,
                                      party_num=other.caller_num, bridge_id=bridge_id, resynced=resynced)]
        return []

    def _enter(self, ch: LiveChannel, bridge_id: str, at: float | None) -> list[Signal]:
        members = self._bridges.setdefault(bridge_id, {})
        if ch.bridge_id is not None and ch.bridge_id != bridge_id:
            self._bridges.get(ch.bridge_id, {}).pop(ch.uniqueid, None)
        ch.bridge_id = bridge_id
        signals: list[Signal] = []
        for uid in members:
            other = self._channels.get(uid)
            if other is not None:
                signals.extend(self._pair(ch, other, bridge_id, at))
        members[ch.uniqueid] = None
        return signals

    def _leave(self, ch: LiveChannel, bridge_id: str) -> None:
        self._bridges.get(bridge_id, {}).pop(ch.uniqueid, None)
        if ch.bridge_id == bridge_id:
            ch.bridge_id = None

    def _agents_with(self, bridge_id: str, exclude: Iterable[str], seen: set[str]) -> list[LiveChannel]:
        """Agent legs in a bridge, looking through Local pairs to the bridge on their far side."""
        if bridge_id in seen:
            return []
        seen.add(bridge_id)
        found: list[LiveChannel] = []
        skip = set(exclude)
        for uid in self._bridges.get(bridge_id, {}):
            ch = self._channels.get(uid)
            if ch is None or uid in skip:
                continue
            if self._role(ch) == "agent":
                found.append(ch)
            elif is_local(ch.name):
                partner_name = local_partner(ch.name)
                partner_uid = self._by_name.get(partner_name) if partner_name else None
                partner = self._channels.get(partner_uid) if partner_uid else None
                if partner is not None and partner.bridge_id is not None:
                    found.extend(self._agents_with(partner.bridge_id, skip, seen))
        return found
