"""The pure parts added for issue 11, on the live2 recordings: what the tracker reports of legs
and fallbacks, which callers a clean stop redirects, which phones keep agents from calls."""

from __future__ import annotations

import pytest

from cti.ami.devices import PhoneStates, blocks_voice
from cti.ami.shutdown import fallback_redirect, held_callers
from cti.ami.signals import AgentLegCreated, CallerFallback, Signal
from cti.ami.tracker import CallTracker
from tests.ami.recordings import load

AGENTS = ("PJSIP/agent1", "PJSIP/agent2", "PJSIP/agent3")


def replay(name: str, *, until: str | None = None) -> tuple[CallTracker, list[Signal]]:
    t = CallTracker(agent_devices=AGENTS, spy_devices=("PJSIP/super1",))
    signals: list[Signal] = []
    for msg in load(f"live2/{name}").events():
        signals.extend(t.feed(msg))
        if until is not None and msg.event == until:
            break
    return t, signals


def test_a_leg_an_originate_makes_carries_its_own_linkedid_and_a_transfers_the_callers() -> None:
    _, signals = replay("blind_transfer_target_rings")
    legs = [s for s in signals if isinstance(s, AgentLegCreated)]
    assert [(s.channel, s.linkedid == s.uniqueid) for s in legs] == [
        ("PJSIP/agent1-00000008", True), ("PJSIP/agent2-00000009", False)]
    assert legs[1].linkedid == "1796617657.9"  # the caller's


@pytest.mark.parametrize(("name", "why", "account"), [
    ("agent_busy_on_fallback_call", "offline", "33003"),
    ("clean_stop_redirects_waiting_caller", "server", "32002")])
def test_a_fallback_says_why_and_keeps_the_ivr_answers(name: str, why: str, account: str) -> None:
    t, signals = replay(name)
    [fallback] = [s for s in signals if isinstance(s, CallerFallback)]
    assert (fallback.queue, fallback.why) == ("fallback", why)
    t, _ = replay(name, until="UserEvent")
    caller = t.channel(fallback.uniqueid)
    assert caller is not None and caller.ivr["account"] == account


def test_a_clean_stop_redirects_the_waiting_caller_only() -> None:
    t, _ = replay("clean_stop_redirects_waiting_caller", until="MusicOnHoldStart")
    [caller] = held_callers(t.callers(), hold_context="cti-hold")
    recorded = next(f.frame for f in load("live2/clean_stop_redirects_waiting_caller").frames
                    if f.frame.startswith("Action: Redirect"))
    action = fallback_redirect(caller, hold_context="cti-hold")
    for key, value in action.items():
        assert f"{key}: {value}\r\n" in recorded, key
    # in the fallback queue, then talking: nobody left to redirect
    t, _ = replay("clean_stop_redirects_waiting_caller", until="QueueCallerJoin")
    assert held_callers(t.callers(), hold_context="cti-hold") == []
    t, _ = replay("desk_blind_transfer_to_queue", until="BridgeEnter")
    assert held_callers(t.callers(), hold_context="cti-hold") == []


def test_phone_states_keep_an_agent_from_calls_until_the_phone_is_free() -> None:
    phones = PhoneStates()
    assert [phones.update("alice", s) for s in ("NOT_INUSE", "RINGING", "INUSE", "NOT_INUSE")] == [
        False, True, False, True]
    assert phones.update("bob", "UNAVAILABLE") and phones.blocked("bob") == "unreachable"
    assert not phones.update("bob", "INUSE") and phones.blocked("bob") == "busy"
    assert phones.agents("busy") == ["bob"] and phones.agents("unreachable") == []
    assert [blocks_voice(s) for s in ("ONHOLD", "BUSY", "RINGINUSE", "INVALID", "UNKNOWN", "NOT_INUSE")] == [
        "busy", "busy", "busy", "unreachable", "unreachable", None]
