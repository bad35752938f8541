"""The configuration's models: unknown keys are errors with their path and the nearest known key,
``${NAME}`` takes the environment, and queue priorities, overflow and business hours are checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.cli import main
from cti.config import ConfigError, load_config, parse_config


def config(**extra: Any) -> dict[str, Any]:
    return {"queues": [{"name": "support"}, {"name": "billing"}],
            "agents": [{"id": "alice", "skills": {"english": 3}}], **extra}


@pytest.mark.parametrize(("data", "message"), [
    (config(queus=[]), "queus: unknown key, did you mean queues?"),
    ({"queues": [{"name": "q", "skillz": {"a": 1}}]}, "queues[0].skillz: unknown key, did you mean skills?"),
    ({"queues": [{"name": "q"}], "agents": [{"id": "a", "capacty": {}}]},
     "agents[0].capacty: unknown key, did you mean capacity?"),
    ({"queues": [{"name": "q"}], "routing": {"offer_timout": 3}},
     "routing.offer_timout: unknown key, did you mean offer_timeout?"),
    ({"queues": [{"name": "q"}], "http": {"prot": 1}}, "http.prot: unknown key, did you mean port?"),
    ({"queues": [{"name": "q"}], "ami": {"host": "pbx", "secrett": "x"}},
     "ami.secrett: unknown key, did you mean secret?"),
    ({"queues": [{"name": "q"}], "zzz": 1}, "zzz: unknown key"),
])
def test_unknown_keys_are_refused_with_their_path_and_a_suggestion(data: dict[str, Any],
                                                                   message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(data)
    assert message in str(refused.value)


@pytest.mark.parametrize(("queue", "message"), [
    ({"priority": 11}, "queues[0].priority"),
    ({"priority": 0}, "queues[0].priority"),
    ({"overflow": [{"after": 60, "to_queue": "nowhere"}]}, "overflow to unknown queue 'nowhere'"),
    ({"overflow": [{"after": -1, "to_queue": "billing"}]}, "queues[0].overflow[0].after"),
    ({"overflow": [{"afte": 1, "to_queue": "billing"}]},
     "queues[0].overflow[0].afte: unknown key, did you mean after?"),
    ({"hours": "office"}, "unknown business_hours 'office'"),
])
def test_queue_priority_overflow_and_hours_are_checked(queue: dict[str, Any], message: str) -> None:
    data = config()
    data["queues"][0].update(queue)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(data)


def test_a_valid_queue_keeps_its_priority_overflow_and_hours() -> None:
    data = config(business_hours={"office": {"timezone": "Europe/Paris", "days": {"mon": ["08:00-17:30"]},
                                             "holidays": ["2026-12-25"]}})
    data["queues"][0].update(priority=3, overflow=[{"after": 60, "to_queue": "billing"}], hours="office")
    queue = parse_config(data).queues["support"]
    assert (queue.priority, queue.overflow[0].after, queue.overflow[0].to_queue, queue.hours) == (
        3, 60.0, "billing", "office")


@pytest.mark.parametrize(("hours", "message"), [
    ({"days": {"mon": ["17:00-08:00"]}}, "not a span"),
    ({"days": {"monday": ["08:00-17:00"]}}, "unknown weekday 'monday'"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"holidays": ["christmas"]}, r"business_hours\.office\.holidays\[0\]"),
])
def test_business_hours_are_checked(hours: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config(business_hours={"office": hours}))


def test_environment_variables_are_substituted_and_an_unset_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("queues: [{name: support}]\nami: {host: pbx, secret: '${AMI_SECRET}'}\n"
                    "chat: {queue: '${CHAT_QUEUE}'}\n", encoding="utf-8")
    loaded = load_config(path, {"AMI_SECRET": "s3cret", "CHAT_QUEUE": "support"})
    assert loaded.ami is not None and loaded.ami.secret == "s3cret"
    with pytest.raises(ConfigError, match=r"ami\.secret: environment variable AMI_SECRET is not set"):
        load_config(path, {"CHAT_QUEUE": "support"})


def test_a_literal_dollar_brace_is_written_twice(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[queues]]\nname = "q"\naddress = "$${NOT_A_VARIABLE}"\n', encoding="utf-8")
    assert load_config(path, {}).queues["q"].address == "${NOT_A_VARIABLE}"


def test_config_check_uses_the_same_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("queues: [{name: q, skillz: {a: 1}}]\n", encoding="utf-8")
    assert main(["config", "check", str(path)]) == 2
    assert "queues[0].skillz: unknown key, did you mean skills?" in capsys.readouterr().err
    path.write_text("queues: [{name: q}]\nchat: {queue: '${CTI_TEST_QUEUE}'}\n", encoding="utf-8")
    monkeypatch.delenv("CTI_TEST_QUEUE", raising=False)
    assert main(["config", "check", str(path)]) == 2
    assert "CTI_TEST_QUEUE is not set" in capsys.readouterr().err
    monkeypatch.setenv("CTI_TEST_QUEUE", "q")
    assert main(["config", "check", str(path)]) == 0


def test_secrets_are_never_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(config(token_secret="tiny-secret-value"))
    assert "tiny-secret-value" not in str(refused.value) and "at least 32 bytes" in str(refused.value)
