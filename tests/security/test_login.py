"""Log-in as a hostile user tries it: many wrong passwords at once, guessing, probing ids.

Each test goes through the real HTTP edge (the server in this process on a free port).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import argon2
import pytest

from cti.app import ServerSettings
from tests.security.edge import config_with, pbkdf2, serving

# A legacy hash made slow on purpose: a check that ran on the event loop would hold it this long.
SLOW_ITERATIONS = 2_000_000


class LoopWatch:
    """How long, at most, the event loop went without coming back to a task that asked to wake up
    right away: a slow-callback detector that needs no debug mode."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(0)
            self.longest = max(self.longest, time.monotonic() - started)

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_wrong_passwords_in_parallel_do_not_stall_other_requests(tmp_path: Path) -> None:
    agents = [{"id": f"agent{n}", "password": pbkdf2(f"right{n}", iterations=SLOW_ITERATIONS)}
              for n in range(8)]
    started = time.monotonic()
    pbkdf2("x", iterations=SLOW_ITERATIONS)
    one_check = time.monotonic() - started
    async with serving(tmp_path, config_with(agents)) as edge:
        assert await edge.healthz() == 200
        finished: list[str] = []

        async def wrong(agent_id: str) -> int:
            status, _, _ = await edge.login(agent_id, "wrong")
            finished.append(agent_id)
            return status

        with LoopWatch() as watch:
            logins = [asyncio.create_task(wrong(a["id"])) for a in agents]
            await asyncio.sleep(0)  # the log-ins are on their way
            assert await edge.healthz() == 200
            answered_while_hashing = len(finished) < len(agents)
            statuses = await asyncio.gather(*logins)
        assert statuses == [401] * len(agents)
        # /healthz is answered while the password checks still run, and no check held the loop
        # for anything like the time one check takes.
        assert answered_while_hashing
        assert watch.longest < one_check / 2, (watch.longest, one_check)


