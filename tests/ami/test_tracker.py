"""The call tracker replaying the real AMI recordings of ``tests/fixtures/ami``.

Each scenario's expectations follow the README's "Derive" paragraph; times are the events'
``Timestamp`` values as they appear in the files (not the recordings' ``t``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from cti.ami.channels import device_of
from cti.ami.frames import AmiMessage
from cti.ami.signals import (
    AgentLegCreated,
    CallerFallback,
    CallerWaiting,
    Connected,
    DeviceState,
    HoldChanged,
    HungUp,
    LinkReset,
    OutboundConnected,
    RecordingChanged,
    Signal,
    SpyChanged,
    Transferred,
)
from cti.ami.tracker import CallTracker
from tests.ami.recordings import load, scenario_names

AGENTS = ("PJSIP/agent1", "PJSIP/agent2", "PJSIP/agent3")
SPIES = ("PJSIP/super1",)


def tracker() -> CallTracker:
    return CallTracker(agent_devices=AGENTS, spy_devices=SPIES)


def replay(name: str, t: CallTracker | None = None) -> tuple[CallTracker, list[Signal]]:
    t = t or tracker()
    signals: list[Signal] = []
    for msg in load(name).events():
        signals.extend(t.feed(msg))
    return t, signals


def replay_until(name: str, stop: Callable[[AmiMessage], bool]) -> tuple[CallTracker, list[Signal]]:
    """Feed events up to and including the first one ``stop`` accepts."""
    t = tracker()
    signals: list[Signal] = []
    for msg in load(name).events():
        signals.extend(t.feed(msg))
        if stop(msg):
            return t, signals
    raise AssertionError("stop event not found")


def call_signals(signals: list[Signal]) -> list[Signal]:
    return [s for s in signals if not isinstance(s, DeviceState)]


def brief(s: Signal) -> tuple[Any, ...]:
    """The facts of a signal that a scenario is about, in a form a test can spell out."""
    if isinstance(s, CallerWaiting):
        return ("waiting", s.channel, s.caller_num, dict(s.context), s.queue, s.did, s.requeued, s.resynced)
    if isinstance(s, CallerFallback):
        return ("fallback", s.channel, s.queue)
    if isinstance(s, AgentLegCreated):
        return ("leg", s.channel, s.device)
    if isinstance(s, Connected):
        return ("connected", s.caller_channel, s.agent_channel, s.device, s.bridge_id)
    if isinstance(s, OutboundConnected):
        return ("outbound", s.agent_channel, s.party_channel, s.party_num, s.bridge_id)
    if isinstance(s, HoldChanged):
        return ("hold" if s.on_hold else "unhold", s.channel)
    if isinstance(s, Transferred):
        return ("transferred", s.kind, s.transferer_channel, s.target, s.success)
    if isinstance(s, SpyChanged):
        return ("spy-start" if s.active else "spy-stop", s.spyer_channel, s.spyee_channel)
    if isinstance(s, RecordingChanged):
        return ("recording", s.channel, s.state, s.mixmonitor_id)
    if isinstance(s, HungUp):
        return ("hungup", s.channel, s.role, s.cause, s.by_party, s.was_connected)
    if isinstance(s, DeviceState):
        return ("device", s.device, s.state)
    return ("reset", s.why)


def ats(signals: Sequence[Signal]) -> list[float | None]:
    return [s.at for s in signals]


def parties(s: Signal) -> Iterator[str]:
    for name in ("channel", "caller_channel", "agent_channel", "party_channel", "spyer_channel",
                 "spyee_channel", "transferer_channel"):
        value = getattr(s, name, None)
        if isinstance(value, str):
            yield value


# ---------------------------------------------------------------- every scenario


SCENARIO_TESTS = {
    "login_and_fullybooted", "inbound_ivr_hold_abandon", "inbound_hold_originate_bridge",
    "inbound_hold_ami_bridge", "originate_agent_no_answer_then_other", "blind_transfer_to_agent",
    "attended_transfer_complete", "hold_resume", "chanspy_listen", "chanspy_whisper", "chanspy_barge",
    "mixmonitor_mute_resume", "fallback_queue_answered", "fallback_queue_abandon", "click_to_dial",
    "resync_snapshot", "asterisk_restart",
}


def test_every_recording_has_its_scenario_test() -> None:
    assert set(scenario_names()) == SCENARIO_TESTS


@pytest.mark.parametrize("name", scenario_names())
def test_replay_invariants(name: str) -> None:
    t, signals = replay(name)
    calls = call_signals(signals)
    # Local channels are plumbing, never parties.
    assert not [s for s in signals if any(p.startswith("Local/") for p in parties(s))]
    # Call signals come out in Asterisk's time order.
    times = [s.at for s in calls if s.at is not None]
    assert times == sorted(times)
    # Every call ends in the recording: nothing is left behind.
    assert t.channels() == () and t.bridges() == ()
    # A caller and an agent leg are reported connected once.
    pairs = [(s.caller_uniqueid, s.agent_uniqueid) for s in calls if isinstance(s, Connected)]
    assert len(pairs) == len(set(pairs))
    # Only the configured agent and supervisor devices are reported.
    assert {s.device for s in signals if isinstance(s, DeviceState)} <= {*AGENTS, *SPIES}


@pytest.mark.parametrize("name", scenario_names())
def test_malformed_events_are_ignored_never_raise(name: str) -> None:
    t = tracker()
    for msg in load(name).events():
        for i in range(len(msg.headers)):
            t.feed(AmiMessage(msg.headers[:i] + msg.headers[i + 1:]))  # each header missing in turn
        t.feed(AmiMessage(tuple((k, "") for k, _ in msg.headers)))  # every value empty
        t.feed(AmiMessage(tuple((k, "x" if k != "Event" else v) for k, v in msg.headers)))
        t.feed(msg)


def test_responses_and_unknown_events_give_nothing() -> None:
    t = tracker()
    for msg in load("login_and_fullybooted").messages():
        assert t.feed(msg) == []
    for msg in load("inbound_ivr_hold_abandon").events():
        if msg.event in {"RTCPSent", "DTMFEnd", "Newexten", "QueueMemberStatus", "SuccessfulAuth"}:
            assert t.feed(msg) == []


# ---------------------------------------------------------------- scenario by scenario


def test_login_and_fullybooted_no_call() -> None:
    t, signals = replay("login_and_fullybooted")
    assert signals == [] and t.callers() == ()


def test_inbound_ivr_hold_abandon() -> None:
    _, signals = replay("inbound_ivr_hold_abandon")
    assert call_signals(signals) == [
        CallerWaiting(at=1795460307.513061, uniqueid="refpbx-1795460304.0", channel="PJSIP/sipp-00000000",
                      linkedid="refpbx-1795460304.0", caller_num="0601000001", caller_name="0601000001",
                      did="8000", queue="support", context={"account": "12345", "reason": "2"}),
        HungUp(at=1795460315.826175, uniqueid="refpbx-1795460304.0", channel="PJSIP/sipp-00000000",
               role="caller", cause=0, by_party=True, was_connected=False),
    ]
    assert not [s for s in signals if isinstance(s, Connected | AgentLegCreated)]


def test_inbound_ivr_caller_view_while_waiting() -> None:
    t, _ = replay_until("inbound_ivr_hold_abandon", lambda m: m.event == "MusicOnHoldStart")
    (caller,) = t.callers()
    assert caller == t.channel("refpbx-1795460304.0") == t.channel_by_name("PJSIP/sipp-00000000")
    assert (caller.role, caller.device, caller.context, caller.did, caller.queue) == (
        "caller", "PJSIP/sipp", "cti-hold", "8000", "support")
    assert dict(caller.ivr) == {"account": "12345", "reason": "2"}
    assert dict(caller.variables) == {"CTI_HOLD_SECS": "60", "CTI_ACCOUNT": "12345", "CTI_REASON": "2",
                                      "CTI_QUEUE": "support"}
    assert caller.music_on_hold and caller.application == "MusicOnHold" and not caller.on_hold
    assert t.bridge_of(caller.uniqueid) is None
    with pytest.raises(TypeError):
        caller.variables["CTI_ACCOUNT"] = "x"  # type: ignore[index]


def test_inbound_hold_originate_bridge() -> None:
    _, signals = replay("inbound_hold_originate_bridge")
    calls = call_signals(signals)
    bridge = "4c29ba27-98d7-4ddb-95c0-b2a7edb4f8b6"
    assert [brief(s) for s in calls] == [
        ("waiting", "PJSIP/sipp-00000001", "0601000002", {"account": "20002", "reason": "1"}, "support",
         "8000", False, False),
        ("leg", "PJSIP/agent1-00000002", "PJSIP/agent1"),
        ("connected", "PJSIP/sipp-00000001", "PJSIP/agent1-00000002", "PJSIP/agent1", bridge),
        ("hungup", "PJSIP/agent1-00000002", "agent", 16, True, True),
        ("hungup", "PJSIP/sipp-00000001", "caller", 16, False, True),
    ]
    assert ats(calls) == [1795460323.068901, 1795460325.071785, 1795460326.580543, 1795460329.586512,
                          1795460329.587647]
    connected = calls[2]
    assert isinstance(connected, Connected)
    assert (connected.caller_uniqueid, connected.agent_uniqueid) == ("refpbx-1795460320.1",
                                                                     "refpbx-1795460325.2")
    assert [brief(s) for s in signals if isinstance(s, DeviceState)] == [
        ("device", "PJSIP/agent1", "RINGING"), ("device", "PJSIP/agent1", "INUSE"),
        ("device", "PJSIP/agent1", "NOT_INUSE")]


def test_inbound_hold_originate_bridge_state_while_talking() -> None:
    t, _ = replay_until("inbound_hold_originate_bridge",
                        lambda m: m.event == "BridgeEnter" and m.get("Channel") == "PJSIP/agent1-00000002")
    bridge = t.bridge_of("refpbx-1795460320.1")
    assert bridge is not None and bridge == t.bridge_of("refpbx-1795460325.2")
    assert (bridge.bridge_id, bridge.members) == ("4c29ba27-98d7-4ddb-95c0-b2a7edb4f8b6",
                                                  ("refpbx-1795460320.1", "refpbx-1795460325.2"))
    agent = t.channel("refpbx-1795460325.2")
    assert agent is not None
    # The originated leg takes the caller's Linkedid once bridged.
    assert (agent.role, agent.linkedid, agent.context) == ("agent", "refpbx-1795460320.1", "cti-connect")
    assert dict(agent.variables) == {"CTI_CALLER": "PJSIP/sipp-00000001"}
    assert [c.uniqueid for c in t.channels_on("PJSIP/agent1")] == ["refpbx-1795460325.2"]
    caller = t.channel("refpbx-1795460320.1")
    assert caller is not None and caller.context == "cti-hold"  # Bridge() keeps the hold context


def test_inbound_hold_ami_bridge() -> None:
    _, signals = replay("inbound_hold_ami_bridge")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == [
        ("waiting", "PJSIP/sipp-00000003", "0601000003", {"account": "30003", "reason": "3"}, "support",
         "8000", False, False),
        ("leg", "PJSIP/agent1-00000004", "PJSIP/agent1"),
        ("connected", "PJSIP/sipp-00000003", "PJSIP/agent1-00000004", "PJSIP/agent1",
         "88037370-a64e-4225-9d94-57ff451dd045"),
        ("hungup", "PJSIP/agent1-00000004", "agent", 16, True, True),
        ("hungup", "PJSIP/sipp-00000003", "caller", 16, False, True),
    ]
    assert ats(calls) == [1795460336.841084, 1795460338.843427, 1795460340.853792, 1795460345.360107,
                          1795460345.360117]


def test_originate_agent_no_answer_then_other() -> None:
    _, signals = replay("originate_agent_no_answer_then_other")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == [
        ("waiting", "PJSIP/sipp-00000005", "0601000004", {"account": "40004", "reason": "1"}, "support",
         "8000", False, False),
        ("leg", "PJSIP/agent3-00000006", "PJSIP/agent3"),
        ("hungup", "PJSIP/agent3-00000006", "agent", 19, False, False),  # never answered
        ("leg", "PJSIP/agent2-00000007", "PJSIP/agent2"),
        ("connected", "PJSIP/sipp-00000005", "PJSIP/agent2-00000007", "PJSIP/agent2",
         "4d3b52c2-954a-4577-b26a-7a7de043f773"),
        ("hungup", "PJSIP/agent2-00000007", "agent", 16, True, True),
        ("hungup", "PJSIP/sipp-00000005", "caller", 16, False, True),
    ]
    assert ats(calls) == [1795460352.608734, 1795460354.112109, 1795460362.121203, 1795460363.124295,
                          1795460365.135152, 1795460368.143796, 1795460368.144025]


def test_originate_no_answer_leaves_the_caller_waiting() -> None:
    t, _ = replay_until("originate_agent_no_answer_then_other", lambda m: m.event == "Hangup")
    (caller,) = t.callers()
    assert caller.name == "PJSIP/sipp-00000005" and caller.bridge_id is None and caller.music_on_hold
    assert t.channels_on("PJSIP/agent3") == ()


def test_blind_transfer_to_agent() -> None:
    _, signals = replay("blind_transfer_to_agent")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == [
        ("waiting", "PJSIP/sipp-00000008", "0601000005", {"account": "50005", "reason": "2"}, "support",
         "8000", False, False),
        ("leg", "PJSIP/agent1-00000009", "PJSIP/agent1"),
        ("connected", "PJSIP/sipp-00000008", "PJSIP/agent1-00000009", "PJSIP/agent1",
         "7ca7cb6a-2115-47a7-8de7-6a8670966d16"),
        # The Unhold Asterisk sends on agent1 before the transfer is no change: not reported.
        ("transferred", "blind", "PJSIP/agent1-00000009", "202@cti-agents", True),
        ("hungup", "PJSIP/agent1-00000009", "agent", 16, False, True),  # Asterisk hung agent1 up
        ("leg", "PJSIP/agent2-0000000a", "PJSIP/agent2"),
        ("connected", "PJSIP/sipp-00000008", "PJSIP/agent2-0000000a", "PJSIP/agent2",
         "4e030da7-032a-41f3-86ea-c7038cd6d4e2"),
        ("hungup", "PJSIP/agent2-0000000a", "agent", 16, True, True),
        ("hungup", "PJSIP/sipp-00000008", "caller", 16, False, True),
    ]
    assert ats(calls) == [1795460375.396841, 1795460376.900494, 1795460377.910895, 1795460380.916282,
                          1795460380.917952, 1795460380.919537, 1795460382.926766, 1795460385.93598,
                          1795460385.936236]
    transferred = calls[3]
    assert isinstance(transferred, Transferred) and transferred.caller_uniqueid == "refpbx-1795460372.12"


def test_blind_transfer_the_context_follows_the_caller() -> None:
    t, _ = replay_until("blind_transfer_to_agent",
                        lambda m: m.event == "BridgeEnter" and m.get("Channel") == "PJSIP/sipp-00000008"
                        and m.get("BridgeUniqueid", "").startswith("4e030da7"))
    (caller,) = t.callers()
    assert caller.uniqueid == "refpbx-1795460372.12"  # the same channel through the transfer
    assert (caller.context, caller.did, dict(caller.ivr)) == ("cti-agents", "8000",
                                                               {"account": "50005", "reason": "2"})


ATTENDED_BRIEF = [
    ("waiting", "PJSIP/sipp-0000000f", "0601000006", {"account": "60006", "reason": "3"}, "support", "8000",
     False, False),
    ("leg", "PJSIP/agent1-00000010", "PJSIP/agent1"),
    ("connected", "PJSIP/sipp-0000000f", "PJSIP/agent1-00000010", "PJSIP/agent1",
     "1a823f8a-9836-41a2-b10f-b5bcbfd8802e"),
    ("hold", "PJSIP/agent1-00000010"),  # the Atxfer holds the transferer; no Unhold ever follows
    ("leg", "PJSIP/agent2-00000011", "PJSIP/agent2"),
    ("transferred", "attended", "PJSIP/agent1-00000010", "PJSIP/agent2", True),
    ("hungup", "PJSIP/agent1-00000010", "agent", 16, True, True),
    ("connected", "PJSIP/sipp-0000000f", "PJSIP/agent2-00000011", "PJSIP/agent2",
     "f5149b8e-56c1-4154-8b1c-c29db915f17c"),
    ("hungup", "PJSIP/agent2-00000011", "agent", 16, True, True),
    ("hungup", "PJSIP/sipp-0000000f", "caller", 16, False, True),
]


def test_attended_transfer_complete() -> None:
    _, signals = replay("attended_transfer_complete")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == ATTENDED_BRIEF
    assert ats(calls) == [1795460737.824803, 1795460739.328972, 1795460740.339561, 1795460743.589838,
                          1795460743.727624, 1795460751.346818, 1795460751.348757, 1795460751.603518,
                          1795460755.746531, 1795460755.74756]
    callers = {s.caller_uniqueid for s in calls if isinstance(s, Connected | Transferred)}
    assert callers == {"refpbx-1795460734.23"}


def test_attended_transfer_consultation_state() -> None:
    local2 = "Local/202@cti-agents-00000001;2"
    t, _ = replay_until("attended_transfer_complete",
                        lambda m: m.event == "BridgeEnter" and m.get("Channel") == local2)
    caller = t.channel("refpbx-1795460734.23")
    agent1 = t.channel_by_name("PJSIP/agent1-00000010")
    assert caller is not None and agent1 is not None
    assert caller.music_on_hold and agent1.on_hold
    assert t.role_of("refpbx-1795460743.26") == "local"
    consult = t.bridge_of(agent1.uniqueid)
    assert consult is not None and consult.bridge_id.startswith("b04e2b9d")
    assert consult.members == ("refpbx-1795460743.26", "refpbx-1795460739.24")


def _mirrored_optimisation() -> list[AmiMessage]:
    """The same recording with the other optimisation direction, which README says also happens.

    Built from the file's own events: from ``LocalOptimizationBegin`` on, the caller's move into
    agent2's bridge becomes agent2's move into the caller's bridge (agent2's own BridgeLeave and
    BridgeEnter frames), and the two bridge ids swap roles in the events of the non-Local parties.
    """
    events = list(load("attended_transfer_complete").events())
    caller_bridge = "1a823f8a-9836-41a2-b10f-b5bcbfd8802e"
    agent2_bridge = "f5149b8e-56c1-4154-8b1c-c29db915f17c"
    swap = {caller_bridge: agent2_bridge, agent2_bridge: caller_bridge}
    agent2 = "PJSIP/agent2-00000011"
    enter = next(m for m in events if m.event == "BridgeEnter" and m.get("Channel") == agent2)
    leave = next(m for m in events if m.event == "BridgeLeave" and m.get("Channel") == agent2)

    def edited(msg: AmiMessage, **values: str) -> AmiMessage:
        return AmiMessage(tuple((k, values.get(k, v)) for k, v in msg.headers))

    out: list[AmiMessage] = []
    optimising = False
    for msg in events:
        optimising = optimising or msg.event == "LocalOptimizationBegin"
        bridge, channel = msg.get("BridgeUniqueid"), msg.get("Channel") or ""
        stamp = msg.get("Timestamp") or ""
        if not optimising or bridge not in swap or channel.startswith("Local/"):
            out.append(msg)
        elif channel == "PJSIP/sipp-0000000f" and msg.event == "BridgeLeave" and bridge == caller_bridge:
            out.append(edited(leave, BridgeUniqueid=agent2_bridge, Timestamp=stamp))
        elif channel == "PJSIP/sipp-0000000f" and msg.event == "BridgeEnter":
            out.append(edited(enter, BridgeUniqueid=caller_bridge, Timestamp=stamp))
        else:
            out.append(edited(msg, BridgeUniqueid=swap[bridge]))
    return out


def test_attended_transfer_either_optimisation_direction() -> None:
    t = tracker()
    signals = [s for msg in _mirrored_optimisation() for s in t.feed(msg)]
    calls = call_signals(signals)
    expected = [*ATTENDED_BRIEF]
    expected[7] = ("connected", "PJSIP/sipp-0000000f", "PJSIP/agent2-00000011", "PJSIP/agent2",
                   "1a823f8a-9836-41a2-b10f-b5bcbfd8802e")
    assert [brief(s) for s in calls] == expected
    assert t.channels() == () and t.bridges() == ()


def test_hold_resume() -> None:
    _, signals = replay("hold_resume")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == [
        ("waiting", "PJSIP/sipp-0000000e", "0601000007", {"account": "70007", "reason": "4"}, "support",
         "8000", False, False),
        ("leg", "PJSIP/agent1-0000000f", "PJSIP/agent1"),
        ("connected", "PJSIP/sipp-0000000e", "PJSIP/agent1-0000000f", "PJSIP/agent1",
         "f0cb2295-82f9-4115-8f46-a779a1f4c434"),
        ("hold", "PJSIP/agent1-0000000f"),
        ("unhold", "PJSIP/agent1-0000000f"),
        ("hungup", "PJSIP/agent1-0000000f", "agent", 16, True, True),
        ("hungup", "PJSIP/sipp-0000000e", "caller", 16, False, True),
    ]
    assert ats(calls)[2:5] == [1795460443.434903, 1795460445.94176, 1795460449.945357]


@pytest.mark.parametrize(("name", "caller", "account", "agent", "spy", "start", "stop"), [
    ("chanspy_listen", "0601000008", "80008", "PJSIP/agent1-00000011", "PJSIP/super1-00000012",
     1795460465.846651, 1795460469.759672),
    ("chanspy_whisper", "0601000009", "90009", "PJSIP/agent1-00000014", "PJSIP/super1-00000015",
     1795460488.627192, 1795460492.55217),
    ("chanspy_barge", "0601000010", "10010", "PJSIP/agent1-00000017", "PJSIP/super1-00000018",
     1795460511.406959, 1795460515.338834),
])
def test_chanspy(name: str, caller: str, account: str, agent: str, spy: str, start: float,
                 stop: float) -> None:
    _, signals = replay(name)
    calls = call_signals(signals)
    kinds = [brief(s)[0] for s in calls]
    assert kinds == ["waiting", "leg", "connected", "spy-start", "spy-stop", "hungup", "hungup", "hungup"]
    waiting, _, connected, spy_start, spy_stop, spy_gone, agent_gone, caller_gone = calls
    assert isinstance(waiting, CallerWaiting)
    assert (waiting.caller_num, dict(waiting.context)) == (caller, {"account": account, "reason": "5"})
    assert brief(connected)[2] == agent
    assert brief(spy_start) == ("spy-start", spy, agent) and spy_start.at == start
    assert brief(spy_stop) == ("spy-stop", spy, agent) and spy_stop.at == stop
    assert brief(spy_gone) == ("hungup", spy, "spy", 0, True, True)
    # The caller-agent call is untouched by the supervision: it ends after it, as usual.
    assert brief(agent_gone) == ("hungup", agent, "agent", 16, True, True)
    assert brief(caller_gone)[1:] == (waiting.channel, "caller", 16, False, True)
    # The supervisor's leg is no agent leg and no customer interaction.
    assert not [s for s in calls if isinstance(s, AgentLegCreated | Connected) and spy in parties(s)]
    assert ("device", "PJSIP/super1", "INUSE") in [brief(s) for s in signals]


def test_mixmonitor_mute_resume() -> None:
    _, signals = replay("mixmonitor_mute_resume")
    recording = [s for s in signals if isinstance(s, RecordingChanged)]
    assert [brief(s) for s in recording] == [
        ("recording", "PJSIP/agent1-0000001a", state, "0x7f36a80ea260")
        for state in ("started", "muted", "unmuted", "stopped")]
    assert ats(recording) == [1795460532.579632, 1795460534.582163, 1795460537.584537, 1795460539.58656]
    assert {s.uniqueid for s in recording} == {"refpbx-1795460530.38"}
    assert [brief(s)[0] for s in call_signals(signals)] == [
        "waiting", "leg", "connected", "recording", "recording", "recording", "recording", "hungup", "hungup"]


def test_fallback_queue_answered() -> None:
    _, signals = replay("fallback_queue_answered")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == [
        ("waiting", "PJSIP/sipp-0000001b", "0601000012", {"account": "12012", "reason": "7"}, "support",
         "8001", False, False),
        ("fallback", "PJSIP/sipp-0000001b", "fallback"),
        # From here app_queue, not the CTI, rings and connects the agent.
        ("leg", "PJSIP/agent1-0000001c", "PJSIP/agent1"),
        ("connected", "PJSIP/sipp-0000001b", "PJSIP/agent1-0000001c", "PJSIP/agent1",
         "b99eacee-e1cc-49da-901a-539cbed70d67"),
        ("hungup", "PJSIP/agent1-0000001c", "agent", 16, True, True),
        ("hungup", "PJSIP/sipp-0000001b", "caller", 16, False, True),
    ]
    assert ats(calls) == [1795460552.341381, 1795460560.341913, 1795460560.343511, 1795460562.351705,
                          1795460566.359867, 1795460566.35988]


def test_fallback_queue_state_while_in_the_queue() -> None:
    t, _ = replay_until("fallback_queue_answered", lambda m: m.event == "AgentCalled")
    (caller,) = t.callers()
    assert caller.app_queue == "fallback" and caller.queue == "support"


def test_fallback_queue_abandon() -> None:
    _, signals = replay("fallback_queue_abandon")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == [
        ("waiting", "PJSIP/sipp-0000001d", "0601000013", {"account": "13013", "reason": "8"}, "support",
         "8001", False, False),
        ("fallback", "PJSIP/sipp-0000001d", "fallback"),
        ("leg", "PJSIP/agent1-0000001e", "PJSIP/agent1"),
        # The agent's Hangup comes before the caller's although the caller hung up.
        ("hungup", "PJSIP/agent1-0000001e", "agent", 0, False, False),
        ("hungup", "PJSIP/sipp-0000001d", "caller", 0, True, False),
    ]
    assert ats(calls) == [1795460573.617095, 1795460581.61724, 1795460581.618166, 1795460587.429855,
                          1795460587.430758]


def test_click_to_dial() -> None:
    _, signals = replay("click_to_dial")
    calls = call_signals(signals)
    assert [brief(s) for s in calls] == [
        ("leg", "PJSIP/agent1-0000001f", "PJSIP/agent1"),
        ("outbound", "PJSIP/agent1-0000001f", "PJSIP/customer-00000020", "0612345678",
         "939f47b2-f160-4a93-a3ae-dd2f0abefaff"),
        ("hungup", "PJSIP/customer-00000020", "other", 16, True, True),  # the customer hung up
        ("hungup", "PJSIP/agent1-0000001f", "agent", 16, False, True),
    ]
    assert ats(calls) == [1795460592.061969, 1795460596.079403, 1795460600.086627, 1795460600.087503]
    assert not [s for s in signals if isinstance(s, CallerWaiting | Connected)]
    assert {s.device for s in signals if isinstance(s, DeviceState)} == {"PJSIP/agent1"}


def _snapshot() -> tuple[list[AmiMessage], dict[str, list[AmiMessage]], dict[str, dict[str, str]]]:
    r = load("resync_snapshot")
    channels = [m for m in r.replies("resync-2") if m.event == "CoreShowChannel"]
    members = [b for b in r.replies("resync-4") if b.event == "BridgeInfoChannel"]
    bridges = {m.get("BridgeUniqueid", ""): members for m in r.replies("resync-3")
               if m.event == "BridgeListItem"}
    (getvar,) = r.replies("resync-5")
    variables = {"PJSIP/sipp-00000023": {getvar.get("Variable") or "": getvar.get("Value") or ""}}
    return channels, bridges, variables


def test_resync_snapshot() -> None:
    channels, bridges, variables = _snapshot()
    assert (len(channels), list(bridges), variables) == (
        3, ["75b118d4-5077-44d4-93f0-cd67b184c84c"], {"PJSIP/sipp-00000023": {"CTI_ACCOUNT": "22022"}})
    t = tracker()
    signals = t.load_snapshot(channels, bridges, variables)
    assert signals == [
        CallerWaiting(at=None, uniqueid="refpbx-1795460607.49", channel="PJSIP/sipp-00000023",
                      linkedid="refpbx-1795460607.49", caller_num="0601000022", caller_name="0601000022",
                      did="", queue="", context={"account": "22022"}, resynced=True),
        Connected(at=None, caller_uniqueid="refpbx-1795460603.46", caller_channel="PJSIP/sipp-00000021",
                  agent_uniqueid="refpbx-1795460606.47", agent_channel="PJSIP/agent1-00000022",
                  device="PJSIP/agent1", bridge_id="75b118d4-5077-44d4-93f0-cd67b184c84c", resynced=True),
    ]
    assert [c.name for c in t.callers()] == ["PJSIP/sipp-00000023", "PJSIP/sipp-00000021"]
    bridge = t.bridge_of("refpbx-1795460603.46")
    assert bridge is not None and set(bridge.members) == {"refpbx-1795460603.46", "refpbx-1795460606.47"}
    agent = t.channel_by_name("PJSIP/agent1-00000022")
    assert agent is not None and (agent.role, agent.application) == ("agent", "Bridge")


def test_resync_then_live_events_carry_on() -> None:
    """After the snapshot the tracker folds live events on it: the bridged pair hangs up."""
    channels, bridges, variables = _snapshot()
    t = tracker()
    t.load_snapshot(channels, bridges, variables)
    # The recorded session ends before the calls do; the agent's own RTCP events still fold.
    rtcp = [m for m in load("resync_snapshot").events() if m.event == "RTCPSent"]
    assert all(t.feed(m) == [] for m in rtcp)
    assert t.channel("refpbx-1795460606.47") is not None


def test_resync_with_status_and_all_cti_variables() -> None:
    """``Status`` gives the DID (``DNID``); the CTI_* variables give queue and reason when fetched."""
    channels, bridges, _ = _snapshot()
    status = [m for m in load("resync_snapshot").replies("resync-8") if m.event == "Status"]
    variables = {"PJSIP/sipp-00000023": {"CTI_ACCOUNT": "22022", "CTI_REASON": "2", "CTI_QUEUE": "support"},
                 "PJSIP/sipp-00000021": {"CTI_ACCOUNT": "21021", "CTI_REASON": "1", "CTI_QUEUE": "support",
                                         "CTI_AGENT": ""}}
    t = tracker()
    signals = t.load_snapshot([*channels, *status], bridges, variables)
    waiting = signals[0]
    assert isinstance(waiting, CallerWaiting)
    assert (waiting.did, waiting.queue, dict(waiting.context)) == ("8000", "support",
                                                                    {"account": "22022", "reason": "2"})
    bridged = t.channel("refpbx-1795460603.46")
    assert bridged is not None and dict(bridged.ivr) == {"account": "21021", "reason": "1"}
    assert "CTI_AGENT" not in bridged.variables  # an empty Getvar value is an unset variable
    assert [type(s) for s in signals] == [CallerWaiting, Connected]


def test_resync_replaces_what_was_known() -> None:
    t, _ = replay_until("hold_resume", lambda m: m.event == "Hold")
    assert len(t.channels()) == 2
    t.load_snapshot(*_snapshot())
    assert {c.name for c in t.channels()} == {"PJSIP/sipp-00000021", "PJSIP/agent1-00000022",
                                              "PJSIP/sipp-00000023"}


def test_resync_a_caller_found_in_the_fallback_queue_is_not_waiting_for_the_cti() -> None:
    # Real CoreShowChannel shape of a caller in cti-hold; its application is Queue() here, as
    # for a caller that timed out into the fallback queue.
    channels, _, _ = _snapshot()
    holding = channels[0]
    in_queue = AmiMessage(tuple((k, {"Application": "Queue", "ApplicationData": "fallback,t,,,60"}.get(k, v))
                                for k, v in holding.headers))
    signals = tracker().load_snapshot([in_queue], {}, {})
    assert signals == [CallerFallback(at=None, uniqueid="refpbx-1795460607.49", channel="PJSIP/sipp-00000023",
                                      queue="fallback")]


def test_resync_device_state_list_items_fold_like_events() -> None:
    t = tracker()
    items = [m for m in load("resync_snapshot").replies("resync-7") if m.event == "DeviceStateChange"]
    assert len(items) == 19
    signals = [s for m in items for s in t.feed(m)]
    assert [brief(s) for s in signals] == [
        ("device", "PJSIP/agent1", "INUSE"), ("device", "PJSIP/agent2", "NOT_INUSE"),
        ("device", "PJSIP/agent3", "NOT_INUSE"), ("device", "PJSIP/super1", "NOT_INUSE")]
    assert ats(signals) == [None] * 4


def test_asterisk_restart() -> None:
    t, signals = replay("asterisk_restart")
    assert signals == [LinkReset(at=1795460617.578466, why="asterisk restart")]
    assert t.channels() == ()


def test_shutdown_forgets_live_calls() -> None:
    t, _ = replay_until("hold_resume", lambda m: m.event == "Hold")
    shutdown = next(m for m in load("asterisk_restart").events() if m.event == "Shutdown")
    assert t.feed(shutdown) == [LinkReset(at=1795460617.578466, why="asterisk restart")]
    assert t.channels() == () and t.callers() == () and t.bridges() == ()


def test_reset_mid_call_then_the_rest_of_the_call() -> None:
    """Events of channels forgotten by a reset fold without the lost context, and never raise."""
    t = tracker()
    events = list(load("hold_resume").events())
    cut = next(i for i, m in enumerate(events) if m.event == "Hold")
    for msg in events[:cut]:
        t.feed(msg)
    assert t.reset("link lost", None) == [LinkReset(at=None, why="link lost")]
    after = [s for m in events[cut:] for s in t.feed(m)]
    # Unknown channels: the hold is not a change the tracker can vouch for, the roles come from
    # the device names only.
    assert [brief(s) for s in call_signals(after)] == [
        ("hungup", "PJSIP/agent1-0000000f", "agent", 16, False, False),
        ("hungup", "PJSIP/sipp-0000000e", "other", 16, False, False),
    ]
    assert t.channels() == ()


def test_device_of() -> None:
    assert device_of("PJSIP/agent1-0000002a") == "PJSIP/agent1"
    assert device_of("PJSIP/agent3") == "PJSIP/agent3"  # as in a failed OriginateResponse
    assert device_of("Local/202@cti-agents-00000001;1") == "Local/202@cti-agents-00000001;1"
