"""asterisk-config/: endpoints, the AMI user, queue, music, features, modules, sounds, README.

The AMI checks replay the recorded sessions (tests/fixtures/ami/*.jsonl, recorded with an AMI user
that read everything) through the classes and event filters of our user ``cti``: every event the
bridge tracks must still arrive, the noise must not.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI

from .astconf import CONF_DIR, RECORDINGS, Section, by_type, every, last, load, load_dialplan, resolved
from .posix_regex import compile_posix

AGENTS = ["agent1", "agent2", "agent3"]
PHONES = [*AGENTS, "super1"]


# --- pjsip.conf ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pjsip() -> list[Section]:
    return load("pjsip.conf")


def test_transport(pjsip: list[Section]) -> None:
    transports = by_type(pjsip, "transport")
    assert transports, "no transport"
    assert all(last(t, "protocol") for t in transports.values())


def test_agent_and_supervisor_phones(pjsip: list[Section]) -> None:
    endpoints, aors, auths = by_type(pjsip, "endpoint"), by_type(pjsip, "aor"), by_type(pjsip, "auth")
    for name in PHONES:
        ep = endpoints[name]
        assert last(ep, "context") == "from-agent"
        assert last(ep, "disallow") == "all"
        assert set((last(ep, "allow") or "").split(",")) == {"ulaw", "alaw"}
        assert last(ep, "dtmf_mode")
        assert last(ep, "direct_media") == "no"  # MOH, ChanSpy, MixMonitor need the media
        # qualify_frequency on the AOR: an unreachable phone shows as UNAVAILABLE in DeviceStateChange
        aor = aors[last(ep, "aors") or ""]
        assert int(last(aor, "qualify_frequency") or 0) > 0, name
        auth = auths[last(ep, "auth") or ""]
        assert last(auth, "username") == name


def test_trunk_template_and_example(pjsip: list[Section]) -> None:
    trunk = next(s for s in pjsip if s.name == "trunk")
    assert trunk.is_template
    assert last(resolved(pjsip, trunk), "type") == "endpoint"
    assert last(resolved(pjsip, trunk), "context") == "from-trunk"
    provider = next(s for s in pjsip if s.name == "my-provider" and not s.is_template and s.templates)
    assert provider.templates == ["trunk"]
    endpoints = by_type(pjsip, "endpoint")
    assert last(endpoints["my-provider"], "context") == "from-trunk"
    assert last(by_type(pjsip, "identify")["my-provider"], "endpoint") == "my-provider"
    assert "my-provider" in by_type(pjsip, "aor") and "my-provider" in by_type(pjsip, "auth")
    # click-to-dial dials out through the endpoint named by CTI_TRUNK
    assert last(load_dialplan().globals, "CTI_TRUNK") == "my-provider"


def test_every_secret_is_a_marked_placeholder(pjsip: list[Section]) -> None:
    secrets = [v for s in pjsip for k, v in s.options if k == "password"]
    secrets += [v for s in load("manager.conf") for k, v in s.options if k == "secret"]
    assert len(secrets) == len(PHONES) + 2  # the phones, the provider, the AMI user
    assert all(v.startswith("CHANGE-ME") for v in secrets), secrets


# --- manager.conf ----------------------------------------------------------------------------------

# The class each action the bridge sends is registered with in Asterisk 20-22 (main/manager.c,
# main/features.c, main/manager_bridges.c, apps/app_queue.c, apps/app_mixmonitor.c,
# res/res_manager_devicestate.c); an action with several classes needs any one of them.
ACTION_CLASSES: dict[str, set[str]] = {
    "Login": set(), "Logoff": set(), "Ping": set(), "Events": set(),
    "Originate": {"originate"},
    "Redirect": {"call"}, "BlindTransfer": {"call"}, "Atxfer": {"call"}, "CancelAtxfer": {"call"},
    "Bridge": {"call"}, "Hangup": {"system", "call"}, "Setvar": {"call"}, "Getvar": {"call", "reporting"},
    "Status": {"system", "call", "reporting"}, "CoreShowChannels": {"system", "reporting"},
    "BridgeList": set(), "BridgeInfo": set(), "QueueStatus": set(), "QueuePause": {"agent"},
    "DeviceStateList": {"call", "reporting"},
    "MixMonitor": {"system"}, "MixMonitorMute": {"system", "call"}, "StopMixMonitor": {"system", "call"},
}

# Events the bridge's tracker needs: none may be lost to the classes or the filters.
TRACKED = {
    "Newchannel", "Newstate", "NewCallerid", "NewConnectedLine", "VarSet", "DialBegin", "DialEnd",
    "BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "BridgeMerge", "Hangup", "HangupRequest",
    "SoftHangupRequest", "BlindTransfer", "AttendedTransfer", "LocalOptimizationBegin",
    "LocalOptimizationEnd", "Hold", "Unhold", "MusicOnHoldStart", "MusicOnHoldStop", "UserEvent",
    "ChanSpyStart", "ChanSpyStop", "MixMonitorStart", "MixMonitorStop", "MixMonitorMute",
    "DeviceStateChange", "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "QueueMemberStatus",
    "AgentCalled", "AgentConnect", "AgentComplete", "FullyBooted", "Shutdown", "OriginateResponse",
}
NOISE = {"Newexten", "RTCPSent", "DTMFEnd", "SuccessfulAuth"}


@pytest.fixture(scope="module")
def cti_user() -> list[tuple[str, str]]:
    manager = load("manager.conf")
    return next(s for s in manager if s.name == "cti").options


def classes(options: list[tuple[str, str]], key: str) -> set[str]:
    values = every(options, key)
    assert len(values) == 1, f"{key} given {len(values)} times"
    return {c.strip() for c in values[0].split(",")}


def test_general_settings() -> None:
    general = next(s for s in load("manager.conf") if s.name == "general").options
    assert last(general, "enabled") == "yes"
    assert last(general, "timestampevents") == "yes"  # the bridge dates events by Timestamp
    assert last(general, "webenabled") == "no"


def test_cti_user_acl_denies_first(cti_user: list[tuple[str, str]]) -> None:
    keys = [k for k, _ in cti_user if k in ("deny", "permit")]
    assert keys and keys[0] == "deny" and "permit" in keys
    assert keys.index("permit") > max(i for i, k in enumerate(keys) if k == "deny")
    assert "0.0.0.0/0.0.0.0" in every(cti_user, "deny")
    assert all(not p.startswith("0.0.0.0") for p in every(cti_user, "permit"))


def test_cti_user_has_no_blanket_permissions(cti_user: list[tuple[str, str]]) -> None:
    read, write = classes(cti_user, "read"), classes(cti_user, "write")
    assert "all" not in read and "all" not in write
    assert read == {"call", "dialplan", "user", "agent", "system"}
    assert write == {"call", "originate", "agent", "reporting", "system"}
    assert not write & {"command", "config", "user", "dtmf", "cdr", "verbose", "log"}


def test_write_classes_cover_every_action_of_the_bridge(cti_user: list[tuple[str, str]]) -> None:
    write = classes(cti_user, "write")
    for action, needs in ACTION_CLASSES.items():
        assert not needs or needs & write, action
    # "system" is there for MixMonitor alone: without it every other action still works
    for action, needs in ACTION_CLASSES.items():
        if action != "MixMonitor":
            assert not needs or needs & (write - {"system"}), action


def _frames() -> list[tuple[str, str]]:
    frames = []
    for path in sorted(RECORDINGS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "frame" in record:
                frames.append((record["dir"], record["frame"]))
    return frames


def _header(frame: str, key: str) -> str | None:
    m = re.search(rf"(?:^|\r\n){key}: ([^\r\n]*)", frame)
    return m.group(1) if m else None


def test_recorded_actions_are_all_known() -> None:
    sent = {_header(f, "Action") for d, f in _frames() if d == "out"}
    assert sent and sent <= set(ACTION_CLASSES), sent - set(ACTION_CLASSES)


def test_event_filters_compile_as_posix_regex(cti_user: list[tuple[str, str]]) -> None:
    filters = every(cti_user, "eventfilter")
    assert filters and all(f.startswith("!") for f in filters)  # exclude filters only
    for f in filters:
        compile_posix(f[1:])


def test_recorded_events_through_classes_and_filters(cti_user: list[tuple[str, str]]) -> None:
    """Replay every recorded event: the tracked ones all arrive, the noise does not."""
    read = classes(cti_user, "read")
    excludes = [compile_posix(f[1:]) for f in every(cti_user, "eventfilter")]
    delivered: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for direction, frame in _frames():
        if direction != "in" or not frame.startswith("Event: "):
            continue
        event = _header(frame, "Event") or ""
        if _header(frame, "ActionID") is not None:
            arrives = True  # a response to an action: neither classes nor filters apply
        else:
            privilege = {c.lower() for c in (_header(frame, "Privilege") or "").split(",")} - {"all"}
            arrives = bool(privilege & read) and not any(match(frame) for match in excludes)
        if event == "VarSet":
            variable = _header(frame, "Variable") or ""
            assert arrives == variable.startswith("CTI_"), (variable, arrives)
        (delivered if arrives else dropped)[event] = (delivered if arrives else dropped).get(event, 0) + 1
        if event in TRACKED and event != "VarSet":
            assert arrives, frame
        if event in NOISE:
            assert not arrives, frame
    assert set(delivered) >= TRACKED, TRACKED - set(delivered)  # the recordings hold every one
    assert set(dropped) >= NOISE
    assert sum(dropped.values()) > sum(delivered.values()) / 2  # the filters are worth having


# --- queues, music, features, modules ---------------------------------------------------------------

def test_fallback_queue() -> None:
    queues = {s.name: s.options for s in load("queues.conf")}
    fallback = queues["fallback"]
    assert last(fallback, "ringinuse") == "no"
    assert every(fallback, "member") == [f"PJSIP/{a},0,Agent {a[-1]}" for a in AGENTS]
    endpoints = by_type(load("pjsip.conf"), "endpoint")
    assert all(m.split(",")[0].split("/")[1] in endpoints for m in every(fallback, "member"))
    moh = {s.name for s in load("musiconhold.conf")}
    assert last(fallback, "musicclass") in moh


def test_music_on_hold_classes_are_what_make_sounds_makes() -> None:
    moh = {s.name: s.options for s in load("musiconhold.conf")}
    script = (CONF_DIR / "make_sounds.sh").read_text(encoding="utf-8")
    for cls in ("default", "cti"):
        assert last(moh[cls], "mode") == "files"
        assert f'"$D/{last(moh[cls], "directory")}/' in script, cls


def test_features_for_ami_transfers() -> None:
    features = {s.name: s.options for s in load("features.conf")}
    assert last(features["featuremap"], "atxfer")  # the AMI Atxfer action queues this code
    assert last(features["general"], "atxferabort")  # and CancelAtxfer this one


def test_modules_required_for_the_dial_plan() -> None:
    modules = next(s for s in load("modules.conf") if s.name == "modules").options
    assert last(modules, "autoload") == "yes"
    required = set(every(modules, "require"))
    assert "chan_sip.so" in every(modules, "noload")
    lint = subprocess.run(
        [sys.executable, "-c", "import os, sys\nfrom asterisklint.main import main\n"
         "sys.exit(main(sys.argv[1:], os.environ))", "modules-show", str(CONF_DIR / "extensions.conf")],
        capture_output=True, text=True, timeout=120, check=True,
    )
    used = set(re.findall(r"^load => (\S+)$", lint.stdout, re.M))
    assert used and used <= required, used - required
    for needed in ("app_stack.so", "app_chanspy.so", "app_mixmonitor.so", "res_manager_devicestate.so",
                   "chan_pjsip.so", "res_pjsip_registrar.so", "res_pjsip_endpoint_identifier_ip.so"):
        assert needed in required, needed


# --- sounds -------------------------------------------------------------------------------------------

def test_make_sounds_is_valid_sh() -> None:
    subprocess.run(["sh", "-n", str(CONF_DIR / "make_sounds.sh")], check=True, timeout=30)


@pytest.mark.skipif(shutil.which("sox") is None and not IN_CI,
                    reason="no sox here (only the Asterisk host needs it); CI installs it")
def test_make_sounds_makes_every_sound_the_config_plays(tmp_path: Path) -> None:
    subprocess.run(["sh", str(CONF_DIR / "make_sounds.sh"), str(tmp_path)], check=True, timeout=120,
                   capture_output=True)
    moh = {s.name: s.options for s in load("musiconhold.conf")}
    for cls in ("default", "cti"):
        files = list((tmp_path / (last(moh[cls], "directory") or "")).glob("*.ulaw"))
        assert files and all(f.stat().st_size > 8000 for f in files), cls  # over a second each
    dp = load_dialplan()
    features = next(s for s in load("features.conf") if s.name == "general").options
    prompts = {last(dp.globals, "CTI_PROMPT_ACCOUNT"), last(dp.globals, "CTI_PROMPT_REASON"),
               last(features, "xfersound"), last(features, "xferfailsound"), "pbx-transfer"}
    for prompt in prompts:
        assert (tmp_path / "sounds" / "en" / f"{prompt}.ulaw").stat().st_size > 0, prompt


# --- README -------------------------------------------------------------------------------------------

def test_readme_documents_the_interface() -> None:
    readme = (CONF_DIR / "README.md").read_text(encoding="utf-8")
    for needle in ("CTI_ONLINE", "CTI_HEARTBEAT", "CTI_AGENT", "CTI_CALLER", "CTI_HOLD_TIMEOUT",
                   "CtiQueued", "CtiFallback", "Why: timeout", "ami:", "hold_context", "endpoints",
                   "asterisklint dialplan-check asterisk-config/extensions.conf",
                   "make_sounds.sh", "Asterisk 20"):
        assert needle in readme, needle
    for context in ("from-trunk", "cti-hold", "cti-connect", "cti-agent-ready", "cti-agents", "cti-dialout"):
        assert f"`{context}`" in readme, context
