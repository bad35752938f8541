"""Bad input gets a 4xx (or a JSON error frame on a socket), never a 500 or a traceback.

Probed as a hostile client would: deeply nested JSON, lone surrogates, NUL and other control
characters in ids, text, path parameters and query values, on SQLite and on PostgreSQL, through
the real HTTP and WebSocket edge of a real server process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import login, only_available, visitor
from tests.server_process import RunningServer, run_server
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEEP = b"[" * 60_000  # 60 kB of '[': under every size limit, far over any sane nesting
SURROGATE = b'"\\ud800"'  # a lone surrogate, as JSON writes it (valid JSON, not valid Unicode)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(tmp_path_factory.mktemp("srv")) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def no_traceback(srv: RunningServer) -> None:
    log = srv.log()
    assert "Traceback" not in log and "internal-error" not in log, log[-3000:]


async def raw_socket(http: aiohttp.ClientSession, url: str) -> JsonSocket:
    return JsonSocket(await http.ws_connect(url))


async def test_deeply_nested_json_is_refused_on_rest_and_both_sockets(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    alice = await login(http, srv, "alice")
    status, body = await alice.call("POST", "/api/customers/link", raw=DEEP)
    assert (status, body["error_id"]) == (400, "too-deep")
    # Under the interpreter's own recursion limit but still far deeper than any real request.
    status, body = await alice.call("POST", "/api/customers/link",
                                    raw=b'{"a": ' + b"[" * 200 + b"]" * 200 + b"}")
    assert (status, body["error_id"]) == (400, "too-deep")

    agent_ws = await alice.socket()
    await agent_ws.ws.send_str(DEEP.decode())
    assert (await agent_ws.expect("error"))["error_id"] == "too-deep"
    ack = await agent_ws.command({"type": "set_state", "state": "away", "reason": "break"})
    assert ack["type"] == "ack"  # the socket is still usable
    await agent_ws.close()

    # The visitor socket needs no log-in at all.
    chat = await raw_socket(http, f"{srv.ws_url}/ws/chat")
    await chat.ws.send_str(DEEP.decode())
    assert (await chat.expect("error"))["error_id"] == "too-deep"
    await chat.send({"type": "hello", "name": "Ann"})
    await chat.expect("welcome")
    await chat.close()
    no_traceback(srv)


async def test_lone_surrogates_and_control_characters_in_bodies_are_refused(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    alice = await login(http, srv, "alice")
    await only_available(http, srv, "alice")
    agent_ws = await alice.socket()
    chat, _ = await visitor(http, srv, name="Ann")
    await chat.send({"type": "message", "body": "hello"})
    offer = await agent_ws.expect("interaction.offered")
    iid = offer["interaction_id"]
    assert (await agent_ws.command({"type": "accept", "interaction_id": iid}))["type"] == "ack"

    for raw in (b'{"body": ' + SURROGATE + b"}", b'{"body": "a\\u0000b"}', b'{"body": "a\\u001bb"}',
                b'{"body": "a\\u0085b"}'):
        status, body = await alice.call("POST", f"/api/interactions/{iid}/reply", raw=raw)
        assert (status, body["error_id"]) == (400, "bad-characters"), raw
    # Keys are strings too.
    status, body = await alice.call("POST", f"/api/interactions/{iid}/reply",
                                    raw=b'{"body": "x", ' + SURROGATE + b": 1}")
    assert (status, body["error_id"]) == (400, "bad-characters")
    status, body = await alice.call("POST", "/api/login",
                                    raw=b'{"agent_id": ' + SURROGATE + b', "password": "x"}')
    assert (status, body["error_id"]) == (400, "bad-characters")
    status, body = await alice.call("POST", "/api/customers/link", raw=(
        b'{"a": {"kind": "email", "value": ' + SURROGATE + b'}, "b": {"kind": "phone", "value": "1"}}'))
    assert (status, body["error_id"]) == (400, "bad-characters")
    # Free text keeps its tabs and line breaks.
    status, body = await alice.call("POST", f"/api/interactions/{iid}/reply",
                                    {"body": "line one\r\n\tline two"})
    assert status == 201, body

    # The same on the agent socket ...
    reply = '{"type": "reply", "interaction_id": "IID", "body": "\\ud800"}'.replace("IID", iid)
    await agent_ws.ws.send_str(reply)
    assert (await agent_ws.expect("error"))["error_id"] == "bad-characters"
    err = await agent_ws.command({"type": "note", "interaction_id": iid, "body": "a\x00b"})
    assert err["error_id"] == "bad-characters"
    # ... and on the visitor's.
    await chat.ws.send_str('{"type": "message", "body": "\\udc00"}')
    assert (await chat.expect("error"))["error_id"] == "bad-characters"
    await chat.send({"type": "message", "body": "nul\x00here"})
    assert (await chat.expect("error"))["error_id"] == "bad-characters"
    hello = await raw_socket(http, f"{srv.ws_url}/ws/chat")
    await hello.send({"type": "hello", "visitor_id": "v\x00", "name": "Ann"})
    assert (await hello.expect("error"))["error_id"] == "bad-characters"
    await hello.close()

    # Nothing of it was stored: the conversation holds the good messages only.
    status, body = await alice.call("GET", f"/api/interactions/{iid}")
    assert status == 200
    assert [m["body"] for m in body["messages"]] == ["hello", "line one\r\n\tline two"]
    await chat.close()
    await agent_ws.close()
    no_traceback(srv)


async def test_control_characters_in_path_and_query_are_refused(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    alice = await login(http, srv, "alice")
    sam = await login(http, srv, "sam")
    for who, path in (
            (alice, "/api/interactions/int-%00x"),
            (alice, "/api/customers/cus-%0Ax"),
            (alice, "/api/customers/cus-x/timeline?before=%00"),
            (alice, "/api/interactions?state=queued%1B"),
            (sam, "/api/interactions?agent_id=al%00ice"),
            (sam, "/api/audit?target=%C2%85x"),
            (sam, "/api/agents/al%09ice"),
    ):
        status, body = await who.call("GET", path)
        assert (status, body["error_id"]) == (400, "bad-characters"), path
    status, body = await alice.call("GET", "/api/interactions/" + "i" * 300)
    assert (status, body["error_id"]) == (400, "bad-id")
    no_traceback(srv)


async def test_limits_documented_as_valid_are_accepted_and_others_refused(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    sam = await login(http, srv, "sam")
    async with http.get(f"{srv.url}/api/openapi.json") as r:
        doc = await r.json()
    for path in ("/api/interactions", "/api/customers/{customer_id}/timeline"):
        params = doc["paths"][path]["get"]["parameters"]
        limit = next(p for p in params if p["name"] == "limit")["schema"]
        assert (limit["minimum"], limit["maximum"]) == (1, 200), path
    status, _ = await sam.call("GET", "/api/interactions?limit=1")
    assert status == 200
    for bad in ("0", "-1", "201", "x"):
        status, body = await sam.call("GET", f"/api/interactions?limit={bad}")
        assert (status, body["error_id"]) == (400, "bad-limit"), bad
    no_traceback(srv)


async def test_control_characters_in_reasons_dispositions_and_names_are_refused(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    """Each of these reaches a log line or the audit log: a line break would forge entries."""
    alice = await login(http, srv, "alice")
    sam = await login(http, srv, "sam")
    forged = "brk\nINFO cti.agents agent state agent=sam"  # within the 64-character bound
    status, body = await alice.call("PUT", "/api/agents/alice/state", {"state": "away", "reason": forged})
    assert (status, body["error_id"]) == (400, "bad-characters")
    status, body = await sam.call("PUT", "/api/agents/alice/state", {"state": "away", "reason": "x\ry"})
    assert (status, body["error_id"]) == (400, "bad-characters")
    agent_ws = await alice.socket()
    err = await agent_ws.command({"type": "set_state", "state": "away", "reason": "lunch\tbreak"})
    assert err["error_id"] == "bad-characters"
    # An unknown key in a command is refused, not ignored.
    err = await agent_ws.command({"type": "set_state", "state": "away", "reasn": "lunch"})
    assert err["error_id"] == "unknown-field"

    await only_available(http, srv, "alice")
    chat, _ = await visitor(http, srv, name="Ann")
    await chat.send({"type": "message", "body": "hi"})
    iid = (await agent_ws.expect("interaction.offered"))["interaction_id"]
    assert (await agent_ws.command({"type": "accept", "interaction_id": iid}))["type"] == "ack"
    status, body = await alice.call("POST", f"/api/interactions/{iid}/complete",
                                    {"disposition": "resolved\nforged"})
    assert (status, body["error_id"]) == (400, "bad-characters")
    err = await agent_ws.command({"type": "complete", "interaction_id": iid, "disposition": "ok\x1b[2J"})
    assert err["error_id"] == "bad-characters"
    status, body = await alice.call("POST", f"/api/interactions/{iid}/transfer",
                                    {"queue": "support\nx"})
    assert (status, body["error_id"]) == (400, "bad-characters")
    ack = await agent_ws.command({"type": "complete", "interaction_id": iid, "disposition": "resolved",
                                  "note": "two\nlines are fine in a note"})
    assert ack["type"] == "ack"

    # A visitor's name from the widget is a name: one line.
    named = await raw_socket(http, f"{srv.ws_url}/ws/chat")
    await named.send({"type": "hello", "name": "Ann\nINFO forged"})
    assert (await named.expect("error"))["error_id"] == "bad-characters"
    await named.close()
    await chat.close()
    await agent_ws.close()
    assert "forged" not in srv.log()
    no_traceback(srv)


@pytest.fixture
def pg_srv(tmp_path: Path, pg_schema: str) -> Iterator[RunningServer]:
    with run_server(tmp_path, db_url=pg_schema) as server:
        yield server


async def test_nul_in_ids_on_postgresql(pg_srv: RunningServer, http: aiohttp.ClientSession) -> None:
    """PostgreSQL refuses NUL in text outright; SQLite stores it. Neither may see it."""
    alice = await login(http, pg_srv, "alice")
    sam = await login(http, pg_srv, "sam")
    for who, method, path, payload in (
            (alice, "GET", "/api/interactions/int-%00", None),
            (alice, "GET", "/api/customers/cus-%00", None),
            (alice, "GET", "/api/customers/cus-%00/timeline", None),
            (sam, "GET", "/api/interactions?agent_id=%00", None),
            (sam, "GET", "/api/audit?target=%00", None),
            (sam, "POST", "/api/merges/mrg-%00/undo", None),
            (alice, "POST", "/api/customers/link",
             {"a": {"kind": "email", "value": "a\x00@example.com"}, "b": {"kind": "chat", "value": "v1"}}),
            (alice, "POST", "/api/interactions/int-x/transfer", {"agent_id": "b\x00b"}),
    ):
        status, body = await who.call(method, path, payload)
        assert (status, body["error_id"]) == (400, "bad-characters"), path
    chat = await raw_socket(http, f"{pg_srv.ws_url}/ws/chat")
    await chat.send({"type": "hello", "visitor_id": "\x00", "email": "ann\x00@example.com"})
    assert (await chat.expect("error"))["error_id"] == "bad-characters"
    await chat.send({"type": "hello", "name": "Ann"})
    await chat.expect("welcome")
    await chat.close()
    no_traceback(pg_srv)


async def test_errors_after_a_websocket_upgrade_are_json_frames(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A fault inside a command (here injected into the service) reaches the client as an error
    frame on a socket that stays usable; it is logged once; no HTTP response goes into the stream."""
    from tests.adapters.center import running_center

    async with running_center(tmp_path, {}) as center:
        agent_ws = await center.agent_socket("alice")

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(center.services.interactions, "reply", broken)
        with caplog.at_level("ERROR"):
            err = await agent_ws.command({"type": "reply", "interaction_id": "int-1", "body": "hi"})
        assert (err["type"], err["error_id"]) == ("error", "internal-error")
        assert "database" not in str(err)  # no internals to the client
        ack = await agent_ws.command({"type": "set_state", "state": "away", "reason": "break"})
        assert ack["type"] == "ack"
        assert [r.exc_info is not None for r in caplog.records if r.levelname == "ERROR"] == [True]
        await agent_ws.close()

        from adapters.webchat.sessions import ChatSessions

        monkeypatch.setattr(ChatSessions, "message", broken)
        chat = JsonSocket(await center.http.ws_connect(center.url.replace("http", "ws", 1) + "/ws/chat"))
        await chat.send({"type": "hello", "name": "Ann"})
        await chat.expect("welcome")
        caplog.clear()
        with caplog.at_level("ERROR"):
            await chat.send({"type": "message", "body": "hello"})
            assert (await chat.expect("error"))["error_id"] == "internal-error"
        await chat.send({"type": "hello", "name": "Ann"})
        assert (await chat.expect("error"))["error_id"] == "already-started"  # still usable
        assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1
        await chat.close()


