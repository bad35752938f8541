"""Asterisk channel names, the headers every channel event carries, and the tracker's records.

What one channel is to the tracker (``LiveChannel``, mutable, private to the folding) and what it
shows of it (``ChannelView``, ``BridgeView``, read-only copies), with the helpers that read
channel names (``PJSIP/agent1-0000002a``, ``Local/…;1``) and event headers. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cti.ami.frames import AmiMessage

__all__ = ["BridgeView", "ChannelView", "LiveChannel", "clean", "device_of", "event_time", "hangup_cause",
           "is_local", "local_partner"]


def device_of(channel: str) -> str:
    """``PJSIP/agent1-0000002a`` → ``PJSIP/agent1``; a name without the sequence suffix is kept."""
    base, sep, suffix = channel.rpartition("-")
    if sep and base and len(suffix) == 8 and all(c in "0123456789abcdefABCDEF" for c in suffix):
        return base
    return channel


def is_local(channel: str) -> bool:
    return channel.startswith("Local/")


def local_partner(channel: str) -> str | None:
    """``Local/202@cti-agents-00000001;1`` ↔ ``…;2``: the two halves of one Local channel."""
    if channel.endswith(";1"):
        return channel[:-1] + "2"
    if channel.endswith(";2"):
        return channel[:-1] + "1"
    return None


def event_time(msg: AmiMessage) -> float | None:
    raw = msg.get("Timestamp")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def hangup_cause(msg: AmiMessage) -> int:
    try:
        return int(msg.get("Cause") or 0)
    except ValueError:
        return 0


def clean(value: str | None) -> str:
    # CoreShowChannel says "" and Status says "(null)" for the same empty application.
    return "" if value is None or value == "(null)" else value


@dataclass(slots=True)
class LiveChannel:
    uniqueid: str
    name: str
    linkedid: str = ""
    state: str = ""
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    context: str = ""
    exten: str = ""
    application: str = ""
    app_data: str = ""
    bridge_id: str | None = None
    on_hold: bool | None = False  # None: unknown (found by a resync)
    moh_class: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    is_caller: bool = False
    did: str = ""
    queue: str = ""
    ivr: dict[str, str] = field(default_factory=dict)
    app_queue: str | None = None
    spying: bool = False
    hangup_requested: bool = False
    was_connected: bool = False


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A read-only copy of what the tracker knows about one live channel."""

    uniqueid: str
    name: str
    device: str
    role: str  # caller, agent, spy, other, local
    linkedid: str
    state: str
    caller_num: str
    caller_name: str
    connected_num: str
    connected_name: str
    context: str
    exten: str
    application: str
    bridge_id: str | None
    on_hold: bool  # False too when unknown: a resync cannot tell
    music_on_hold: bool
    variables: Mapping[str, str]  # the CTI_* channel variables
    did: str
    queue: str  # the CTI queue (CtiQueued / CTI_QUEUE)
    ivr: Mapping[str, str]  # account, reason
    app_queue: str | None  # the app_queue queue the caller is in, after a fallback


@dataclass(frozen=True, slots=True)
class BridgeView:
    bridge_id: str
    members: tuple[str, ...]  # Uniqueids, in order of entry
