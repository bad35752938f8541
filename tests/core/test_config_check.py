"""``cti config check``: what loads but would leave customers waiting, from plain configurations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.cli import main
from cti.config import parse_config
from cti.config_check import review


def config(**extra: Any) -> dict[str, Any]:
    return {
        "teams": [{"name": "support", "supervisors": ["sam"]}, {"name": "night"}],
        "queues": [{"name": "support", "skills": {"english": 1}, "service_targets": {"email": 3600}},
                   {"name": "legal", "skills": {"law": 5}, "service_targets": {"chat": 30}}],
        "chat": {"queue": "support"},
        "agents": [
            {"id": "alice", "team": "support", "skills": {"english": 8}, "capacity": {"chat": 2}},
            {"id": "nina", "team": "night", "skills": {"english": 3, "law": 4}, "capacity": {"chat": 1}},
            {"id": "sam", "role": "supervisor", "team": "support", "skills": {}, "capacity": {}},
        ],
        **extra,
    }


def test_what_nobody_can_take_and_who_nobody_supervises() -> None:
    found = review(parse_config(config()))
    assert found.summary[0] == "3 people: 2 agents, 1 supervisor, 0 admins; 2 teams; 2 queues"
    assert found.summary[1] == "channels: chat"  # no e-mail section: e-mail cannot arrive
    assert "queue support: chat 2 (60 s)" in found.summary
    assert found.warnings == [
        "queue 'legal': no agent can take chat (it needs skills {'law': 5} and capacity for chat)",
        "agent 'nina': no supervisor can see or monitor them (team 'night' has none)",
        "team 'night' has no supervisor",
        "no token_secret: one node keeps a generated one in its data directory; several nodes need one "
        "shared secret",
    ]


def test_a_configured_channel_is_checked_for_agents_too() -> None:
    raw = config(channels={"email": {"addresses": {"support@acme.example": "support"}}},
                 token_secret="x" * 32)
    found = review(parse_config(raw))
    assert found.summary[1] == "channels: chat, email"
    assert ("queue 'support': no agent can take email (it needs skills {'english': 1} and capacity "
            "for email)") in found.warnings


def test_the_command_exits_2_on_an_invalid_file_and_0_on_a_valid_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("agents: []\nqueues: []\n", encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 2
    assert "needs at least one queue" in capsys.readouterr().err
    assert main(["config", "check"]) == 0  # the demo
    out = capsys.readouterr().out
    assert "is valid" in out and "queue support: chat" in out
    assert main(["config", "check", "--strict"]) == 1  # the demo has no token_secret
