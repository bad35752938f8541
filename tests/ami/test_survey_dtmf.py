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
from cti.ami.signals import SurveyAnswered
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


def with_survey(frames: tuple[str, ...], rating: str) -> tuple[str, ...]:
    """The survey's event just before the caller's own Hangup."""
    at = next(i for i, f in enumerate(frames)
              if f.startswith("Event: Hangup\r\n") and f"Channel: {CALLER}" in f)
    return (*frames[:at], survey_frame(rating), *frames[at:])


def test_the_survey_event_is_a_signal_of_the_callers_channel() -> None:
    [msg] = parse_frame(survey_frame("4"))
    assert msg.get("UserEvent") == "CtiSurvey" and msg.get("Channel") == CALLER
    [signal] = CallTracker().feed(msg)
    assert isinstance(signal, SurveyAnswered)
    assert (signal.rating, signal.uniqueid) == ("4", msg.get("Uniqueid"))
    assert signal.linkedid == msg.get("Linkedid") and signal.at is not None


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
        await center.play(with_survey(after_originate.frames, keyed))
        await center.wait_state(call.id, "wrap_up")
        await center.settle()
        log = await center.context.event_log.of(call.id)
        answers = [e for e in log if e.kind is EntryKind.SURVEY_ANSWERED]
        if logged is None:  # not 1..5: refused, nothing written (the dial plan never sends it)
            assert answers == []
            return
        [entry] = answers
        assert dict(entry.details) == {"rating": logged, "comment": None, "agent": "alice", "via": "dtmf"}
