"""asterisk-config/extensions.conf: asterisklint passes, and the dial plan keeps the bridge's contract.

The AMI bridge recognises calls by context names, channel variables and UserEvents (see
tests/fixtures/ami/README.md, "Dial plan, endpoints, configuration"); these tests pin them, then
walk a caller through the dial plan (``dialsim``) for each way a call can go.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .astconf import CONF_DIR, Dialplan, Step, last, load_dialplan, pattern_matches, user_event
from .dialsim import Channel, Scenario

EXTENSIONS = CONF_DIR / "extensions.conf"
LINT = "import os, sys\nfrom asterisklint.main import main\nsys.exit(main(sys.argv[1:], os.environ))"


def asterisklint(path: Path) -> subprocess.CompletedProcess[str]:
    """``asterisklint dialplan-check PATH`` with this interpreter, nothing suppressed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALINT_")}
    return subprocess.run(
        [sys.executable, "-c", LINT, "dialplan-check", str(path)],
        capture_output=True, text=True, env=env, cwd=path.parent, timeout=120,
    )


@pytest.fixture(scope="module")
def dp() -> Dialplan:
    return load_dialplan()


# --- lint -------------------------------------------------------------------------------------------

def test_asterisklint_reports_nothing() -> None:
    result = asterisklint(EXTENSIONS)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_asterisklint_reports_a_broken_copy(tmp_path: Path) -> None:
    """The lint test can fail: a bad Goto target and an unbalanced application call are reported."""
    text = EXTENSIONS.read_text(encoding="utf-8")
    broken = text.replace("Goto(cti-hold,s,1)", "Goto(cti-hodl,s,1)")
    bridge = "Bridge(${CTI_CALLER},tTF(cti-survey^s^1))"
    broken = broken.replace(bridge, bridge[:-1])
    assert broken.count("cti-hodl") == 1 and broken != text
    copy = tmp_path / "extensions.conf"
    copy.write_text(broken, encoding="utf-8")

    result = asterisklint(copy)

    assert result.returncode == 1
    report = result.stdout + result.stderr
    assert "E_DP_GOTO_NOCONTEXT" in report and "cti-hodl" in report
    assert "W_APP_BALANCE" in report


# --- the contract, read from the file ----------------------------------------------------------------

CONTEXTS = {
    "from-trunk": ["_[0-9+]."],
    "cti-hold": ["s", "_[a-z].", "held", "fallback"],
    "cti-online": ["s"],
    "cti-connect": ["s"],
    "cti-agent-ready": ["s", "held"],
    "cti-agents": ["_20X"],
    "cti-dialout": ["_0X."],
    "cti-survey": ["s"],
}


def test_contexts_and_extensions_exist(dp: Dialplan) -> None:
    for context, extensions in CONTEXTS.items():
        assert context in dp.contexts, context
        assert dp.extensions(context) == extensions, context
    assert dp.includes["from-agent"] == ["cti-agents", "cti-dialout"]


def test_every_context_is_commented_with_why() -> None:
    lines = EXTENSIONS.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("[") and line not in ("[general]", "[globals]"):
            block = []
            j = i - 1
            while j >= 0 and lines[j].startswith(";"):
                block.append(lines[j])
                j -= 1
            assert "Why" in " ".join(block), f"{line} has no comment saying why"


def test_numbers_reach_the_right_extensions(dp: Dialplan) -> None:
    assert all(pattern_matches("_[0-9+].", n) for n in ("8000", "8001", "+493012345678", "0301234567"))
    assert all(pattern_matches("_20X", n) for n in ("201", "202", "203"))
    assert pattern_matches("_0X.", "0612345678")  # the recorded click-to-dial number


def test_globals(dp: Dialplan) -> None:
    assert last(dp.general, "clearglobalvars") == "no"
    assert last(dp.globals, "CTI_HOLD_TIMEOUT") == "60"
    assert int(last(dp.globals, "CTI_HEARTBEAT_MAX_AGE") or 0) >= 30  # three missed 10 s beats
    assert last(dp.globals, "CTI_AMI_USER") == "cti"
    # set by the server only: after a restart it counts as offline until it has logged in again
    assert last(dp.globals, "CTI_ONLINE") is None
    assert last(dp.globals, "CTI_HEARTBEAT") is None


