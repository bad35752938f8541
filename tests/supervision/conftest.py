"""Fixtures of the supervision tests: the same databases as the access tests."""

from __future__ import annotations

from tests.security.conftest import database

__all__ = ["database"]
