"""A call through the real server process: fake Asterisk on a socket, an agent on the WebSocket."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.ami.center import AGENTS, idle_asterisk, phases
from tests.ami.fake_ami import FakeAmi, header
from tests.e2e.conftest import login
from tests.server_process import run_server_async

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.integration]


def write_config(path: Path, ami_port: int) -> Path:
    agents = [{**a, "name": a["id"].title(), "password": a["id"]} for a in AGENTS]
    config = {
        "token_secret": "voice-test-secret-of-at-least-32-bytes",
        "demo": True,  # the passwords are the ids, in plain text
        "default_country_code": "33",
        "teams": [{"name": "support", "supervisors": ["sam"]}, {"name": "sales", "supervisors": ["sue"]}],
        "queues": [{"name": "support", "skills": {"english": 1}, "service_targets": {"voice": 20}}],
        "chat": {"queue": "support"},
        "agents": agents,
        "ami": {"host": "127.0.0.1", "port": ami_port, "username": "cti", "secret": "cti-secret"},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_a_call_offered_answered_held_recorded_and_completed(tmp_path: Path) -> None:
    queued, connected = phases("inbound_hold_originate_bridge")
    talking = tuple(f for f in connected.frames if not f.startswith(("Event: Hangup", "Event: HangupRequest",
                                                                     "Event: SoftHangupRequest")))
    hanging_up = tuple(f for f in connected.frames if f not in talking)
    async with FakeAmi() as ami:
        idle_asterisk(ami)
        config = write_config(tmp_path / "voice.yaml", ami.port)
        async with run_server_async(tmp_path, config=config) as srv, aiohttp.ClientSession() as http:
            await ami.wait_action("CoreShowChannels", timeout=10)  # the bridge resynced
            alice, bob, sam = [await login(http, srv, a) for a in ("alice", "bob", "sam")]
            agent = await alice.socket()
            assert (await agent.command({"type": "set_state", "state": "available"}))["type"] == "ack"
            status, voice = await sam.call("GET", "/api/voice")
            assert status == 200 and voice["connected"] is True

            # The caller reaches the holding context: the offer and its screen pop reach Alice.
            session = ami.current
            for frame in queued.frames:
                session.write(frame.encode())
            offer = await agent.expect("interaction.offered")
            pop = offer["screen_pop"]
            call_id = offer["interaction_id"]
            assert pop["interaction"]["channel"] == "voice"
            assert pop["interaction"]["context"]["ivr.account"] == "20002"
            assert ("phone", "+33601000002") in {(i["kind"], i["value"])
                                                 for i in pop["customer"]["identities"]}
            originate = await ami.wait_action("Originate")
            assert header(originate, "Channel") == "PJSIP/agent1"

            # She answers her phone: the accept comes from Asterisk, not from a click.
            for frame in talking:
                session.write(frame.encode())
            accepted = await agent.expect("interaction.accepted")
            assert accepted["interaction_id"] == call_id

            status, body = await alice.call("POST", f"/api/interactions/{call_id}/hold", {"hold": True})
            assert status == 200 and body["held"] is True
            redirect = await ami.wait_action("Redirect")
            assert header(redirect, "Context") == "cti-hold"
            status, body = await alice.call("POST", f"/api/interactions/{call_id}/recording",
                                            {"action": "start"})
            assert status == 202
            assert header(await ami.wait_action("MixMonitor"), "Channel") == "PJSIP/agent1-00000002"

            # Bad input is refused with a clear error and changes nothing.
            status, body = await bob.call("POST", f"/api/interactions/{call_id}/hold", {"hold": True})
            assert (status, body["error_id"]) == (403, "not-your-interaction")
            status, body = await alice.call("POST", f"/api/interactions/{call_id}/hold", {"hold": "yes"})
            assert (status, body["error_id"]) == (400, "bad-field")
            status, body = await alice.call("POST", "/api/agents/alice/monitor", {"mode": "listen"})
            assert (status, body["error_id"]) == (403, "wrong-role")
            status, body = await sam.call("POST", "/api/agents/alice/monitor", {"mode": "shout"})
            assert (status, body["error_id"]) == (400, "bad-mode")
            ami.inject("Event: Hangup\r\nEvent: Newchannel\r\n\r\ngarbage without colon\r\n\r\n")
            status, body = await alice.call("GET", f"/api/interactions/{call_id}")
            assert status == 200 and body["state"] == "active"

            # The call ends: wrap-up, then Alice completes it with a disposition.
            for frame in hanging_up:
                session.write(frame.encode())
            wrap = await agent.expect("interaction.wrap_up")
            assert wrap["why"] == "agent-hung-up"
            done = await agent.command({"type": "complete", "interaction_id": call_id,
                                        "disposition": "resolved", "note": "card replaced"})
            assert done["result"]["state"] == "closed"
            await agent.close()
