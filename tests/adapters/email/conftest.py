"""Fixtures of the e-mail tests: the relay sink, Dovecot, and the channel's configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.email.peers import SmtpSink, dovecot, free_port

__all__ = ["dovecot"]


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    relay = SmtpSink()
    await relay.start()
    try:
        yield relay
    finally:
        await relay.aclose()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


def email_channel(tmp_path: Path, *, smtp_port: int | None, relay_port: int | None,
                  **extra: Any) -> dict[str, Any]:
    section: dict[str, Any] = {"attachments_dir": str(tmp_path / "attachments"), **extra}
    if smtp_port is not None:
        section["smtp"] = {"host": "127.0.0.1", "port": smtp_port}
    if relay_port is not None:
        section["relay"] = {"host": "127.0.0.1", "port": relay_port, "timeout": 5}
    return {"email": section}