async def test_a_fault_outside_any_command_closes_the_socket_with_1011(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Here the hello itself fails after the upgrade: no HTTP 500 goes into the WebSocket stream,
    the client sees a clean close with 1011 (internal error), and the server logs it once."""
    from tests.adapters.center import running_center

    async with running_center(tmp_path, {}) as center:
        token = await center.token("alice")

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the routing store went away")

        monkeypatch.setattr(center.services.agents, "view", broken)
        with caplog.at_level("ERROR"):
            ws = await center.http.ws_connect(f"{center.url.replace('http', 'ws', 1)}/ws/agent?token={token}")
            msg = await ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.CLOSE, msg
            assert ws.close_code == aiohttp.WSCloseCode.INTERNAL_ERROR
            await ws.close()
        assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1


async def test_deep_json_in_a_signed_webhook_is_a_4xx(tmp_path: Path) -> None:
    """A provider's signature proves who sent a body, not that it is sane: 60 kB of ``[`` signed
    with the right secret is still refused with a 4xx, never a RecursionError's 500."""
    import io
    import time

    from slack_sdk.signature import SignatureVerifier

    from adapters.x import signing
    from tests.adapters.center import running_center
    from tests.e2e.test_webhooks_bad_input import CHANNELS

    deep = b"[" * 60_000 + b"]" * 60_000
    async with running_center(tmp_path, CHANNELS) as center:
        stamp = str(int(time.time()))
        slack = SignatureVerifier(CHANNELS["slack"]["signing_secret"]).generate_signature(
            timestamp=stamp, body=deep.decode())
        signed = {
            "/webhooks/x": {signing.SIGNATURE_HEADER: signing.sign(CHANNELS["x"]["consumer_secret"], deep)},
            "/webhooks/slack/events": {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": slack},
        }
        for path, headers in signed.items():
            async with center.http.post(center.url + path, data=io.BytesIO(deep),
                                        headers={"Content-Type": "application/json", **headers}) as r:
                assert 400 <= r.status < 500, (path, r.status, await r.text())
