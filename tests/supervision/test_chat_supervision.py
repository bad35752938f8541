"""Chat monitoring: a supervisor reads a live chat as it happens, whispers to the agent (never to
the customer) and barges in as a second agent, announced to the customer."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.app import ServerSettings
from tests.adapters.center import running_center
from tests.security.scoping import TEAMS
from tests.supervision.helpers import audit_actions, never_said, supervisor_socket, taken_chat

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WHISPER = "Offer her the refund, quietly"


async def test_a_supervisor_follows_a_live_chat_of_the_team_and_nobody_else_does(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        alice = await c.agent_socket("alice")
        visitor, iid = await taken_chat(c, alice)
        sam = await supervisor_socket(c, "sam")
        status, body = await c.api("sam", "GET", f"/api/interactions/{iid}")
        assert status == 200 and [m["body"] for m in body["messages"]] == ["hello from Mia"]
        await visitor.send({"type": "message", "body": "Where is my parcel?"})
        live = await sam.expect(lambda m: m.get("type") == "message.added"
                                and m["message"]["body"] == "Where is my parcel?")
        assert live["interaction_id"] == iid
        status, body = await c.api("sue", "GET", f"/api/interactions/{iid}")
        assert (status, body["error_id"]) == (403, "not-your-interaction")
        for sock in (alice, visitor, sam):
            await sock.close()


async def test_a_whisper_reaches_the_agent_and_never_the_customer(
        tmp_path: Path, database: ServerSettings | None) -> None:
    async with running_center(tmp_path, {}, settings=database, **TEAMS) as c:
        alice = await c.agent_socket("alice")
        visitor, iid = await taken_chat(c, alice)

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/whisper", {"body": WHISPER})
        assert status == 201, body
        heard = await alice.expect("supervision.whisper")
        assert (heard["interaction_id"], heard["supervisor_id"]) == (iid, "sam")
        assert heard["note"]["body"] == WHISPER

        # The agent answers the customer: that reaches the visitor, the whisper before it never did.
        replied = await alice.command({"type": "reply", "interaction_id": iid, "body": "Good news"})
        assert replied["type"] == "ack"
        await visitor.expect(lambda m: m.get("type") == "message" and m["body"] == "Good news")
        assert never_said(visitor, WHISPER)
        # Kept as an internal note, never as a message of the conversation.
        status, stored = await c.api("sam", "GET", f"/api/interactions/{iid}")
        assert WHISPER not in [m["body"] for m in stored["messages"]]
        assert [(n["author_id"], n["body"]) for n in stored["notes"]] == [("sam", WHISPER)]
        # A reconnecting visitor's transcript does not carry it either.
        welcome_text = repr(stored["messages"])
        assert WHISPER not in welcome_text

        status, body = await c.api("sue", "POST", f"/api/interactions/{iid}/whisper", {"body": "hi"})
        assert (status, body["error_id"]) == (403, "not-your-team")
        status, body = await c.api("bob", "POST", f"/api/interactions/{iid}/whisper", {"body": "hi"})
        assert (status, body["error_id"]) == (403, "wrong-role")
        assert ("sam", "chat.whisper", iid) in await audit_actions(c, "sam")
        for sock in (alice, visitor):
            await sock.close()


async def test_a_supervisor_barges_in_announced_and_writes_to_the_customer(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        alice = await c.agent_socket("alice")
        visitor, iid = await taken_chat(c, alice)

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge/messages", {"body": "Hi"})
        assert (status, body["error_id"]) == (409, "not-barged")  # join first
        status, body = await c.api("sue", "POST", f"/api/interactions/{iid}/barge")
        assert (status, body["error_id"]) == (403, "not-your-team")

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge")
        assert status == 200, body
        joined = await visitor.expect("message")
        assert (joined["sender"], joined["body"]) == ("system", "Sam Okafor joined the chat")
        await alice.expect(lambda m: m.get("type") == "message.added"
                           and m["message"]["body"] == "Sam Okafor joined the chat")

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge/messages",
                                   {"body": "I am the team lead, how can I help?"})
        assert status == 201, body
        said = await visitor.expect("message")
        assert (said["sender"], said["agent_name"], said["body"]) == (
            "agent", "Sam Okafor", "I am the team lead, how can I help?")
        # The agent still works the chat, and sees what the supervisor wrote.
        await alice.expect(lambda m: m.get("type") == "message.added"
                           and m["message"]["agent_id"] == "sam")
        replied = await alice.command({"type": "reply", "interaction_id": iid, "body": "Thanks Sam"})
        assert replied["type"] == "ack"
        actions = await audit_actions(c, "sam")
        assert ("sam", "chat.barge", iid) in actions and ("sam", "chat.barge_message", iid) in actions
        for sock in (alice, visitor):
            await sock.close()


async def test_a_supervisor_leaves_a_chat_after_barging_and_the_customer_is_told(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        alice = await c.agent_socket("alice")
        visitor, iid = await taken_chat(c, alice)

        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge/leave")
        assert (status, body["error_id"]) == (409, "not-barged")  # nothing to leave
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge")
        assert status == 200, body
        await visitor.expect(lambda m: m.get("type") == "message"
                             and m["body"] == "Sam Okafor joined the chat")
        status, body = await c.api("sue", "DELETE", f"/api/interactions/{iid}/barge")
        assert (status, body["error_id"]) == (403, "not-your-team")

        status, body = await c.api("sam", "DELETE", f"/api/interactions/{iid}/barge")
        assert status == 200, body
        assert body["barged"] is False and body["announcement"]["body"] == "Sam Okafor left the chat"
        left = await visitor.expect("message")
        assert (left["sender"], left["body"]) == ("system", "Sam Okafor left the chat")
        await alice.expect(lambda m: m.get("type") == "message.added"
                           and m["message"]["body"] == "Sam Okafor left the chat")
        # Gone: writing to the customer needs a new barge, and that is announced again.
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge/messages", {"body": "Hi"})
        assert (status, body["error_id"]) == (409, "not-barged")
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge")
        assert status == 200 and body["announcement"]["body"] == "Sam Okafor joined the chat"
        status, body = await c.api("sam", "POST", f"/api/interactions/{iid}/barge/leave")
        assert status == 200 and body["announcement"]["body"] == "Sam Okafor left the chat"
        actions = await audit_actions(c, "sam")
        assert ("sam", "chat.barge_leave", iid) in actions
        for sock in (alice, visitor):
            await sock.close()
