"""The two nodes of docker-compose.yml, started as their image starts them (the entry point, the
configuration template, the command of the compose file) on one PostgreSQL and one Redis: both
serve, and a log-in on one is good on the other (they share ``token_secret`` from .env)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.compose import SERVER_NODES, resolve
from tests.deploy.nodes import compose_nodes, request

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_both_nodes_serve_on_one_postgresql_and_redis_and_share_log_ins(
        tmp_path: Path, pg_schema: str, redis_url: str, unique_prefix: str) -> None:
    with compose_nodes(resolve(tmp_path), SERVER_NODES, tmp_path=tmp_path, db=pg_schema, redis=redis_url,
                       prefix=unique_prefix) as urls:
        first, second = (urls[name] for name in SERVER_NODES)
        # filled_env() hashed "pw-<variable name>" for each person
        login = request(f"{first}/api/login", body={"agent_id": "alice",
                                                    "password": "pw-cti_alice_password_hash"})
        assert request(f"{second}/api/me", token=login["token"])["id"] == "alice"
