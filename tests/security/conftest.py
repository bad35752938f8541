"""Fixtures of the security tests."""

from __future__ import annotations

import pytest

from tests.adapters.email.peers import free_port


@pytest.fixture
def smtp_port() -> int:
    return free_port()
