"""Fuzzing the REST API from its own OpenAPI document with schemathesis.

Every documented operation gets generated requests, valid ones and deliberately invalid ones
(wrong types, missing fields, out-of-range numbers, odd strings), sent to the real server process
with an admin's token. No answer may be a 5xx (503 ``voice-unavailable`` is the documented answer
of call control without an Asterisk link), and every answer must match its documented status
codes, content type and schema. Bounded and deterministic: a fixed number of cases per operation
and hypothesis's derandomised mode, so a failure found once is found again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server_process import RunningServer, run_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VOICE_ABSENT = {"voice-not-configured", "voice-unavailable"}  # documented 503s
# Why the server may refuse a request its schema allows: what the document says in words only
# (characters, ids that are not printable, identities that are not a phone or an address).
# Anything else refused is a disagreement between the document and the code (e.g. bad-limit for
# a documented limit): the document or the code is wrong.
REFUSED_FOR_MEANING = {"bad-characters", "bad-id", "invalid-identity", "invalid-email", "invalid-phone",
                       "bad-cursor",  # a cursor is opaque: only a next_cursor the server gave
                       # Live administration: a valid item may name what does not exist elsewhere (a
                       # team, a queue), repeat what runs already, mismatch its path or demote its admin.
                       "invalid-config", "no-change", "name-mismatch", "would-lock-you-out"}
EXAMPLES_PER_MODE = 10  # per operation and mode: ~650 requests, well under a minute on 2 cores
# Not fuzzed: the sockets and pages are not JSON APIs (their GET without an upgrade is plain HTTP),
# and a log-out would revoke the token the rest of the run uses.
EXCLUDED = r"^/(ws/|agent$|supervisor$|chat$|$|assets/)|^/api/logout$"


@pytest.fixture
def srv(tmp_path: Path, pg_schema: str) -> Iterator[RunningServer]:
    """On PostgreSQL, the production database: it refuses NUL in text, where SQLite stores it."""
    with run_server(tmp_path, db_url=pg_schema) as server:
        yield server


def _token(srv: RunningServer) -> str:
    r = requests.post(f"{srv.url}/api/login", json={"agent_id": "admin", "password": "admin"}, timeout=10)
    r.raise_for_status()
    return str(r.json()["token"])


@pytest.mark.long
def test_no_server_errors_and_every_answer_as_documented(srv: RunningServer) -> None:
    import schemathesis
    from schemathesis import GenerationMode

    document: dict[str, Any] = requests.get(f"{srv.url}/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document).exclude(path_regex=EXCLUDED)
    fuzz = Fuzz(srv.url, {"Authorization": f"Bearer {_token(srv)}"})
    with fuzz.session:
        for result in schema.get_all_operations():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz.run(result.ok(), mode)
    print(f"schemathesis: {fuzz.tried} requests")
    assert fuzz.tried > 200
    assert fuzz.failures == [], "\n".join(fuzz.failures)
    assert "Traceback" not in srv.log(), srv.log()[-3000:]


class Fuzz:
    """Runs the cases of one operation in one generation mode and records what failed."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        from schemathesis.checks import (
            content_type_conformance,
            not_a_server_error,
            response_headers_conformance,
            response_schema_conformance,
            status_code_conformance,
        )

        self.base_url, self.headers = base_url, headers
        self.session = requests.Session()
        self.failures: list[str] = []
        self.tried = 0
        # Not positive_data_acceptance: a schema-valid string may still hold a control character,
        # refused on purpose (bad-characters); that is checked by hand with REFUSED_FOR_MEANING.
        # Not negative_data_rejection: unknown query parameters are ignored, as HTTP APIs do.
        self.checks = [not_a_server_error, status_code_conformance, content_type_conformance,
                       response_headers_conformance, response_schema_conformance]

    def run(self, operation: Any, mode: Any) -> None:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis.errors import Unsatisfiable
        from schemathesis import GenerationMode

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_MODE, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def probe(case: Any) -> None:
            self.probe(case, f"{operation.label} [{mode.value}]", positive=mode is GenerationMode.POSITIVE)

        before = len(self.failures)
        try:
            probe()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, no body): only positive cases exist.
            if mode is not GenerationMode.NEGATIVE:
                raise
        except (Exception, BaseExceptionGroup) as exc:  # go on; report all at the end
            if len(self.failures) == before:  # not a check's failure: the generation itself broke
                self.failures.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}")

    def probe(self, case: Any, label: str, *, positive: bool) -> None:
        self.tried += 1
        response = case.call(base_url=self.base_url, session=self.session, headers=self.headers,
                             timeout=10)
        if response.status_code == 503 and _error_id(response) in VOICE_ABSENT:
            return  # documented: no Asterisk link in this configuration
        if positive and response.status_code == 400:
            refused = _error_id(response)
            if refused not in REFUSED_FOR_MEANING:
                self.failures.append(f"{label}: schema-valid input refused ({refused}): "
                                     f"query={case.query} body={case.body!r:.200}")
        try:
            case.validate_response(response, checks=self.checks)
        except (Exception, BaseExceptionGroup) as exc:
            self.failures.append(f"{label} {response.status_code}: {str(exc)[:1500]}")
            raise


def _error_id(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error_id") if isinstance(body, dict) else None
