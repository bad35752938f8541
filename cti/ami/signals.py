"""What the call tracker tells the bridge: call facts folded from AMI events (pure data).

The tracker (``cti.ami.tracker``) turns raw AMI events into these; the bridge
(``cti.ami.bridge``) turns these into interaction life-cycle steps. Times are Asterisk's event
``Timestamp`` (epoch seconds) when the event has one, else None.

Parties: a *caller* is a channel that reached the holding context (``UserEvent CtiQueued``) or
that the resync found in it; an *agent leg* is a channel on an agent's endpoint device
(``PJSIP/agent1-0000002a`` is on device ``PJSIP/agent1``); a *spy* is a supervisor's ChanSpy leg.
Local channels are plumbing and never parties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CallerWaiting:
    """A caller is in the holding context, waiting for the CTI to pick an agent."""

    at: float | None
    uniqueid: str
    channel: str
    linkedid: str
    caller_num: str
    caller_name: str
    did: str  # the number dialled (the trunk extension)
    queue: str
    context: Mapping[str, str] = field(default_factory=dict)  # IVR answers, e.g. account, reason
    requeued: bool = False  # back on hold after a transfer to a queue
    resynced: bool = False  # found by a resync, not seen arriving


@dataclass(frozen=True, slots=True)
class CallerFallback:
    """The hold timed out (or the CTI was away): the dial plan sent the caller to an Asterisk queue."""

    at: float | None
    uniqueid: str
    channel: str
    queue: str
    why: str = ""  # timeout, offline or server (CtiFallback's Why); "" after a resync


@dataclass(frozen=True, slots=True)
class AgentLegCreated:
    """A channel appeared on an agent's device (an Originate ringing the agent, or a Dial)."""

    at: float | None
    uniqueid: str
    channel: str
    device: str  # e.g. PJSIP/agent1
    # The call it belongs to: its own Uniqueid for an Originate, the caller's Linkedid for a leg
    # a transfer or the fallback queue dials (live2/blind_transfer_target_rings).
    linkedid: str = ""


@dataclass(frozen=True, slots=True)
class Connected:
    """A caller and an agent leg are in the same bridge: the agent is talking to the caller."""

    at: float | None
    caller_uniqueid: str
    caller_channel: str
    agent_uniqueid: str
    agent_channel: str
    device: str
    bridge_id: str
    resynced: bool = False


@dataclass(frozen=True, slots=True)
class OutboundConnected:
    """An agent leg and a party that is not a caller are in the same bridge.

    The click-to-dial case: the agent's originated leg dialled the customer and the customer
    answered. ``party_num`` is the other party's CallerIDNum, which for a dialled channel is the
    number dialled.
    """

    at: float | None
    agent_uniqueid: str
    agent_channel: str
    device: str
    party_uniqueid: str
    party_channel: str
    party_num: str
    bridge_id: str
    resynced: bool = False


@dataclass(frozen=True, slots=True)
class HoldChanged:
    """A party put the call on hold or resumed it (Hold/Unhold on the channel)."""

    at: float | None
    uniqueid: str
    channel: str
    on_hold: bool


@dataclass(frozen=True, slots=True)
class Transferred:
    """Asterisk reports a completed transfer of a caller.

    ``kind`` is "blind" or "attended"; ``target`` is the extension@context (blind) or the device
    of the agent the caller ends up with (attended, once known), else "".
    """

    at: float | None
    kind: str
    caller_uniqueid: str
    transferer_channel: str
    target: str
    success: bool


@dataclass(frozen=True, slots=True)
class SpyChanged:
    """A supervisor's ChanSpy leg started or stopped listening to an agent's channel."""

    at: float | None
    spyer_uniqueid: str
    spyer_channel: str
    spyee_channel: str
    active: bool


@dataclass(frozen=True, slots=True)
class RecordingChanged:
    """MixMonitor on a channel: state is "started", "muted", "unmuted" or "stopped"."""

    at: float | None
    uniqueid: str
    channel: str
    state: str
    mixmonitor_id: str | None = None


@dataclass(frozen=True, slots=True)
class HungUp:
    """A party's channel is gone.

    ``role`` is "caller", "agent", "spy" or "other". ``by_party`` is True when that party's own
    phone ended it (a ``HangupRequest``), False when Asterisk ended it as a consequence.
    """

    at: float | None
    uniqueid: str
    channel: str
    role: str
    cause: int
    by_party: bool
    was_connected: bool


@dataclass(frozen=True, slots=True)
class DeviceState:
    """An endpoint device's state (``DeviceStateChange``), e.g. NOT_INUSE, INUSE, UNAVAILABLE."""

    at: float | None
    device: str
    state: str


@dataclass(frozen=True, slots=True)
class LinkReset:
    """Asterisk went away or restarted: every channel the tracker knew is unknown now."""

    at: float | None
    why: str


@dataclass(frozen=True, slots=True)
class SurveyStarted:
    """The caller reached the post-call survey (dial plan ``cti-survey``, its first step): the
    agent has hung up, the call's talk is over though the caller's channel lives on."""

    at: float | None
    uniqueid: str


@dataclass(frozen=True, slots=True)
class SurveyAnswered:
    """The caller keyed a rating in the post-call survey (``UserEvent CtiSurvey``, dial plan
    ``cti-survey``): on the caller's own channel, so its Uniqueid names the call."""

    at: float | None
    uniqueid: str
    linkedid: str
    rating: str  # as keyed; the survey service checks it is 1..5


Signal = (CallerWaiting | CallerFallback | AgentLegCreated | Connected | OutboundConnected | HoldChanged
          | Transferred | SpyChanged | RecordingChanged | HungUp | DeviceState | LinkReset | SurveyStarted
          | SurveyAnswered)