def _only(steps: list[Step]) -> Step:
    assert len(steps) == 1, steps
    return steps[0]


def test_ivr_reads_account_and_reason(dp: Dialplan) -> None:
    reads = dp.apps("from-trunk", "_[0-9+].", "Read")
    assert [(r.arglist()[0], r.arglist()[2]) for r in reads] == [("ACCOUNT", "10"), ("REASON", "1")]
    sets = [s.args for s in dp.apps("from-trunk", "_[0-9+].", "Set")]
    assert any(s.startswith("CTI_ACCOUNT=") and "${ACCOUNT}" in s for s in sets)
    assert any(s.startswith("CTI_REASON=") and "${REASON}" in s for s in sets)
    assert "CTI_QUEUE=support" in sets


def test_cti_queued_headers(dp: Dialplan) -> None:
    name, headers = user_event(_only(dp.apps("from-trunk", "_[0-9+].", "UserEvent")))
    assert name == "CtiQueued"
    assert list(headers) == ["Account", "Reason", "Queue", "HoldTimeout"]
    assert headers == {"Account": "${CTI_ACCOUNT}", "Reason": "${CTI_REASON}", "Queue": "${CTI_QUEUE}",
                       "HoldTimeout": "${CTI_HOLD_SECS}"}

    name, headers = user_event(_only(dp.apps("cti-hold", "_[a-z].", "UserEvent")))
    assert name == "CtiQueued"
    assert list(headers) == ["Account", "Reason", "Queue", "HoldTimeout", "Requeued"]
    assert headers["Requeued"] == "yes"


def test_cti_fallback_headers_and_queue(dp: Dialplan) -> None:
    name, headers = user_event(_only(dp.apps("cti-hold", "fallback", "UserEvent")))
    assert name == "CtiFallback"
    assert list(headers) == ["Account", "Reason", "Queue", "Why"]
    assert headers["Queue"] == "fallback"
    queue = _only(dp.apps("cti-hold", "fallback", "Queue"))
    assert queue.arglist()[0] == "fallback"
    # no UserEvent names anything else
    names = {user_event(s)[0] for steps in dp.contexts.values() for s in steps if s.app == "UserEvent"}
    assert names == {"CtiQueued", "CtiFallback", "CtiSurvey"}


def test_hold_connect_and_transfer_targets(dp: Dialplan) -> None:
    assert _only(dp.apps("cti-hold", "s", "MusicOnHold")).args == "cti,${CTI_HOLD_SECS}"
    assert "CTI_AGENT" in dp.steps("cti-hold", "s")[2].args  # checked right after the music returns
    assert _only(dp.apps("cti-connect", "s", "Bridge")).args == "${CTI_CALLER},tTF(cti-survey^s^1)"
    assert _only(dp.apps("cti-agent-ready", "s", "Wait"))
    assert _only(dp.apps("cti-agents", "_20X", "Dial")).arglist()[0] == "PJSIP/agent${EXTEN:2}"
    assert _only(dp.apps("cti-dialout", "_0X.", "Dial")).arglist()[0] == "PJSIP/${EXTEN}@${CTI_TRUNK}"


def test_online_check_uses_the_server_globals(dp: Dialplan) -> None:
    text = " ".join(s.args for s in dp.contexts["cti-online"])
    for needle in ("AMI_CLIENT(${CTI_AMI_USER},sessions)", "GLOBAL(CTI_ONLINE)", "GLOBAL(CTI_HEARTBEAT)",
                   "${EPOCH}", "${CTI_HEARTBEAT_MAX_AGE}"):
        assert needle in text
    trunk = [s.app for s in dp.steps("from-trunk", "_[0-9+].")]
    assert trunk.index("Gosub") < trunk.index("UserEvent")


# --- walking callers through it ---------------------------------------------------------------------

