"""The signature a receiver checks, and the verification snippet docs/webhooks.md gives them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cti.webhooks.signing import DELIVERY, SIGNATURE, TIMESTAMP, sign, signed_headers, verify

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = b"s" * 40
BODY = b'{"id":"whd-1","type":"interaction.closed","data":{}}'
NOW = 1_800_000_000


def doc_verify() -> Any:
    """The ``verify`` function of the Python block in docs/webhooks.md, as a receiver copies it."""
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    space: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), space)
    return space["verify"]


def test_the_signature_covers_timestamp_and_body() -> None:
    headers = signed_headers(secret=SECRET, timestamp=NOW, body=BODY, delivery_id="whd-1",
                             event_type="interaction.closed")
    assert headers[TIMESTAMP] == str(NOW) and headers[DELIVERY] == "whd-1"
    assert re.fullmatch(r"v1=[0-9a-f]{64}", headers[SIGNATURE])
    assert verify(secret=SECRET, headers=headers, body=BODY, now=NOW + 10)
    assert not verify(secret=SECRET, headers=headers, body=BODY + b" ", now=NOW)  # body changed
    assert not verify(secret=b"t" * 40, headers=headers, body=BODY, now=NOW)  # another secret
    moved = {**headers, TIMESTAMP: str(NOW + 1)}  # a replay with a fresh timestamp
    assert not verify(secret=SECRET, headers=moved, body=BODY, now=NOW)
    assert not verify(secret=SECRET, headers=headers, body=BODY, now=NOW + 301)  # too old
    assert not verify(secret=SECRET, headers={**headers, TIMESTAMP: "soon"}, body=BODY, now=NOW)
    # The signed text is "<timestamp>.<body>": moving bytes between the two must not verify.
    assert sign(SECRET, 17, b"5.x") != sign(SECRET, 175, b".x")


def test_the_documented_snippet_accepts_a_delivery_and_refuses_a_forgery(
        monkeypatch: pytest.MonkeyPatch) -> None:
    check = doc_verify()
    import time

    monkeypatch.setattr(time, "time", lambda: NOW + 5.0)
    headers = signed_headers(secret=SECRET, timestamp=NOW, body=BODY, delivery_id="whd-1",
                             event_type="interaction.closed")
    assert check(SECRET, headers, BODY)
    assert not check(SECRET, headers, BODY.replace(b"closed", b"queued"))
    assert not check(b"t" * 40, headers, BODY)
    assert not check(SECRET, {k: v for k, v in headers.items() if k != TIMESTAMP}, BODY)
    monkeypatch.setattr(time, "time", lambda: NOW + 3600.0)
    assert not check(SECRET, headers, BODY)
