"""Nothing from outside can break a log line or flood the log with tracebacks.

The boundary refuses control characters in ids, names, reasons and dispositions (see
test_bad_input.py); the log formatter escapes whatever still reaches a message, and a request
aiohttp cannot parse is one warning line, not an ERROR with a traceback.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import RunningServer, run_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_forged_line_in_a_logged_value_stays_on_its_record() -> None:
    from cti.logformat import use_one_line_logs

    out = io.StringIO()
    root = logging.getLogger("forging-probe")
    root.propagate = False
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    try:
        use_one_line_logs(root)
        forged = "int-1\nINFO cti.agents agent state agent=sam\x1b[2J"
        root.warning("chat leave failed interaction=%s", forged)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            root.exception("command failed agent=%s", "al\u2028ice")
    finally:
        root.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0] == ("WARNING forging-probe chat leave failed interaction=int-1\\x0aINFO cti.agents "
                        "agent state agent=sam\\x1b[2J")
    assert lines[1] == "ERROR forging-probe command failed agent=al\\u2028ice"
    assert lines[2] == "Traceback (most recent call last):"  # the traceback keeps its lines


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(Path(tmp_path_factory.mktemp("srv"))) as server:
        yield server


def test_unparseable_requests_are_one_warning_line_each(srv: RunningServer) -> None:
    port = int(srv.url.rsplit(":", 1)[1])
    for i in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: probe%d\x1b[31m\r\n\r\n" % i)
            assert s.recv(100).split(b" ")[1] == b"400"
    deadline = time.monotonic() + 10
    while srv.log().count("bad request") < 3:  # the server writes its log as it goes
        assert time.monotonic() < deadline, srv.log()[-2000:]
        time.sleep(0.05)
    log = srv.log()
    assert "Traceback" not in log, log[-2000:]
    # Off a terminal the log is JSON lines (cti.observe.logs): each record parses on its own.
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    bad = [r for r in records if "bad request" in r["message"]]
    assert len(bad) >= 3 and {r["level"] for r in bad} == {"WARNING"}, bad
    assert not any(r["level"] == "ERROR" or "exception" in r for r in records), log[-2000:]
