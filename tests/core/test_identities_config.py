"""Identity normalisation, configuration parsing and event round trips (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.config import DEMO_CONFIG, ConfigError, load_config, parse_config
from cti.domain import Channel, IdentityKind, Role
from cti.errors import InvalidInput
from cti.events import (
    EVENT_TYPES,
    ConsultStarted,
    InteractionOffered,
    MessageAdded,
    SupervisionChanged,
    SupervisorWhispered,
    TypingIndicated,
    event_from_dict,
)
from cti.identities import normalise, normalise_phone


@pytest.mark.parametrize(("raw", "expected"), [
    ("+1 (555) 123-4567", "+15551234567"),
    ("555.123.4567", "+15551234567"),
    ("0044 20 7946 0958", "+442079460958"),
    ("+33 6 12 34 56 78", "+33612345678"),
])
def test_phone_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "+0123", "12", "+1234567890123456789"])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalise_phone(raw)
    assert info.value.error_id == "invalid-phone"


def test_email_is_lower_cased_and_checked() -> None:
    assert normalise(IdentityKind.EMAIL, "  Ann.Lee@Example.COM ").value == "ann.lee@example.com"
    with pytest.raises(InvalidInput):
        normalise(IdentityKind.EMAIL, "not-an-address")


def test_x_handles_lose_their_at_sign() -> None:
    assert normalise(IdentityKind.X, "@AnnLee").value == "annlee"


def test_demo_config_loads_with_teams_and_targets() -> None:
    config = load_config(DEMO_CONFIG)
    assert config.agents["sam"].role is Role.SUPERVISOR
    assert config.agents["alice"].capacity[Channel.CHAT] == 3
    assert config.queues["support"].target_for(Channel.EMAIL) == 14400
    assert config.chat.queue == "support"
    assert "alice" in [a.id for a in config.agents.values() if a.team == "support"]


def test_toml_config_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('demo = true\n[[queues]]\nname = "q"\nservice_targets = { chat = 30 }\n'
                    '[[agents]]\nid = "x"\npassword = "p"\nskills = { english = 3 }\n')
    config = load_config(path)
    assert config.queues["q"].target_for(Channel.CHAT) == 30
    assert config.agents["x"].skills == {"english": 3}


@pytest.mark.parametrize(("data", "message"), [
    ({"queues": []}, "at least one queue"),
    ({"queues": [{"name": "q"}], "agents": [{"id": "a", "skills": {"x": 11}}]}, "1-10"),
    ({"queues": [{"name": "q"}], "agents": [{"id": "a", "role": "boss"}]}, "unknown role"),
    ({"queues": [{"name": "q"}], "agents": [{"id": "a", "team": "nope"}]}, "unknown team"),
    ({"queues": [{"name": "q", "service_targets": {"fax": 3}}]}, "unknown channel"),
    ({"queues": [{"name": "q"}], "chat": {"queue": "zz"}}, "unknown queue"),
    ({"queues": [{"name": "q"}], "token_secret": "short"}, "at least 32 bytes"),
])
def test_inconsistent_config_is_refused_with_where(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_nodes_sharing_redis_need_a_shared_token_secret() -> None:
    from cti.app import ServerSettings, build_app

    config = parse_config({"queues": [{"name": "q"}]})
    with pytest.raises(ConfigError, match="token_secret"):
        build_app(config, ServerSettings(db_url="sqlite+aiosqlite://", redis_url="redis://127.0.0.1:6379"))


def test_hashed_passwords_check() -> None:
    from cti.passwords import check, pbkdf2_hash

    config = parse_config({"queues": [{"name": "q"}], "agents": [
        {"id": "a", "password": pbkdf2_hash("s3cret", salt="abcd", iterations=1000)}]})
    assert check(config.agents["a"].password, "s3cret").ok
    assert not check(config.agents["a"].password, "wrong").ok


def test_events_round_trip_through_json_shape() -> None:
    event = InteractionOffered(at=5.0, interaction_id="int-1", agent_id="alice", expires_at=25.0,
                               reason={"rule": "best-skill"}, screen_pop={"customer": {"id": "c"}})
    again = event_from_dict(event.to_dict())
    assert again == event and again.agent() == "alice"
    message = MessageAdded(at=1.0, interaction_id="i", agent_id=None, message={"body": "hi"})
    assert event_from_dict(message.to_dict()) == message
    assert len(EVENT_TYPES) == 21
    # The desk's events cross nodes too (typing, and a consult's parties on other nodes).
    typing = TypingIndicated(at=3.0, interaction_id="i", agent_id="alice", by="customer")
    consult = ConsultStarted(at=4.0, consult_id="cns-1", interaction_id="i", agent_id="bob",
                             from_agent="alice", customer_name="Ann", channel="chat",
                             transcript=[{"body": "hi"}], body=None)
    assert event_from_dict(typing.to_dict()) == typing and typing.agent() == "alice"
    assert event_from_dict(consult.to_dict()) == consult and consult.agent() == "bob"
    spy = SupervisionChanged(at=2.0, supervisor_id="sam", agent_id="alice", mode="listen", active=True)
    assert event_from_dict(spy.to_dict()) == spy
    assert spy.agent() == "sam"  # sent to the supervisor's socket, not to the monitored agent
    whisper = SupervisorWhispered(at=3.0, interaction_id="i", agent_id="alice", supervisor_id="sam",
                                  note={"body": "psst"})
    assert event_from_dict(whisper.to_dict()) == whisper
    assert whisper.agent() == "alice"  # to the agent working it (and so their supervisors)