NOW = 1_795_460_000
ONLINE: dict[str, Any] = {
    "ami_sessions": {"cti": 1},
    "globals": {"CTI_ONLINE": "1", "CTI_HEARTBEAT": str(NOW - 5)},
}
KEYED = {"ACCOUNT": "12345#", "REASON": "2"}


def call(dp: Dialplan, **scenario: Any) -> Channel:
    sc = Scenario(epoch=NOW, keyed=dict(KEYED), **scenario)
    return Channel(dp, sc, name="PJSIP/my-provider-00000001", caller="0601000001")


def test_online_caller_is_queued_then_held(dp: Dialplan) -> None:
    ch = call(dp, **ONLINE)
    run = ch.run("from-trunk", "8000")
    queued = run.events[0]
    assert (queued.name, queued.context, queued.exten) == ("CtiQueued", "from-trunk", "8000")
    assert queued.headers == {"Account": "12345", "Reason": "2", "Queue": "support", "HoldTimeout": "60"}
    assert ("cti-hold", "s", "MusicOnHold", "cti,60") in run.apps
    # nobody picked the caller up: the hold times out into the fallback queue
    assert [(e.name, e.headers) for e in run.events[1:]] == [
        ("CtiFallback", {"Account": "12345", "Reason": "2", "Queue": "fallback", "Why": "timeout"})]
    assert run.called("Queue") == [("cti-hold", "fallback", "Queue", "fallback,t,,,300")]
    assert run.variables["CTI_QUEUE"] == "fallback"


def test_test_number_holds_briefly(dp: Dialplan) -> None:
    run = call(dp, **ONLINE).run("from-trunk", "8001")
    assert run.events[0].headers["HoldTimeout"] == "8"
    assert ("cti-hold", "s", "MusicOnHold", "cti,8") in run.apps


def test_ivr_answers_are_digits_only(dp: Dialplan) -> None:
    ch = call(dp, **ONLINE)
    ch.sc.keyed = {"ACCOUNT": "12*345678901#", "REASON": ""}
    run = ch.run("from-trunk", "8000")
    assert run.events[0].headers["Account"] == "123456789"  # 10 keys read, then the star dropped
    assert run.events[0].headers["Reason"] == ""


def test_caller_bridged_by_ami_hangs_up_after_the_call_when_surveys_are_off(dp: Dialplan) -> None:
    off = {**ONLINE, "globals": {**ONLINE["globals"], "CTI_SURVEY": "0"}}
    run = call(dp, ami_bridge_agent="PJSIP/agent1-00000004", **off).run("from-trunk", "8000")
    assert [e.name for e in run.events] == ["CtiQueued"]
    assert run.ended_in == ("cti-survey", "s", "Hangup") and not run.called("Read")[2:]


@pytest.mark.parametrize(("keyed", "rating"), [("4", "4"), ("1", "1"), ("5", "5")])
def test_caller_bridged_by_ami_is_asked_the_survey_after_the_call(dp: Dialplan, keyed: str,
                                                                   rating: str) -> None:
    ch = call(dp, ami_bridge_agent="PJSIP/agent1-00000004", **ONLINE)
    ch.sc.keyed["CTI_RATING"] = keyed
    run = ch.run("from-trunk", "8000")
    assert [(e.name, e.headers, e.context) for e in run.events[1:]] == [
        ("CtiSurvey", {"Rating": rating}, "cti-survey")]
    read = run.called("Read")[-1]
    assert read[:3] == ("cti-survey", "s", "Read") and read[3].split(",")[2] == "1"  # one key
    assert run.ended_in == ("cti-survey", "s", "Hangup")


@pytest.mark.parametrize("keyed", ["", "0", "6", "9", "*", "#"])
def test_a_survey_key_outside_one_to_five_sends_no_answer(dp: Dialplan, keyed: str) -> None:
    ch = call(dp, ami_bridge_agent="PJSIP/agent1-00000004", **ONLINE)
    ch.sc.keyed["CTI_RATING"] = keyed
    run = ch.run("from-trunk", "8000")
    assert [e.name for e in run.events] == ["CtiQueued"]
    assert run.ended_in == ("cti-survey", "s", "Hangup")


