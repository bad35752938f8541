"""What a live Asterisk 22 run of ``asterisk-config/`` showed to be risky (issue 11, items 6 and 7).

* A qualified trunk whose provider misses an OPTIONS is "unreachable", and every Dial through it
  fails until the next qualify: qualify is off unless the site turns it on, and the README says when.
* A caller who vanishes without a BYE must not stay up for ever: RTP time-outs on every endpoint.
* The README's placeholder check must be one that can pass: comments name ``CHANGE-ME`` too.
* The agent leg the server originates runs in ``cti-connect`` (or ``cti-agent-ready``), where a
  feature code or a SIP REFER would look the target up: ``TRANSFER_CONTEXT`` sends both to the
  agents' extensions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .astconf import CONF_DIR, Dialplan, by_type, last, load, load_dialplan, pattern_matches, resolved
from .dialsim import Channel, Scenario

README = CONF_DIR / "README.md"
SECRET_FILES = ("pjsip.conf", "manager.conf")


@pytest.fixture(scope="module")
def dp() -> Dialplan:
    return load_dialplan()


def test_the_trunk_is_not_qualified_unless_the_site_turns_it_on() -> None:
    aor = by_type(load("pjsip.conf"), "aor")["my-provider"]
    assert int(last(aor, "qualify_frequency") or 0) == 0
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Qualifying the trunk"):]
    assert "Could not create dialog" in section and "qualify_frequency" in section


def test_every_endpoint_hangs_up_a_call_whose_media_stopped() -> None:
    pjsip = load("pjsip.conf")
    for name in ("agent1", "super1", "my-provider"):
        endpoint = by_type(pjsip, "endpoint")[name]
        section = next(s for s in pjsip if s.name == name and last(resolved(pjsip, s), "type") == "endpoint")
        options = resolved(pjsip, section)
        assert endpoint  # the endpoint exists under that name
        timeout, on_hold = int(last(options, "rtp_timeout") or 0), int(last(options, "rtp_timeout_hold") or 0)
        assert 0 < timeout <= on_hold, (name, timeout, on_hold)


def placeholder_check() -> str:
    """The README's check for placeholders left, as documented (one shell command line)."""
    lines = [line.strip() for line in README.read_text(encoding="utf-8").splitlines()
             if "CHANGE-ME" in line and line.strip().startswith("grep")]
    assert len(lines) == 1, lines
    return lines[0].split("#", 1)[0].strip() if " # " in lines[0] else lines[0]


def run_check(folder: Path) -> subprocess.CompletedProcess[str]:
    command = placeholder_check().replace("/etc/asterisk/", f"{folder}/")
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)


def test_the_placeholder_check_finds_each_placeholder_and_passes_once_they_are_replaced(
        tmp_path: Path) -> None:
    for name in SECRET_FILES:
        shutil.copy(CONF_DIR / name, tmp_path / name)
    found = run_check(tmp_path)
    # the four phones, the provider's user and password, and the AMI secret: every value, no comment
    assert len(found.stdout.splitlines()) == 7, found.stdout
    assert all(not line.split(":", 2)[2].lstrip().startswith(";") for line in found.stdout.splitlines())

    for name in SECRET_FILES:  # what step 2 of the README asks: every placeholder replaced
        text = (tmp_path / name).read_text(encoding="utf-8")
        lines = [line if line.lstrip().startswith(";") else re.sub(r"CHANGE-ME[\w-]*", "s3cr3t-Value", line)
                 for line in text.splitlines()]
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    # pjsip.conf's comments keep the word: the README's old "grep -n CHANGE-ME" could never pass
    assert "CHANGE-ME" in (tmp_path / "pjsip.conf").read_text(encoding="utf-8")
    passed = run_check(tmp_path)
    assert passed.stdout == "" and passed.returncode == 1  # grep: nothing found


@pytest.mark.parametrize(("context", "exten"), [("cti-connect", "s"), ("cti-agent-ready", "s"),
                                                ("cti-agent-ready", "held")])
def test_the_agent_leg_the_server_originates_can_transfer_by_feature_code_or_refer(
        dp: Dialplan, context: str, exten: str) -> None:
    agent = Channel(dp, Scenario(), name="PJSIP/agent1-00000001", caller="201")
    agent.vars["CTI_CALLER"] = "PJSIP/my-provider-00000001"
    run = agent.run(context, exten)
    sets = [i for i, a in enumerate(run.apps) if a[2] == "Set" and a[3].startswith("TRANSFER_CONTEXT=")]
    assert sets, run.apps
    target = run.apps[sets[0]][3].split("=", 1)[1]
    waits = [i for i, a in enumerate(run.apps) if a[2] in ("Bridge", "Wait")]
    assert sets[0] < waits[0]  # set before the leg starts talking or waiting
    # the keypad's digits after the blind-transfer code find the agents' extensions there
    assert any(pattern_matches(e, "202") for e in dp.extensions(target)), target
    features = {s.name: s.options for s in load("features.conf")}
    assert last(features["featuremap"], "blindxfer")
