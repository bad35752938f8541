"""``scripts/test`` starts PostgreSQL and Redis of its own when none answers, and stops them.

The start-up lives in ``scripts/test_services.py``, which ``scripts/test`` runs pytest under;
these tests run it the same way with a probe instead of pytest.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, _reachable, service_address
from tests.server_process import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
HELPER = ROOT / "scripts" / "test_services.py"

# What the test suite would see: the addresses conftest takes from the environment, and whether
# the services there take a query.
PROBE = """
import json, os
import psycopg, redis
from tests import conftest
with psycopg.connect(conftest.POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")) as conn:
    database = conn.execute("select current_database()").fetchone()[0]
client = redis.Redis.from_url(conftest.REDIS_URL)
print(json.dumps({
    "postgres": conftest.service_address(conftest.POSTGRES_URL, 5432),
    "redis": conftest.service_address(conftest.REDIS_URL, 6379),
    "database": database, "pong": client.ping(),
    "dir": os.environ.get("CTI_TEST_SERVICES_DIR"),
}))
client.close()
"""


def _needs_binaries() -> None:
    if glob.glob("/usr/lib/postgresql/*/bin/initdb") and shutil.which("redis-server"):
        return
    if IN_CI:
        pytest.fail("PostgreSQL's or Redis's Debian package is missing; CI must run this test")
    pytest.skip("PostgreSQL's or Redis's Debian package is missing")


@dataclass(frozen=True)
class Seen:
    postgres: tuple[str, int]
    redis: tuple[str, int]
    database: str
    pong: bool
    dir: str | None


def _run(postgres: str, redis_url: str) -> tuple[subprocess.CompletedProcess[str], Seen]:
    env = {**os.environ, "CTI_TEST_POSTGRES": postgres, "CTI_TEST_REDIS": redis_url}
    env.pop("CTI_TEST_SERVICES_DIR", None)
    done = subprocess.run([sys.executable, str(HELPER), "--", sys.executable, "-c", PROBE],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return done, Seen(postgres=tuple(raw["postgres"]), redis=tuple(raw["redis"]), database=raw["database"],
                      pong=raw["pong"], dir=raw["dir"])


def test_with_nothing_listening_it_starts_both_and_stops_them_after() -> None:
    _needs_binaries()
    closed_pg, closed_redis = free_port(), free_port()
    done, seen = _run(f"postgresql+psycopg://postgres@127.0.0.1:{closed_pg}/test",
                      f"redis://127.0.0.1:{closed_redis}/0")
    pg_host, pg_port = seen.postgres
    redis_host, redis_port = seen.redis
    assert (pg_host, redis_host) == ("127.0.0.1", "127.0.0.1")
    assert closed_pg != pg_port and closed_redis != redis_port
    assert seen.database == "test" and seen.pong is True
    said = done.stderr
    assert f"PostgreSQL at 127.0.0.1:{closed_pg} does not answer" in said, said
    assert f"Redis at 127.0.0.1:{closed_redis} does not answer" in said, said
    # Stopped, and their folder gone, once the command is over.
    assert not _reachable("127.0.0.1", pg_port) and not _reachable("127.0.0.1", redis_port)
    assert seen.dir is not None and not Path(seen.dir).exists()


def test_services_that_answer_are_used_as_they_are(postgres_url: str, redis_url: str) -> None:
    done, seen = _run(postgres_url, redis_url)
    assert seen.dir is None and done.stderr == ""
    assert seen.postgres == service_address(postgres_url, 5432)
    assert seen.redis == service_address(redis_url, 6379)


def test_a_service_it_cannot_start_is_one_line_and_a_failure() -> None:
    _needs_binaries()
    # initdb refuses a superuser whose name begins with pg_.
    env = {**os.environ, "CTI_TEST_POSTGRES": f"postgresql+psycopg://pg_nope@127.0.0.1:{free_port()}/test"}
    done = subprocess.run([sys.executable, str(HELPER), "--", sys.executable, "-c", "print('ran')"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("test: cannot start the test services: initdb failed: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


# The user the test command is tried as when the tests run as root: the README promises it
# works for a user (with sudo only for apt, which has nothing to do once the peers are there).
TEST_USER = "cti-test"


def _user() -> pwd.struct_passwd | None:
    """The user to run as (made when missing), or None when we are not root ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", "--shell", "/bin/sh", TEST_USER],
                       check=True, capture_output=True, timeout=60)
        return pwd.getpwnam(TEST_USER)


