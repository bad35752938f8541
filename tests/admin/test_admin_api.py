"""/api/admin: every change checked as a file is, stored as a version with the admin's name,
audited, running at once, and undone by a rollback; only admins get in."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.domain import Channel
from tests.admin.support import admin_center

pytestmark = pytest.mark.integration


async def test_only_admins_may_read_or_change_the_configuration(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        for who in ("alice", "sam"):
            status, body = await center.api(who, "GET", "/api/admin/config")
            assert (status, body["error_id"]) == (403, "wrong-role")
            status, body = await center.api(who, "PATCH", "/api/admin/queues/support", {"priority": 5})
            assert (status, body["error_id"]) == (403, "wrong-role")
            # The role is checked before the body is read: a non-admin learns nothing from
            # how a body would have been judged.
            status, body = await center.api(who, "PUT", "/api/admin/chat", ["not", "an", "object"])
            assert (status, body["error_id"]) == (403, "wrong-role")
        async with center.http.get(f"{center.url}/api/admin/config") as r:
            assert r.status == 401
        assert center.services.config.queues["support"].priority == 1


async def test_a_change_is_versioned_audited_running_and_rolled_back(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        status, config = await center.api("ada", "GET", "/api/admin/config")
        assert status == 200 and config["version"] == 1
        status, done = await center.api("ada", "PATCH", "/api/admin/queues/support",
                                        {"service_targets": {"chat": 30, "email": 14400}, "priority": 4})
        assert status == 200, done
        assert done["version"] == 2 and done["actor"] == "ada"
        assert "queues.support.service_targets.chat: 60.0 -> 30.0" in done["summary"]
        assert "queues.support.priority: 1 -> 4" in done["summary"]
        # Running at once: the router's targets and the queue statistics.
        queue = center.services.config.queues["support"]
        assert (queue.priority, queue.target_for(Channel.CHAT)) == (4, 30.0)
        _, stats = await center.api("sam", "GET", "/api/queues")
        assert stats["queues_configured"]["support"]["service_targets"]["chat"] == 30.0

        _, versions = await center.api("ada", "GET", "/api/admin/versions")
        assert [(v["version"], v["actor"], v["action"]) for v in versions["versions"]] == [
            (2, "ada", "change"), (1, "file", "seed")]
        _, audit = await center.api("ada", "GET", "/api/audit?target=config")
        assert audit[0]["actor"] == "ada" and audit[0]["action"] == "config.change"
        assert audit[0]["details"]["version"] == 2

        status, back = await center.api("ada", "POST", "/api/admin/versions/1/rollback")
        assert status == 200, back
        assert back["version"] == 3 and back["summary"][0] == "rollback to version 1"
        assert center.services.config.queues["support"].target_for(Channel.CHAT) == 60.0
        assert center.services.config.queues["support"].priority == 1
        _, diff = await center.api("ada", "GET", "/api/admin/versions/3/diff")
        assert "queues.support.priority: 4 -> 1" in diff["changes"]


async def test_invalid_changes_are_refused_with_the_path_and_nothing_is_stored(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        status, body = await center.api("ada", "PATCH", "/api/admin/queues/support", {"skillz": {"x": 1}})
        assert (status, body["error_id"]) == (400, "invalid-config")
        assert "queues.support.skillz: unknown key, did you mean skills?" in body["message"]
        status, body = await center.api("ada", "PUT", "/api/admin/agents/dave",
                                        {"name": "Dave", "team": "nope"})
        assert (status, body["error_id"]) == (400, "invalid-config")
        assert "unknown team 'nope'" in body["message"]
        status, body = await center.api("ada", "PATCH", "/api/admin/queues/support", {"priority": 11})
        assert (status, body["error_id"]) == (400, "invalid-config")
        status, body = await center.api("ada", "DELETE", "/api/admin/teams/support")
        assert (status, body["error_id"]) == (400, "invalid-config")  # its agents name it
        status, body = await center.api("ada", "PUT", "/api/admin/dispositions", {"value": ["ok",
                                                                                            "bad\nline"]})
        assert (status, body["error_id"]) == (400, "invalid-config")
        # A misspelt key beside the value is refused, not silently dropped.
        status, body = await center.api("ada", "PUT", "/api/admin/dispositions",
                                        {"value": ["resolved"], "valeu": ["spam"]})
        assert (status, body["error_id"]) == (400, "invalid-config")
        assert "valeu" in body["message"]
        _, versions = await center.api("ada", "GET", "/api/admin/versions")
        assert [v["version"] for v in versions["versions"]] == [1]


async def test_a_change_based_on_an_old_version_is_refused(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        headers = {"Authorization": f"Bearer {await center.token('ada')}", "If-Match": "1"}
        async with center.http.put(f"{center.url}/api/admin/dispositions", json={"value": ["resolved"]},
                                   headers=headers) as r:
            assert r.status == 200
        async with center.http.put(f"{center.url}/api/admin/away_reasons", json={"value": ["lunch"]},
                                   headers=headers) as r:
            assert (r.status, (await r.json())["error_id"]) == (409, "config-changed")
        assert center.services.config.dispositions == ("resolved",)
        assert center.services.config.away_reasons == ()


async def test_agents_are_added_live_and_passwords_are_never_shown(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        status, body = await center.api("ada", "PUT", "/api/admin/agents/dave", {
            "name": "Dave", "team": "support", "password": "dave", "skills": {"english": 5},
            "capacity": {"chat": 2}})
        assert status == 200, body
        assert "agents.dave: added" in body["summary"]
        _, agents = await center.api("ada", "GET", "/api/admin/agents")
        assert all("password" not in a for a in agents)
        assert {a["id"]: a["has_password"] for a in agents}["dave"] is True
        # New, he logs in, goes available and is offered a chat: the router knows him.
        dave = await center.agent_socket("dave")
        status, _ = await center.api("ada", "PATCH", "/api/admin/agents/dave", {"skills": {"english": 6}})
        assert status == 200
        assert await center.token("dave")  # the password was kept
        await dave.close()
        # A supervisor's team: sam sees dave.
        _, seen = await center.api("sam", "GET", "/api/agents")
        assert "dave" in {a["id"] for a in seen}


async def test_named_sections_round_trip(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        hours = {"timezone": "Europe/Paris", "days": {"mon": ["08:00-18:00"]}, "holidays": ["2026-12-25"]}
        assert (await center.api("ada", "PUT", "/api/admin/business_hours/office", hours))[0] == 200
        assert (await center.api("ada", "PUT", "/api/admin/queues/night",
                                 {"hours": "office", "overflow": [{"after": 60,
                                                                   "to_queue": "support"}]}))[0] == 200
        assert (await center.api("ada", "PUT", "/api/admin/canned_replies/hello",
                                 {"title": "Hello", "body": "Hello, how can I help?"}))[0] == 200
        assert (await center.api("ada", "PATCH", "/api/admin/teams/support",
                                 {"supervisors": ["sam", "ada"]}))[0] == 200
        assert (await center.api("ada", "PUT", "/api/admin/routing",
                                 {"value": {"offer_timeout": 12}}))[0] == 200
        config = center.services.config
        assert config.queues["night"].hours == "office"
        assert config.queues["night"].overflow[0].to_queue == "support"
        assert config.canned_replies[0].title == "Hello"
        assert config.teams["support"].supervisors == ("sam", "ada")
        assert config.offer_timeout == 12
        _, skills = await center.api("ada", "GET", "/api/admin/skills")
        assert skills["english"]["queues"] == ["support"] and "alice" in skills["english"]["agents"]
        status, body = await center.api("ada", "DELETE", "/api/admin/queues/night")
        assert status == 200 and "queues.night: removed" in body["summary"]
        status, body = await center.api("ada", "GET", "/api/admin/nonsense")
        assert (status, body["error_id"]) == (404, "section-not-found")


async def test_an_admin_cannot_lock_themselves_out(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        status, body = await center.api("ada", "DELETE", "/api/admin/agents/ada")
        assert (status, body["error_id"]) == (400, "would-lock-you-out")
        status, body = await center.api("ada", "PATCH", "/api/admin/agents/ada", {"role": "agent"})
        assert (status, body["error_id"]) == (400, "would-lock-you-out")
        assert center.services.config.agents["ada"].role.value == "admin"


async def test_listed_dispositions_and_away_reasons_are_the_only_ones(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        for section, value in (("dispositions", ["resolved", "callback"]), ("away_reasons", ["lunch"])):
            assert (await center.api("ada", "PUT", f"/api/admin/{section}", {"value": value}))[0] == 200
        assert (await center.api("ada", "PUT", "/api/admin/canned_replies/hi",
                                 {"title": "Hi", "body": "Hello!"}))[0] == 200
        status, options = await center.api("alice", "GET", "/api/desk-options")
        assert status == 200 and options == {
            "dispositions": ["resolved", "callback"], "away_reasons": ["lunch"],
            "canned_replies": [{"id": "hi", "title": "Hi", "body": "Hello!"}]}
        status, body = await center.api("alice", "PUT", "/api/agents/alice/state",
                                        {"state": "away", "reason": "gaming"})
        assert (status, body["error_id"], body["details"]["allowed"]) == (400, "unknown-reason", ["lunch"])
        status, _ = await center.api("alice", "PUT", "/api/agents/alice/state", {"state": "away",
                                                                                 "reason": "lunch"})
        assert status == 200


async def test_odd_version_numbers_are_refused_not_crashed_on(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        for path in ("/api/admin/versions/%C2%B2/diff", "/api/admin/versions?limit=%C2%B2",
                     "/api/admin/versions/99999999999999/diff"):
            status, body = await center.api("ada", "GET", path)
            assert (status, body["error_id"]) == (400, "bad-version"), (path, body)
        status, body = await center.api("ada", "POST", "/api/admin/versions/7/rollback")
        assert (status, body["error_id"]) == (404, "version-not-found")
        headers = {"Authorization": f"Bearer {await center.token('ada')}", "If-Match": "²"}
        async with center.http.put(f"{center.url}/api/admin/dispositions", json={"value": ["x"]},
                                   headers=headers) as r:
            assert (r.status, (await r.json())["error_id"]) == (400, "bad-if-match")


async def test_infinite_numbers_are_refused(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        headers = {"Authorization": f"Bearer {await center.token('ada')}", "Content-Type": "application/json"}
        for body in (b'{"service_targets": {"chat": 1e999}}', b'{"wrap_up_seconds": 1e999}'):
            async with center.http.patch(f"{center.url}/api/admin/queues/support", data=body,
                                         headers=headers) as r:
                assert (r.status, (await r.json())["error_id"]) == (400, "invalid-config")
        assert center.services.live.version == 1
