"""The reports' integration tests run on the event log tests' day: the real services on SQLite and
PostgreSQL, a manual clock, the real HTTP app."""

from tests.eventlog.test_day import day  # noqa: F401  (a fixture, found by pytest through this name)
