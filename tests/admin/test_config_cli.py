"""``cti config export`` prints the running version; ``cti config import --dry-run`` shows the
difference and stores nothing; without it the file is a new version a running node takes up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cti.app import ServerSettings
from cti.cli import main
from tests.admin.support import admin_center
from tests.waiting import until

pytestmark = pytest.mark.integration


async def test_export_then_import_a_changed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 redis_url: str, unique_prefix: str) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    settings = ServerSettings(db_url=db, node_id="one", redis_url=redis_url, redis_prefix=unique_prefix)
    async with admin_center(tmp_path, settings) as center:
        status, _ = await center.api("ada", "PATCH", "/api/admin/queues/support", {"priority": 3})
        assert status == 200
        capsys.readouterr()
        assert await _run(["config", "export", "--db", db]) == 0
        out = capsys.readouterr().out
        assert out.startswith("# version 2 by ada (change)")
        exported = yaml.safe_load(out)
        assert exported["queues"][0]["priority"] == 3
        assert set(exported) == {"routing", "teams", "queues", "chat", "agents", "business_hours",
                                 "dispositions", "away_reasons", "canned_replies"}

        exported["queues"][0]["service_targets"]["chat"] = 45
        exported["dispositions"] = ["resolved"]
        changed = tmp_path / "changed.yaml"
        changed.write_text(yaml.safe_dump({"demo": True, **exported}), encoding="utf-8")
        assert await _run(["config", "import", str(changed), "--db", db, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "queues.support.service_targets.chat: 60.0 -> 45" in out
        assert "dispositions: added 'resolved'" in out and "dry run, nothing stored" in out
        assert center.services.live.version == 2

        assert await _run(["config", "import", str(changed), "--db", db, "--actor", "git",
                           "--redis", redis_url, "--redis-prefix", unique_prefix]) == 0
        assert "stored as version 3" in capsys.readouterr().out
        await until(lambda: center.services.config.dispositions == ("resolved",), timeout=5,
                    what="the running node to take version 3")
        _, versions = await center.api("ada", "GET", "/api/admin/versions")
        assert (versions["versions"][0]["actor"], versions["versions"][0]["action"]) == ("git", "import")


async def test_an_invalid_file_is_refused_before_anything(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("queues: [{name: q, skillz: {}}]\n", encoding="utf-8")
    db = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    assert await _run(["config", "import", str(bad), "--db", db, "--dry-run"]) == 2
    assert "queues[0].skillz: unknown key, did you mean skills?" in capsys.readouterr().err


async def _run(argv: list[str]) -> int:
    import asyncio

    # The command runs its own event loop: in a thread, beside the test's.
    return await asyncio.to_thread(main, argv)
