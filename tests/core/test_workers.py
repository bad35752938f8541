"""``cti serve --workers``: when the supervisor restarts a worker, and what it refuses up front."""

from __future__ import annotations

import pytest

from cti.cli import main
from cti.workers import USAGE_EXIT, CrashHistory, RestartPolicy

POLICY = RestartPolicy(first_delay=0.5, max_delay=4.0, stable_after=60.0, max_deaths=5, window=60.0)


def test_a_worker_dying_again_soon_waits_twice_as_long_up_to_the_cap() -> None:
    history = CrashHistory(RestartPolicy(max_deaths=100))
    delays = [history.died(1, now=100.0 * k, uptime=1.0, returncode=-9) for k in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_worker_that_lived_long_starts_its_back_off_afresh() -> None:
    history = CrashHistory(POLICY)
    assert history.died(1, now=0.0, uptime=1.0, returncode=1) == 0.5
    assert history.died(1, now=10.0, uptime=1.0, returncode=1) == 1.0
    assert history.died(1, now=200.0, uptime=120.0, returncode=1) == 0.5


def test_each_worker_has_its_own_back_off() -> None:
    history = CrashHistory(POLICY)
    assert history.died(1, now=0.0, uptime=1.0, returncode=1) == 0.5
    assert history.died(1, now=1.0, uptime=1.0, returncode=1) == 1.0
    assert history.died(2, now=2.0, uptime=1.0, returncode=1) == 0.5


def test_workers_that_keep_dying_are_given_up() -> None:
    history = CrashHistory(POLICY)
    answers = [history.died(k % 2 + 1, now=float(k), uptime=1.0, returncode=1) for k in range(5)]
    assert answers[:4] == [0.5, 0.5, 1.0, 1.0] and answers[4] is None


def test_deaths_spread_over_more_than_the_window_are_not_a_crash_loop() -> None:
    history = CrashHistory(POLICY)
    answers = [history.died(1, now=70.0 * k, uptime=70.0, returncode=1) for k in range(10)]
    assert None not in answers


def test_a_worker_refusing_its_configuration_is_not_restarted() -> None:
    assert CrashHistory(POLICY).died(1, now=0.0, uptime=0.5, returncode=USAGE_EXIT) is None


@pytest.mark.parametrize("extra", [
    [],  # SQLite, no Redis
    ["--redis", "redis://127.0.0.1:6379/0"],  # Redis, but SQLite
    ["--db", "postgresql+psycopg://postgres@127.0.0.1:5432/test"],  # PostgreSQL, no Redis
])
def test_several_workers_need_redis_and_a_shared_database(
        extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "2", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("cti: --workers 2 needs --redis and a PostgreSQL --db")


def test_several_workers_keep_the_rule_of_a_configured_token_secret(
        capsys: pytest.CaptureFixture[str]) -> None:
    # The demo configuration has no token_secret: nodes sharing Redis could not accept each other's tokens.
    assert main(["serve", "--workers", "2", "--redis", "redis://127.0.0.1:6379/0",
                 "--db", "postgresql+psycopg://postgres@127.0.0.1:5432/test"]) == 2
    assert "token_secret: required when nodes share Redis" in capsys.readouterr().err


def test_workers_must_be_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
    assert "at least 1" in capsys.readouterr().err