@contextlib.contextmanager
def _users_checkout(user: pwd.struct_passwd | None) -> Iterator[Path]:
    """A copy of this checkout's files (tracked and new, not ignored: no .venv) that ``user`` owns,
    as a clone of their own would be, in a folder they may enter."""
    copy = Path(tempfile.mkdtemp(prefix="cti-user-checkout-", dir="/tmp"))
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
        for name in filter(None, listed.decode().split("\0")):
            source = ROOT / name
            if source.is_file():  # a file deleted but not yet committed is listed too
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, copy / name)
        if user is not None:
            for path in [copy, *copy.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _as(user: pwd.struct_passwd | None, argv: list[str], env: dict[str, str]) -> list[str]:
    """``argv`` with only ``env`` for an environment, as ``user`` (None: as we are)."""
    if user is None:
        return ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
    env = {**env, "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name}
    return ["runuser", "-u", user.pw_name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]


# A whole virtual environment is installed from the package index: minutes on a busy machine.
@pytest.mark.long
@pytest.mark.timeout(900)
def test_the_test_command_sets_itself_up_as_a_user_with_services_of_its_own() -> None:
    """``./scripts/test --collect-only`` run in a fresh checkout by a user who is not root, told of
    ports where nothing listens: the whole set-up (peers found in /usr/sbin, a .venv of its own,
    PostgreSQL and Redis started as that user) and pytest collecting, then nothing left running."""
    _needs_binaries()
    user = _user()
    closed_pg, closed_redis = free_port(), free_port()
    # A user's environment: a PATH without the sbin folders, no CTI_TEST_SERVICES_DIR of ours.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/"),
           "CTI_TEST_POSTGRES": f"postgresql+psycopg://postgres@127.0.0.1:{closed_pg}/test",
           "CTI_TEST_REDIS": f"redis://127.0.0.1:{closed_redis}/0"}
    # What pip needs to find the packages where this machine keeps them (an index, a proxy).
    passed_on = {"ci", "http_proxy", "https_proxy", "no_proxy"}
    env.update({k: v for k, v in os.environ.items() if k.lower() in passed_on or k.startswith("PIP_")})
    with _users_checkout(user) as checkout:
        done = subprocess.run(_as(user, ["./scripts/test", "--collect-only", "-q", "-p", "no:cacheprovider",
                                         "tests/scripts/test_test_services.py"], env),
                              cwd=checkout, capture_output=True, text=True, timeout=900, check=False)
        said = done.stdout + done.stderr
        assert done.returncode == 0, said
        assert "installing Debian packages" not in said  # dovecot, kamailio, nginx found in /usr/sbin
        assert "installing the project and its dev dependencies into .venv" in said
        assert (checkout / ".venv" / "cti-dev-stamp").is_file()
    assert "test_the_test_command_sets_itself_up_as_a_user_with_services_of_its_own" in done.stdout
    # Started as the user who ran it (as root they would run as postgres): no "as <user>".
    started = re.findall(r"^test: (PostgreSQL|Redis) at 127\.0\.0\.1:(\d+) does not answer .* started one"
                         r" at 127\.0\.0\.1:(\d+), stopped at the end$", done.stderr, re.M)
    assert {(name, int(closed)) for name, closed, _ in started} == {
        ("PostgreSQL", closed_pg), ("Redis", closed_redis)}, done.stderr
    for _, _, port in started:
        assert not _reachable("127.0.0.1", int(port))