def test_surveys_are_on_unless_the_admin_turns_them_off(dp: Dialplan) -> None:
    assert last(dp.globals, "CTI_SURVEY") == "1"
    assert last(dp.globals, "CTI_PROMPT_SURVEY") and last(dp.globals, "CTI_PROMPT_SURVEY_THANKS")


@pytest.mark.parametrize(
    "why_offline, scenario",
    [
        ("no AMI session", {"ami_sessions": {}, "globals": ONLINE["globals"]}),
        ("AMI user renamed", {"ami_sessions": {"other": 1}, "globals": ONLINE["globals"]}),
        ("not ready", {"ami_sessions": {"cti": 1},
                       "globals": {"CTI_ONLINE": "0", "CTI_HEARTBEAT": str(NOW)}}),
        ("CTI_ONLINE unset", {"ami_sessions": {"cti": 1}, "globals": {"CTI_HEARTBEAT": str(NOW)}}),
        ("heartbeat stale", {"ami_sessions": {"cti": 1},
                             "globals": {"CTI_ONLINE": "1", "CTI_HEARTBEAT": str(NOW - 31)}}),
        ("heartbeat unset", {"ami_sessions": {"cti": 1}, "globals": {"CTI_ONLINE": "1"}}),
        ("heartbeat garbage", {"ami_sessions": {"cti": 1},
                               "globals": {"CTI_ONLINE": "1", "CTI_HEARTBEAT": "soon"}}),
        ("heartbeat from the future", {"ami_sessions": {"cti": 1},
                                       "globals": {"CTI_ONLINE": "1", "CTI_HEARTBEAT": str(NOW + 31)}}),
    ],
)
def test_offline_server_sends_caller_straight_to_fallback(
    dp: Dialplan, why_offline: str, scenario: dict[str, Any]
) -> None:
    run = call(dp, **scenario).run("from-trunk", "8000")
    expected = {"Account": "12345", "Reason": "2", "Queue": "fallback", "Why": "offline"}
    assert [(e.name, e.headers) for e in run.events] == [("CtiFallback", expected)], why_offline
    assert not run.called("MusicOnHold")
    assert run.called("Queue")[0][3].startswith("fallback,")


@pytest.mark.parametrize("age", [30, 0, -30])
def test_heartbeat_within_max_age_is_online(dp: Dialplan, age: int) -> None:
    scenario: dict[str, Any] = {
        "ami_sessions": {"cti": 2},
        "globals": {"CTI_ONLINE": "1", "CTI_HEARTBEAT": str(NOW - age)},
    }
    run = call(dp, **scenario).run("from-trunk", "8000")
    assert run.events[0].name == "CtiQueued"


def test_requeue_by_transfer(dp: Dialplan) -> None:
    ch = call(dp, **ONLINE)
    ch.vars.update({"CTI_ACCOUNT": "50005", "CTI_REASON": "2", "CTI_QUEUE": "support",
                    "CTI_HOLD_SECS": "60", "CTI_AGENT": "PJSIP/agent1-00000009"})
    run = ch.run("cti-hold", "support")
    assert run.events[0].name == "CtiQueued"
    assert run.events[0].headers == {"Account": "50005", "Reason": "2", "Queue": "support",
                                     "HoldTimeout": "60", "Requeued": "yes"}
    assert ("cti-hold", "s", "MusicOnHold", "cti,60") in run.apps
    assert run.events[1].headers["Why"] == "timeout"  # CTI_AGENT was cleared by the re-queue


def test_server_redirect_to_fallback(dp: Dialplan) -> None:
    ch = call(dp, **ONLINE)
    ch.vars.update({"CTI_ACCOUNT": "1", "CTI_REASON": "3", "CTI_QUEUE": "support"})
    run = ch.run("cti-hold", "fallback")
    assert run.events[0].headers == {"Account": "1", "Reason": "3", "Queue": "fallback", "Why": "server"}


