"""The end-to-end fixtures (one server process per module, one HTTP session per test) are the
e2e suite's own: re-exported here so that pytest finds them, not copied."""

from tests.e2e.conftest import http, srv

__all__ = ["http", "srv"]
