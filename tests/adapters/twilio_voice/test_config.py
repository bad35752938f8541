"""The ``channels: twilio_voice:`` section and the pure TwiML builders."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from adapters.twilio_voice import twiml
from adapters.twilio_voice.config import parse_twilio_voice_config
from cti.config import ConfigError, parse_config
from tests.adapters.center import AGENTS, center_config

RAW = {"account_sid": "AC1", "auth_token": "secret", "public_url": "https://cti.example.com/"}


def app(**endpoints: Any) -> Any:
    agents = [{**a, "endpoints": {"twilio": endpoints[a["id"]]}} if a["id"] in endpoints else a
              for a in AGENTS]
    return parse_config(center_config({}, agents=agents))


def test_minimal_section_and_endpoints() -> None:
    config = parse_twilio_voice_config(RAW, app(alice="(555) 010-0001", bob="client:bob"))
    assert config.public_url == "https://cti.example.com"
    assert config.endpoints == {"alice": "+15550100001", "bob": "client:bob"}
    assert config.reasons == {} and not config.record and config.queue_for("+15550001111") is None
    assert "secret" not in repr(config)


@pytest.mark.parametrize(("raw", "endpoint", "words"), [
    ({**RAW, "colour": "blue"}, None, "unknown keys"),
    ({k: v for k, v in RAW.items() if k != "public_url"}, None, "'public_url' is required"),
    ({**RAW, "public_url": "cti.example.com"}, None, "http(s) URL"),
    ({**RAW, "numbers": {"+15550001111": "nowhere"}}, None, "unknown queue"),
    ({**RAW, "reasons": {"12": "billing"}}, None, "one phone key"),
    ({**RAW, "record": "yes"}, None, "'record'"),
    ({**RAW, "ring_seconds": 2}, None, "'ring_seconds'"),
    (RAW, "client:", "client:<identity>"),
    (RAW, "not a phone", "endpoints.twilio"),
])
def test_refused_sections(raw: dict[str, Any], endpoint: str | None, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_twilio_voice_config(raw, app(alice=endpoint) if endpoint else app())


def test_twiml_documents() -> None:
    config = parse_twilio_voice_config({**RAW, "reasons": {"1": "billing"}, "account_digits": 0}, app())
    # No account number asked: straight on to the reason.
    redirect = ET.fromstring(twiml.ask_account(config)).find("Redirect")
    assert redirect is not None and redirect.text == "https://cti.example.com" + twiml.ACCOUNT_PATH
    gather = ET.fromstring(twiml.ask_reason(config, "")).find("Gather")
    assert gather is not None and gather.get("action") == "https://cti.example.com" + twiml.REASON_PATH
    assert twiml.digits("12a3#4", 3) == "123"


def test_both_parties_dial_into_the_calls_own_conference() -> None:
    config = parse_twilio_voice_config({**RAW, "record": True}, app())
    agent = ET.fromstring(twiml.connect_agent(config, "int-1")).find("Dial")
    caller = ET.fromstring(twiml.connect_caller(config, "int-1")).find("Dial")
    assert agent is not None and caller is not None
    assert agent.get("action") is None  # the agent's leg simply ends after the conference
    assert caller.get("action") == "https://cti.example.com" + twiml.DONE_PATH + "?interaction=int-1"
    for dial in (agent, caller):
        conference = dial.find("Conference")
        assert conference is not None and conference.text == "int-1"
        assert conference.get("startConferenceOnEnter") == "true"
        assert conference.get("endConferenceOnExit") == "true"  # either party leaving ends the call
        assert conference.get("beep") == "false" and conference.get("waitUrl") == ""
        assert conference.get("statusCallback") == (
            "https://cti.example.com" + twiml.CONFERENCE_PATH + "?interaction=int-1")
        assert set((conference.get("statusCallbackEvent") or "").split()) >= {"start", "end", "join", "leave"}
        assert conference.get("record") == "record-from-start"
    plain = parse_twilio_voice_config(RAW, app())
    conference = ET.fromstring(twiml.connect_agent(plain, "int-1")).find("Dial/Conference")
    assert conference is not None and conference.get("record") is None  # not recording unless asked


def test_conference_events_read() -> None:
    event = twiml.conference_event({"ConferenceSid": "CF1", "StatusCallbackEvent": "participant-join",
                                    "CallSid": "CA1", "SequenceNumber": "3"})
    assert event == twiml.ConferenceEvent("CF1", "participant-join", "CA1", "3")
    assert twiml.conference_event({"StatusCallbackEvent": "conference-start"}) is None
