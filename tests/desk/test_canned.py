"""Canned replies: variables filled from the conversation, each team reading only its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.canned import expand
from cti.config import ConfigError, parse_config
from tests.adapters.center import center_config
from tests.desk.support import desk_center
from tests.security.chat_support import take_offer, visitor
from tests.wsclient import JsonSocket


def test_known_variables_are_filled_and_unknown_ones_stay_visible() -> None:
    values = {"customer.name": "Vera", "agent.name": "Alice"}
    assert expand("Hi {customer.name}, {agent.name} here. {coupon.code} {customer.name}", values) == \
        "Hi Vera, Alice here. {coupon.code} Vera"


def test_a_value_is_text_never_a_second_template() -> None:
    # A customer who calls themself "{agent.name}" is not expanded twice; markup stays text (the
    # page puts the result into a text box, never into HTML).
    values = {"customer.name": "{agent.name} <b>x</b>", "agent.name": "Alice"}
    assert expand("Hi {customer.name}", values) == "Hi {agent.name} <b>x</b>"


def test_braces_that_are_not_variables_are_kept() -> None:
    assert expand("{ not one } {} {{customer.name}}", {"customer.name": "V"}) == "{ not one } {} {V}"


@pytest.mark.integration
async def test_agents_read_their_teams_replies_and_no_other(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        status, options = await center.api("alice", "GET", "/api/desk-options")
        assert status == 200
        assert [r["id"] for r in options["canned_replies"]] == ["hello", "refund"]
        status, options = await center.api("olga", "GET", "/api/desk-options")
        assert [r["id"] for r in options["canned_replies"]] == ["hello", "deal"]
        status, options = await center.api("ada", "GET", "/api/desk-options")
        assert [r["id"] for r in options["canned_replies"]] == ["hello", "refund", "deal"]
        assert options["dispositions"] == ["resolved", "callback"]
        assert options["away_reasons"] == ["lunch", "coaching"]


@pytest.mark.integration
async def test_replies_for_a_conversation_come_filled_in(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        alice = await center.agent_socket("alice")
        vera, _ = await visitor(center, name="Vera <i>Victim</i>")
        await vera.send({"type": "message", "body": "hi"})
        offer = await take_offer(alice)
        iid = offer["interaction_id"]
        status, body = await center.api("alice", "GET", f"/api/interactions/{iid}/canned-replies")
        assert status == 200, body
        by_id = {r["id"]: r for r in body["canned_replies"]}
        assert set(by_id) == {"hello", "refund"}
        assert by_id["hello"]["text"] == "Hello Vera <i>Victim</i>, I am Alice Martin. {coupon.code}"
        assert by_id["refund"]["text"] == f"Your refund for {iid} is on its way."
        # Someone else's conversation: not theirs to read.
        status, body = await center.api("olga", "GET", f"/api/interactions/{iid}/canned-replies")
        assert (status, body["error_id"]) == (403, "not-your-interaction")
        await vera.close()
        await alice.close()


@pytest.mark.integration
async def test_the_hello_carries_the_desk_options(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        token = await center.token("olga")
        sock = JsonSocket(await center.http.ws_connect(
            center.url.replace("http", "ws", 1) + f"/ws/agent?token={token}"))
        hello = await sock.expect("hello")
        assert hello["desk"]["dispositions"] == ["resolved", "callback"]
        assert hello["desk"]["away_reasons"] == ["lunch", "coaching"]
        assert [r["id"] for r in hello["desk"]["canned_replies"]] == ["hello", "deal"]
        await sock.close()


def test_a_reply_for_an_unknown_team_is_refused() -> None:
    with pytest.raises(ConfigError, match="canned reply 'x': unknown teams"):
        parse_config(center_config({}, canned_replies=[{"id": "x", "title": "X", "body": "b",
                                                         "teams": ["nope"]}]))


@pytest.mark.integration
async def test_a_supervisor_edits_their_teams_replies_and_no_other(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        reply = {"title": "Wait", "body": "One moment, {customer.name}.", "teams": ["support"]}
        status, body = await center.api("sam", "PUT", "/api/canned-replies/wait", reply)
        assert status == 200, body
        assert body["actor"] == "sam"  # a version of the configuration, audited with who made it
        _, options = await center.api("alice", "GET", "/api/desk-options")
        assert "wait" in [r["id"] for r in options["canned_replies"]]
        _, options = await center.api("olga", "GET", "/api/desk-options")
        assert "wait" not in [r["id"] for r in options["canned_replies"]]
        refusals = [
            ("PUT", "/api/canned-replies/x", {**reply, "teams": ["sales"]}),  # another team's
            ("PUT", "/api/canned-replies/x", {**reply, "teams": []}),  # everyone's: admins only
            ("PUT", "/api/canned-replies/deal", {**reply}),  # taking over sales' reply
            ("DELETE", "/api/canned-replies/hello", None),  # everyone's reply
        ]
        for method, path, data in refusals:
            status, body = await center.api("sam", method, path, data)
            assert (status, body["error_id"]) == (403, "not-your-team"), (method, path, body)
        status, body = await center.api("alice", "PUT", "/api/canned-replies/mine", reply)
        assert (status, body["error_id"]) == (403, "wrong-role"), body
        status, _ = await center.api("sam", "DELETE", "/api/canned-replies/wait")
        assert status == 200
        assert "wait" not in [r.id for r in center.services.config.canned_replies]
        status, body = await center.api("ada", "PUT", "/api/canned-replies/all", {"title": "A", "body": "b"})
        assert status == 200, body
        status, body = await center.api("sam", "PUT", "/api/canned-replies/bad",
                                        {**reply, "body": "x" * 5000})
        assert (status, body["error_id"]) == (400, "invalid-config"), body


@pytest.mark.integration
async def test_open_desks_get_the_admins_changes_without_a_reconnect(tmp_path: Path) -> None:
    async with desk_center(tmp_path) as center:
        socks = {}
        for agent in ("alice", "olga"):
            token = await center.token(agent)
            socks[agent] = JsonSocket(await center.http.ws_connect(
                center.url.replace("http", "ws", 1) + f"/ws/agent?token={token}"))
            await socks[agent].expect("hello")
        reply = {"title": "Wait", "body": "One moment, {customer.name}.", "teams": ["support"]}
        status, body = await center.api("sam", "PUT", "/api/canned-replies/wait", reply)
        assert status == 200, body
        pushed = await socks["alice"].expect("desk.options")
        assert [r["id"] for r in pushed["desk"]["canned_replies"]] == ["hello", "refund", "wait"]
        status, body = await center.api("ada", "PUT", "/api/admin/away_reasons",
                                        {"value": ["lunch", "team meeting"]})
        assert status == 200, body
        for agent in ("alice", "olga"):
            pushed = await socks[agent].expect("desk.options")
            assert pushed["desk"]["away_reasons"] == ["lunch", "team meeting"]
        # Olga's desk did not change with support's reply: her first push is the away reasons.
        assert "wait" not in [r["id"] for r in pushed["desk"]["canned_replies"]]
        for sock in socks.values():
            await sock.close()
