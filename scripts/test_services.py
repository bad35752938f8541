#!/usr/bin/env python3
"""PostgreSQL and Redis for the test suite: the configured ones when they answer, else our own.

    scripts/test_services.py [--] COMMAND [ARG...]

Runs COMMAND (``scripts/test`` runs pytest) with ``CTI_TEST_POSTGRES`` and ``CTI_TEST_REDIS``
naming services that answer. A service that does not answer at its configured address (the
defaults are those of ``tests/conftest.py``) is started here, from Debian's packages, on a free
loopback port, in a temporary folder, and stopped, folder removed, when COMMAND ends:

- PostgreSQL: ``initdb`` (``/usr/lib/postgresql/<version>/bin``) with trust authentication for
  the configured user, the configured database created, no fsync (the data is thrown away).
- Redis: ``redis-server`` without persistence.

PostgreSQL refuses to run as root: as root both run as the ``postgres`` system user (made by
Debian's package), else as ``nobody``. COMMAND's exit status is ours; a service that cannot be
started is one line on stderr and exit status 1. ``CTI_TEST_SERVICES_DIR`` tells COMMAND where
the logs of the services started here are (unset when none was).

Run it with the project's environment (``.venv/bin/python``): it asks the configured services
with psycopg and redis-py, so a server that answers but refuses us (a password, no ``test``
database) counts as absent.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

# The same defaults as tests/conftest.py.
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 60.0  # seconds: initdb and a first start on a loaded two-core machine


class ServiceError(Exception):
    """A service could not be started; the message says which and why, in one line."""


@dataclass(frozen=True, slots=True)
class RunAs:
    """Who the services run as: None is whoever runs this script."""

    uid: int
    gid: int
    name: str


def service_user() -> RunAs | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
    raise ServiceError("running as root, and neither a postgres nor a nobody user exists to run "
                       "PostgreSQL as (it refuses root)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _why_not_postgres(url: str) -> str | None:
    """None when the database at ``url`` takes us, else why not (one line)."""
    import psycopg

    parts = urlsplit(url)
    plain = urlunsplit(parts._replace(scheme=parts.scheme.split("+")[0], query=""))
    try:
        with psycopg.connect(plain, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _why_not_redis(url: str) -> str | None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    finally:
        client.close()


def _spawn(argv: Sequence[str], *, workdir: Path, log: Path, run_as: RunAs | None) -> subprocess.Popen[bytes]:
    """A service process in a session of its own: a Ctrl-C meant for the tests does not stop it
    under them; we stop it after."""
    with log.open("ab") as out:
        if run_as is None:
            return subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        return subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                user=run_as.uid, group=run_as.gid, extra_groups=[])


def _run(argv: Sequence[str], *, workdir: Path, run_as: RunAs | None, what: str) -> None:
    if run_as is None:
        done = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=START_TIMEOUT, check=False)
    else:
        done = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=START_TIMEOUT, check=False,
                              user=run_as.uid, group=run_as.gid, extra_groups=[])
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"
        last = said.splitlines()[-1]
        raise ServiceError(f"{what} failed: {last}")


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], *, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ServiceError(f"{what} exited with status {process.returncode}: {tail[0]} (log {log})")
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} did not answer within {START_TIMEOUT:.0f} s (log {log})")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], how: signal.Signals = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(how)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's binaries (they are not on PATH), else those on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ServiceError("PostgreSQL's initdb is not installed (Debian package: postgresql)")


@contextlib.contextmanager
def own_postgres(configured: str, workdir: Path, run_as: RunAs | None) -> Iterator[str]:
    """A PostgreSQL of our own, with the configured user and database; yields its URL."""
    binaries = postgres_bin()
    parts = urlsplit(configured)
    user = parts.username or "postgres"
    database = parts.path.lstrip("/") or "test"
    data = workdir / "postgres"
    log = workdir / "postgres.log"
    _run([str(binaries / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8",
          "--locale=C", "--no-sync"], workdir=workdir, run_as=run_as, what="initdb")
    port = free_port()
    process = _spawn([str(binaries / "postgres"), "-D", str(data), "-p", str(port),
                      "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={workdir}",
                      # Thrown away after the run: durability costs time and buys nothing.
                      "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                      # End-to-end tests run several server processes, each with its pool.
                      "-c", "max_connections=200"],
                     workdir=workdir, log=log, run_as=run_as)
    try:
        def ready() -> bool:
            return subprocess.run([str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                                  check=False, stdin=subprocess.DEVNULL).returncode == 0
        _wait(ready, process, what="postgres", log=log)
        _run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, database],
             workdir=workdir, run_as=run_as, what=f"createdb {database}")
        netloc = f"{user}@127.0.0.1:{port}"
        yield urlunsplit((parts.scheme or "postgresql+psycopg", netloc, f"/{database}", "", ""))
    finally:
        # A fast shutdown: SIGTERM's smart one would wait for a client a test left connected.
        _stop(process, signal.SIGINT)


@contextlib.contextmanager
def own_redis(configured: str, workdir: Path, run_as: RunAs | None) -> Iterator[str]:
    """A Redis of our own, nothing saved; yields its URL (the configured database number)."""
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server"
                                               if os.path.exists("/usr/bin/redis-server") else None)
    if binary is None:
        raise ServiceError("redis-server is not installed (Debian package: redis-server)")
    parts = urlsplit(configured)
    port = free_port()
    log = workdir / "redis.log"
    process = _spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"],
                     workdir=workdir, log=log, run_as=run_as)
    url = urlunsplit((parts.scheme or "redis", f"127.0.0.1:{port}", parts.path or "/0", "", ""))
    try:
        _wait(lambda: _why_not_redis(url) is None, process, what="redis-server", log=log)
        yield url
    finally:
        _stop(process)


@contextlib.contextmanager
def _workdir(run_as: RunAs | None) -> Iterator[Path]:
    parent = Path(tempfile.gettempdir())
    if run_as is not None and not parent.stat().st_mode & 0o001:
        parent = Path("/tmp")  # a TMPDIR only root may enter would keep the services out
    path = Path(tempfile.mkdtemp(prefix="cti-test-services-", dir=parent))
    try:
        if run_as is not None:
            os.chown(path, run_as.uid, run_as.gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _say(line: str) -> None:
    print(f"test: {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def services(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """``env`` with CTI_TEST_POSTGRES and CTI_TEST_REDIS naming services that answer, for as
    long as the block runs."""
    postgres = env.get("CTI_TEST_POSTGRES") or DEFAULT_POSTGRES
    redis_url = env.get("CTI_TEST_REDIS") or DEFAULT_REDIS
    why_postgres = _why_not_postgres(postgres)
    why_redis = _why_not_redis(redis_url)
    out = dict(env)
    if why_postgres is None and why_redis is None:
        yield out
        return
    run_as = service_user()
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(_workdir(run_as))
        out["CTI_TEST_SERVICES_DIR"] = str(workdir)
        user = f" as {run_as.name}" if run_as else ""
        if why_postgres is not None:
            out["CTI_TEST_POSTGRES"] = stack.enter_context(own_postgres(postgres, workdir, run_as))
            _say(f"PostgreSQL at {_where(postgres)} does not answer ({why_postgres}): "
                 f"started one{user} at {_where(out['CTI_TEST_POSTGRES'])}, stopped at the end")
        if why_redis is not None:
            out["CTI_TEST_REDIS"] = stack.enter_context(own_redis(redis_url, workdir, run_as))
            _say(f"Redis at {_where(redis_url)} does not answer ({why_redis}): "
                 f"started one{user} at {_where(out['CTI_TEST_REDIS'])}, stopped at the end")
        yield out


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def run_command(argv: Sequence[str], env: dict[str, str]) -> int:
    """COMMAND in the foreground. A terminal's Ctrl-C reaches it directly (same process group);
    a SIGTERM or SIGHUP sent to us is passed on; either way we wait for it, then stop ours."""
    child = subprocess.Popen(argv, env=env)

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGTERM, signal.SIGHUP)}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str]) -> int:
    command = list(argv[1:] if argv and argv[0] == "--" else argv)
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with services(dict(os.environ)) as env:
            returncode = run_command(command, env)
    except ServiceError as exc:
        _say(f"cannot start the test services: {exc}")
        return 1
    # A command killed by a signal: the shell's convention, 128 + the signal.
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