def test_unanswered_transfer_requeues_a_cti_caller_only(dp: Dialplan) -> None:
    ch = call(dp, dial_status="NOANSWER", **ONLINE)
    ch.vars.update({"CTI_ACCOUNT": "50005", "CTI_REASON": "2", "CTI_QUEUE": "support", "CTI_HOLD_SECS": "60"})
    run = ch.run("cti-agents", "202")
    assert run.called("Dial") == [("cti-agents", "202", "Dial", "PJSIP/agent2,20,g")]
    assert run.events[0].headers.get("Requeued") == "yes"

    # an agent (or the Local channel of an attended transfer) has no CTI_QUEUE: it just hangs up
    run = call(dp, dial_status="NOANSWER", **ONLINE).run("cti-agents", "202")
    assert run.events == [] and run.ended_in == ("cti-agents", "202", "Hangup")


def test_a_transferred_caller_is_asked_the_survey_when_the_second_agent_hangs_up(dp: Dialplan) -> None:
    ch = call(dp, dial_status="ANSWER", **ONLINE)
    ch.vars.update({"CTI_ACCOUNT": "50005", "CTI_REASON": "2", "CTI_QUEUE": "support"})
    ch.sc.keyed["CTI_RATING"] = "5"
    run = ch.run("cti-agents", "202")
    events = [(e.name, e.headers, e.context) for e in run.events]
    assert events == [("CtiSurvey", {"Rating": "5"}, "cti-survey")]
    assert run.ended_in == ("cti-survey", "s", "Hangup")

    # two agents talking: the one who called just hangs up, no survey
    run = call(dp, dial_status="ANSWER", **ONLINE).run("cti-agents", "202")
    assert run.events == [] and run.ended_in == ("cti-agents", "202", "Hangup")


def test_connect_and_dialout(dp: Dialplan) -> None:
    agent = call(dp, **ONLINE)
    agent.vars["CTI_CALLER"] = "PJSIP/sipp-00000001"
    # F(): when the agent hangs up, the caller goes on to the survey instead of being hung up.
    assert agent.run("cti-connect", "s").called("Bridge") == [
        ("cti-connect", "s", "Bridge", "PJSIP/sipp-00000001,tTF(cti-survey^s^1)")]
    # And with surveys off the survey context hangs the caller up at once.
    off = call(dp, **{**ONLINE, "globals": {**ONLINE["globals"], "CTI_SURVEY": "0"}})
    run = off.run("cti-survey", "s")
    assert run.events == [] and run.ended_in == ("cti-survey", "s", "Hangup") and not run.called("Read")
    run = call(dp, **ONLINE).run("cti-dialout", "0612345678")
    assert run.called("Dial") == [("cti-dialout", "0612345678", "Dial", "PJSIP/0612345678@my-provider,30")]


def test_a_closed_queue_plays_the_closed_message_and_queues_nobody(dp: Dialplan) -> None:
    closed = {**ONLINE, "globals": {**ONLINE["globals"], "CTI_CLOSED_support": "1"}}
    run = call(dp, **closed).run("from-trunk", "8000")
    assert run.events == []  # neither queued for the server nor sent to the fallback queue
    assert run.called("Playback") == [("from-trunk", "8000", "Playback", "beep")]
    assert run.ended_in[2] == "Hangup" and not run.called("MusicOnHold") and not run.called("Queue")
    # Open again (the server set 0): the caller is queued as before.
    opened = {**ONLINE, "globals": {**ONLINE["globals"], "CTI_CLOSED_support": "0"}}
    assert call(dp, **opened).run("from-trunk", "8000").events[0].name == "CtiQueued"


def test_the_closed_message_is_a_global_the_admin_can_replace(dp: Dialplan) -> None:
    assert last(dp.globals, "CTI_PROMPT_CLOSED") == "beep"
    # Set by the server only, like CTI_ONLINE: a restarted Asterisk takes calls until told.
    assert not [k for k, _ in dp.globals if k.startswith("CTI_CLOSED_")]