async def test_sixty_wrong_passwords_are_slowed_and_then_locked_out(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    agents = [{"id": "alice", "password": pbkdf2("correct horse")},
              {"id": "bob", "password": pbkdf2("bob's own")}]
    caplog.set_level(logging.INFO)
    async with serving(tmp_path, config_with(agents)) as edge:
        answers = [await edge.login("alice", f"guess-{n}") for n in range(60)]
        statuses = [status for status, _, _ in answers]
        assert statuses[:3] == [401, 401, 401]  # a few typos are free
        refused = [(body, headers) for status, body, headers in answers if status == 429]
        assert len(refused) >= 50
        for body, headers in refused:
            assert body["error_id"] == "too-many-attempts"
            assert int(headers["Retry-After"]) >= 1
        # The right password does not get in while the account is held back.
        status, body, headers = await edge.login("alice", "correct horse")
        assert (status, body["error_id"]) == (429, "too-many-attempts")
        assert int(headers["Retry-After"]) >= 1
        # Another account from the same address is not affected by alice's few failures.
        status, _, _ = await edge.login("bob", "bob's own")
        assert status == 200
    failures = [r for r in caplog.records if getattr(r, "agent_id", None) == "alice"
                and getattr(r, "client", None) == "127.0.0.1"]
    assert failures, "failed log-ins are logged with the agent id and the client address"
    assert not any("guess-" in r.getMessage() or "guess-" in str(r.__dict__) for r in caplog.records)


async def test_guesses_sent_in_parallel_do_not_get_around_the_delays(tmp_path: Path) -> None:
    async with serving(tmp_path, config_with([{"id": "alice", "password": pbkdf2("pw")}])) as edge:
        answers = await asyncio.gather(*(edge.login("alice", f"guess-{n}") for n in range(30)))
        statuses = [status for status, _, _ in answers]
        # However many arrive at once, no more are checked than the free failures allow.
        assert statuses.count(401) <= 3, statuses
        assert all(s == 429 for s in statuses if s != 401)
        assert all(body["error_id"] == "too-many-attempts" for s, body, _ in answers if s == 429)


async def test_delays_grow_with_each_failure(tmp_path: Path) -> None:
    async with serving(tmp_path, config_with([{"id": "alice", "password": pbkdf2("pw")}])) as edge:
        for _ in range(3):
            assert (await edge.login("alice", "nope"))[0] == 401
        status, body, headers = await edge.login("alice", "nope")
        assert (status, body["error_id"], headers["Retry-After"]) == (429, "too-many-attempts", "1")
        deadline = time.monotonic() + 10
        while (answer := await edge.login("alice", "nope"))[0] == 429:
            assert time.monotonic() < deadline, "the delay never ended"
            await asyncio.sleep(0.1)
        assert answer[0] == 401
        status, _, headers = await edge.login("alice", "pw")
        assert (status, headers["Retry-After"]) == (429, "2")


async def test_a_locked_account_refuses_even_the_right_password(tmp_path: Path) -> None:
    login = {"account_failures_before_delay": 100, "account_failures_before_lockout": 5,
             "lockout_seconds": 120}
    agents = [{"id": "alice", "password": pbkdf2("pw")}, {"id": "bob", "password": pbkdf2("pw")}]
    async with serving(tmp_path, config_with(agents, login=login)) as edge:
        assert [(await edge.login("alice", "nope"))[0] for _ in range(5)] == [401] * 5
        status, body, headers = await edge.login("alice", "pw")
        assert (status, body["error_id"]) == (429, "too-many-attempts")
        assert 0 < int(headers["Retry-After"]) <= 120
        assert (await edge.login("bob", "pw"))[0] == 200


async def test_one_address_guessing_many_ids_is_locked_out(tmp_path: Path) -> None:
    login = {"address_failures_before_delay": 100, "address_failures_before_lockout": 8}
    async with serving(tmp_path, config_with([{"id": "alice", "password": pbkdf2("pw")}],
                                             login=login)) as edge:
        assert [(await edge.login(f"user{n}", "123456"))[0] for n in range(8)] == [401] * 8
        status, body, headers = await edge.login("alice", "pw")
        assert (status, body["error_id"]) == (429, "too-many-attempts")
        assert int(headers["Retry-After"]) >= 1


async def test_behind_a_trusted_proxy_the_lock_out_is_per_client_not_per_proxy(tmp_path: Path) -> None:
    """Every client behind the reverse proxy shares its address: the throttle must count the
    client the proxy names (as the chat's caps do), or one guesser locks out the whole center."""
    login = {"address_failures_before_delay": 100, "address_failures_before_lockout": 8}
    raw = config_with([{"id": "alice", "password": pbkdf2("pw")}], login=login,
                      traffic={"trusted_proxies": ["127.0.0.1/32"]})
    async with serving(tmp_path, raw) as edge:
        async def attempt(agent_id: str, password: str, client: str) -> int:
            async with edge.http.post(f"{edge.url}/api/login", headers={"X-Forwarded-For": client},
                                      json={"agent_id": agent_id, "password": password}) as r:
                return r.status
        assert [await attempt(f"user{n}", "123456", "203.0.113.7") for n in range(8)] == [401] * 8
        assert await attempt("alice", "pw", "203.0.113.7") == 429  # the guesser is locked out
        assert await attempt("alice", "pw", "198.51.100.9") == 200  # her colleague is not


async def test_nodes_sharing_redis_share_the_lock_out(tmp_path: Path, redis_url: str,
                                                      unique_prefix: str) -> None:
    login = {"account_failures_before_delay": 100, "account_failures_before_lockout": 3}
    raw = config_with([{"id": "alice", "password": pbkdf2("pw")}], login=login)

    def node(name: str) -> ServerSettings:
        return ServerSettings(db_url=f"sqlite+aiosqlite:///{tmp_path / name}.db", redis_url=redis_url,
                              redis_prefix=unique_prefix, node_id=name)

    async with serving(tmp_path, raw, settings=node("a")) as a, \
            serving(tmp_path, raw, settings=node("b")) as b:
        assert [(await a.login("alice", "nope"))[0] for _ in range(3)] == [401] * 3
        status, body, _ = await b.login("alice", "pw")
        assert (status, body["error_id"]) == (429, "too-many-attempts")


def _spy_on_argon2(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The argon2 hashes the server verified against (the real verification still runs)."""
    seen: list[str] = []
    original = argon2.PasswordHasher.verify

    def verify(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        seen.append(hash if isinstance(hash, str) else hash.decode())
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return seen


async def test_unknown_ids_cost_a_hash_like_known_ones(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_argon2(monkeypatch)
    async with serving(tmp_path, config_with([{"id": "alice", "password": pbkdf2("pw")}])) as edge:
        unknown = await edge.login("nobody", "pw")
        assert len(seen) == 1 and seen[0].startswith("$argon2id$")
        known = await edge.login("alice", "wrong")
        # One answer for both: the same status and body, and the unknown id paid for a hash.
        assert unknown[:2] == known[:2] == (401, known[1])
        assert known[1]["error_id"] == "bad-credentials"


def _upgrades(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT agent_id, hash, replaces FROM credential_upgrades"))


async def test_a_legacy_hash_is_upgraded_at_the_next_log_in(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_argon2(monkeypatch)
    legacy = pbkdf2("old password")
    async with serving(tmp_path, config_with([{"id": "ann", "password": legacy}])) as edge:
        assert (await edge.login("ann", "old password"))[0] == 200
        [(agent_id, upgraded, _)] = _upgrades(tmp_path / "cti.db")
        assert agent_id == "ann" and upgraded.startswith("$argon2id$")
        seen.clear()
        assert (await edge.login("ann", "old password"))[0] == 200
        assert seen == [upgraded]  # checked against the stored argon2id hash now
        assert (await edge.login("ann", "wrong"))[0] == 401

    # The administrator sets a new password in the configuration: it wins over the upgrade.
    async with serving(tmp_path, config_with([{"id": "ann", "password": pbkdf2("new password")}])) as edge:
        assert (await edge.login("ann", "old password"))[0] == 401
        assert (await edge.login("ann", "new password"))[0] == 200
    [(_, again, _)] = _upgrades(tmp_path / "cti.db")
    assert again != upgraded and again.startswith("$argon2id$")


async def test_configured_argon2id_hashes_log_in(tmp_path: Path) -> None:
    stored = argon2.PasswordHasher().hash("pw")
    async with serving(tmp_path, config_with([{"id": "ann", "password": stored}])) as edge:
        assert (await edge.login("ann", "pw"))[0] == 200
        assert (await edge.login("ann", "pW"))[0] == 401


async def test_the_upgrade_is_kept_on_postgresql_too(tmp_path: Path, pg_schema: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_argon2(monkeypatch)
    raw = config_with([{"id": "ann", "password": pbkdf2("old password")}])
    settings = ServerSettings(db_url=pg_schema, node_id="login-pg")
    async with serving(tmp_path, raw, settings=settings) as edge:
        assert (await edge.login("ann", "old password"))[0] == 200
    seen.clear()
    async with serving(tmp_path, raw, settings=settings) as edge:  # a restart: read from the database
        assert (await edge.login("ann", "old password"))[0] == 200
    assert len(seen) == 1 and seen[0].startswith("$argon2id$")
