"""The log's two forms: JSON lines for machines, one-line text for a terminal."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from structlog.contextvars import clear_contextvars

from cti.observe.logs import about, bind_node, configure_logging, resolve_format
from tests.server_process import FIXTURES, run_server


@pytest.fixture
def restore_root() -> Iterator[None]:
    """configure_logging replaces the root handler: give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    clear_contextvars()
    yield
    clear_contextvars()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def records(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_keep_a_forged_value_on_its_record_and_carry_the_bound_ids(restore_root: None) -> None:
    out = io.StringIO()
    assert configure_logging(level="info", fmt="json", stream=out) == "json"
    log = logging.getLogger("cti.probe")
    forged = 'int-1"}\n{"level": "INFO", "message": "agent state"}\u2028\x1b[2J'
    bind_node("node-a")
    with about(interaction="int-7", agent="alice"):
        log.warning("chat leave failed interaction=%s", forged)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("command failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the forged line break and the traceback stay inside their records
    first, second = records(out)
    assert first["message"] == f"chat leave failed interaction={forged}"
    assert (first["level"], first["logger"], first["node"]) == ("WARNING", "cti.probe", "node-a")
    assert (first["interaction"], first["agent"]) == ("int-7", "alice")
    assert "interaction" not in second and second["level"] == "ERROR"  # unbound after the block
    assert str(second["exception"]).startswith("Traceback (most recent call last)")
    assert "\u2028" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_secrets_in_fields_are_masked(restore_root: None) -> None:
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    logging.getLogger("cti.probe").info("connected", extra={
        "db": "postgresql://cti:pg-pass-1@db/cti", "auth_token": "tok-2", "redis_password": "rp-3"})
    (record,) = records(out)
    assert record["db"] == "postgresql://cti:***@db/cti"
    assert record["auth_token"] == "***" and record["redis_password"] == "***"
    assert not any(secret in out.getvalue() for secret in ("pg-pass-1", "tok-2", "rp-3"))


def test_the_text_form_escapes_and_shows_the_bound_ids(restore_root: None) -> None:
    out = io.StringIO()
    assert configure_logging(level="info", fmt="text", stream=out) == "text"
    with about(interaction="int-9\nforged", agent="bob"):
        logging.getLogger("cti.probe").info("accepted id=%s", "int-9\nINFO fake")
    (line,) = out.getvalue().splitlines()
    assert line.endswith("INFO cti.probe accepted id=int-9\\x0aINFO fake "
                         "[agent=bob interaction=int-9\\x0aforged]")


def test_auto_is_text_on_a_terminal_and_json_elsewhere(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    try:
        with os.fdopen(terminal, "w", closefd=False) as tty:
            assert resolve_format("auto", tty) == "text"
    finally:
        os.close(controller)
        os.close(terminal)
    with open(tmp_path / "file.log", "w") as plain:
        assert resolve_format("auto", plain) == "json"
        assert resolve_format("text", plain) == "text"


@pytest.mark.e2e
@pytest.mark.slow
def test_the_configuration_can_ask_for_text(tmp_path: Path) -> None:
    config = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    config["logging"] = {"format": "text"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with run_server(tmp_path, config=path) as srv:
        pass
    started = [line for line in srv.log().splitlines() if "server started" in line]
    assert started and not started[0].startswith("{") and " INFO cti.app server started node=" in started[0]
