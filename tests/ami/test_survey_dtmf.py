"""The post-call DTMF survey: ``UserEvent CtiSurvey`` (dial plan ``cti-survey``) becomes the
call's ``survey_answered`` log entry.

No recording has a survey (the context is newer than the recordings), so its event is made from
the recorded ``UserEvent CtiQueued`` of the same caller: the same headers Asterisk 22 puts on
every UserEvent (channel, Uniqueid, Linkedid, Context, Exten, Timestamp ...), with the survey's
own name and body, sent where the dial plan sends it: after the agent's hang-up, before the
caller's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cti.ami.frames import parse_frame
from cti.ami.signals import SurveyAnswered, SurveyStarted
from cti.ami.tracker import CallTracker
from cti.eventlog import EntryKind
from tests.ami.center import phases, running_center
from tests.ami.recordings import load

SCENARIO = "inbound_hold_originate_bridge"
CALLER = "PJSIP/sipp-00000001"


def survey_frame(rating: str) -> str:
    """The recorded CtiQueued UserEvent of the caller, turned into the survey's."""
    queued = next(f.frame for f in load(SCENARIO).incoming()
                  if "Event: UserEvent\r\n" in f.frame and "UserEvent: CtiQueued\r\n" in f.frame)
    body = f"UserEvent: CtiSurvey\r\nRating: {rating}\r\n\r\n"
    frame = re.sub(r"UserEvent: CtiQueued\r\n.*\r\n\r\n$", body, queued, flags=re.S)
    frame = frame.replace("Context: from-trunk\r\n", "Context: cti-survey\r\n")
    return re.sub(r"Exten: \d+\r\n", "Exten: s\r\n", frame)


def survey_entered() -> str:
    """The caller's first dial-plan step in cti-survey: the recorded Newexten of its CtiQueued
    UserEvent, moved to the survey context's first step."""
    queued = next(f.frame for f in load(SCENARIO).incoming()
                  if "Event: Newexten\r\n" in f.frame and "Application: UserEvent\r\n" in f.frame)
    frame = queued.replace("Context: from-trunk\r\n", "Context: cti-survey\r\n")
    frame = re.sub(r"Exten: \d+\r\n", "Exten: s\r\n", frame)
    frame = re.sub(r"Extension: \d+\r\n", "Extension: s\r\n", frame)
    frame = re.sub(r"Priority: \d+\r\n", "Priority: 1\r\n", frame)
    frame = re.sub(r"Application: UserEvent\r\nAppData: .*?\r\n", "Application: GotoIf\r\nAppData: 1?ask\r\n",
                   frame)
    return frame


def with_survey(frames: tuple[str, ...], rating: str) -> tuple[str, ...]:
    """The caller enters the survey after the agent's Hangup; the answer comes before the
    caller's own Hangup."""
    agent_gone = next(i for i, f in enumerate(frames)
                      if f.startswith("Event: Hangup\r\n") and "Channel: PJSIP/agent1" in f)
    at = next(i for i, f in enumerate(frames)
              if f.startswith("Event: Hangup\r\n") and f"Channel: {CALLER}" in f)
    assert agent_gone < at
    return (*frames[:agent_gone + 1], survey_entered(), *frames[agent_gone + 1:at], survey_frame(rating),
            *frames[at:])


def test_the_survey_event_is_a_signal_of_the_callers_channel() -> None:
    [msg] = parse_frame(survey_frame("4"))
    assert msg.get("UserEvent") == "CtiSurvey" and msg.get("Channel") == CALLER
    [signal] = CallTracker().feed(msg)
    assert isinstance(signal, SurveyAnswered)
    assert (signal.rating, signal.uniqueid) == ("4", msg.get("Uniqueid"))
    assert signal.linkedid == msg.get("Linkedid") and signal.at is not None


def test_the_caller_entering_the_survey_is_a_signal_too() -> None:
    [msg] = parse_frame(survey_entered())
    assert (msg.get("Context"), msg.get("Channel")) == ("cti-survey", CALLER)
    [signal] = CallTracker().feed(msg)
    assert isinstance(signal, SurveyStarted) and signal.uniqueid == msg.get("Uniqueid")
    # Only the survey's first step: the Read and the UserEvent after it say nothing more.
    [later] = parse_frame(survey_entered().replace("Priority: 1\r\n", "Priority: 3\r\n"))
    assert CallTracker().feed(later) == []


def test_other_user_events_are_not_surveys() -> None:
    [msg] = parse_frame(survey_frame("4").replace("UserEvent: CtiSurvey", "UserEvent: Something"))
    assert not [s for s in CallTracker().feed(msg) if isinstance(s, SurveyAnswered)]


@pytest.mark.integration
@pytest.mark.parametrize(("keyed", "logged"), [("4", 4), ("9", None)])
async def test_a_keyed_rating_is_logged_on_the_call_for_its_agent(tmp_path: Path, keyed: str,
                                                                  logged: int | None) -> None:
    before_originate, after_originate = phases(SCENARIO)
    async with running_center(tmp_path) as center:
        await center.available("alice")
        await center.play(before_originate.frames)
        await center.settle()
        call = await center.only_call()
        await center.route()
        await center.ami.wait_action("Originate")
        frames = with_survey(after_originate.frames, keyed)
        entered = frames.index(survey_entered())
        await center.play(frames[:entered + 1])
        # The agent is free as soon as the caller is in the survey, before any key is pressed.
        await center.wait_state(call.id, "wrap_up")
        await center.play(frames[entered + 1:])
        await center.settle()
        log = await center.context.event_log.of(call.id)
        answers = [e for e in log if e.kind is EntryKind.SURVEY_ANSWERED]
        if logged is None:  # not 1..5: refused, nothing written (the dial plan never sends it)
            assert answers == []
            return
        [entry] = answers
        assert dict(entry.details) == {"rating": logged, "comment": None, "agent": "alice", "via": "dtmf"}
