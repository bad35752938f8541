"""The Asterisk bridge driven by the recorded sessions through the fake AMI server.

Each test plays a recording phase by phase (``tests.ami.center``): the events Asterisk sent,
then the action the recorded CTI answered with, which our bridge must send too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.domain import AgentState, Channel, InteractionState
from cti.errors import CtiError
from tests.ami.center import Center, Phase, phases, running_center
from tests.ami.fake_ami import Headers, header, parse_headers
from tests.ami.recordings import load

pytestmark = pytest.mark.integration


def values(action: Headers, key: str) -> list[str]:
    return [v for k, v in action if k == key]


async def test_a_caller_is_queued_offered_rung_connected_and_wrapped_up(tmp_path: Path) -> None:
    before_originate, after_originate = phases("inbound_hold_originate_bridge")
    async with running_center(tmp_path) as center:
        await center.available("alice")
        await center.play(before_originate.frames)
        await center.settle()

        call = await center.only_call()
        assert call.state is InteractionState.QUEUED and call.direction.value == "inbound"
        assert call.context == {"ivr.account": "20002", "ivr.reason": "1", "voice.did": "8000"}
        assert call.channel_refs["asterisk_channel"] == "PJSIP/sipp-00000001"
        customer = await center.context.customer(call.customer_id)
        assert ("phone", "+33601000002") in {(i.kind.value, i.value) for i in customer.identities}

        [offer] = await center.route()
        assert offer.agent_id == "alice"
        offered = await center.wait_event("interaction.offered", interaction_id=call.id)
        pop = offered["screen_pop"]
        assert pop["interaction"]["context"]["ivr.account"] == "20002"
        assert pop["customer"]["id"] == call.customer_id

        # Our Originate is the recorded CTI's: ring agent1, bridge it to this caller.
        sent = await center.ami.wait_action("Originate")
        recorded = before_originate.action
        assert recorded is not None
        for key in ("Channel", "Context", "Exten", "Priority", "Async"):
            assert header(sent, key) == header(recorded, key), key
        assert "CTI_CALLER=PJSIP/sipp-00000001" in values(sent, "Variable")

        await center.play(after_originate.frames)
        active = await center.wait_state(call.id, "wrap_up")
        assert active.agent_id == "alice" and active.answered_at is not None
        assert active.channel_refs["asterisk_agent_channel"] == "PJSIP/agent1-00000002"
        accepted = await center.wait_event("interaction.accepted", interaction_id=call.id)
        assert accepted["agent_id"] == "alice"
        wrap = await center.wait_event("interaction.wrap_up", interaction_id=call.id)
        assert wrap["why"] == "agent-hung-up"
        done = await center.interactions.complete(call.id, "alice", disposition="resolved", note=None)
        assert done.state is InteractionState.CLOSED


async def test_the_ami_bridge_variant_is_the_same_interaction_life(tmp_path: Path) -> None:
    """inbound_hold_ami_bridge: the recorded CTI rang agent1 into a wait, then bridged by AMI;
    our bridge rings into cti-connect instead, and the recorded events connect the same way."""
    first, *rest = phases("inbound_hold_ami_bridge")
    async with running_center(tmp_path) as center:
        call, _, _ = await center.ring(first.frames)
        for phase in rest:
            await center.play(phase.frames)
        ended = await center.wait_state(call.id, "wrap_up")
        assert ended.agent_id == "alice" and ended.context["ivr.account"] == "30003"


async def test_a_caller_who_hangs_up_while_waiting_is_abandoned(tmp_path: Path) -> None:
    [whole] = phases("inbound_ivr_hold_abandon")
    async with running_center(tmp_path) as center:
        await center.play(whole.frames)
        await center.settle()
        call = await center.only_call()
        assert call.state is InteractionState.ABANDONED and call.customer_left
        assert call.context["ivr.account"] == "12345"
        abandoned = await center.wait_event("interaction.abandoned", interaction_id=call.id)
        assert abandoned["agent_id"] is None
        assert (await center.routing.snapshot()).waiting == []
        assert center.ami.actions_named("Originate") == []


async def test_an_agent_who_does_not_answer_puts_the_caller_back_with_the_wait_kept(
        tmp_path: Path) -> None:
    queued, rang_out, answered = phases("originate_agent_no_answer_then_other")
    async with running_center(tmp_path) as center:
        await center.available("carol")  # agent3, whose phone never answers
        await center.play(queued.frames)
        await center.settle()
        call = await center.only_call()
        queued_at = call.queued_at

        [offer] = await center.route()
        assert offer.agent_id == "carol"
        first = await center.ami.wait_action("Originate")
        assert header(first, "Channel") == "PJSIP/agent3"

        await center.play(rang_out.frames)  # OriginateResponse Failure, agent3's leg Cause 19
        withdrawn = await center.wait_event("interaction.offer_withdrawn", interaction_id=call.id)
        assert (withdrawn["agent_id"], withdrawn["why"]) == ("carol", "no-answer")
        back = await center.wait_state(call.id, "queued")
        assert back.queued_at == queued_at  # the wait is kept
        carol = await center.routing.agent("carol")
        assert carol is not None and (carol.state, carol.reason) == (AgentState.AWAY, "no-answer")

        await center.available("bob")  # agent2
        [offer] = await center.route()
        assert offer.agent_id == "bob" and offer.reason.waited > 0
        second = await center.ami.wait_action("Originate", count=2)
        assert header(second, "Channel") == "PJSIP/agent2"
        await center.play(answered.frames)
        done = await center.wait_state(call.id, "wrap_up")
        assert done.agent_id == "bob" and done.queued_at == queued_at


def renamed(frame: str, names: dict[str, str]) -> Headers:
    for old, new in names.items():
        frame = frame.replace(old, new)
    return parse_headers(frame)


def snapshot(*, waiting: bool = False, talking: bool = False) -> dict[str, list[Headers]]:
    """Resync answers for the originate_bridge call, from the real resync frames renamed to it."""
    frames = [f.frame for f in load("resync_snapshot").frames if f.dir == "in"]
    waiter = next(f for f in frames if f.startswith("Event: CoreShowChannel\r\n")
                  and "sipp-00000023" in f)
    bridged = [f for f in frames if f.startswith("Event: CoreShowChannel\r\n") and "00000023" not in f]
    info = [f for f in frames if f.startswith("Event: BridgeInfoChannel")]
    item = next(f for f in frames if f.startswith("Event: BridgeListItem"))
    caller = {"PJSIP/sipp-00000023": "PJSIP/sipp-00000001", "refpbx-1795460607.49": "refpbx-1795460320.1",
              "0601000022": "0601000002"}
    pair = {"PJSIP/sipp-00000021": "PJSIP/sipp-00000001", "refpbx-1795460603.46": "refpbx-1795460320.1",
            "PJSIP/agent1-00000022": "PJSIP/agent1-00000002", "refpbx-1795460606.47": "refpbx-1795460325.2",
            "0601000021": "0601000002"}
    start = [("Response", "Success"), ("EventList", "start"), ("Message", "follows")]
    channels: list[Headers] = [start]
    bridges: list[Headers] = [start]
    members: list[Headers] = [start]
    if waiting:
        channels.append(renamed(waiter, caller))
    if talking:
        channels.extend(renamed(f, pair) for f in bridged)
        bridges.append(renamed(item, pair))
        members.extend(renamed(f, pair) for f in info)
    channels.append([("Event", "CoreShowChannelsComplete"), ("EventList", "Complete"),
                     ("ListItems", str(len(channels) - 1))])
    bridges.append([("Event", "BridgeListComplete"), ("EventList", "Complete"),
                    ("ListItems", str(len(bridges) - 1))])
    members.append([("Event", "BridgeInfoComplete"), ("EventList", "Complete")])
    return {"CoreShowChannels": channels, "BridgeList": bridges, "BridgeInfo": members,
            "Getvar": [[("Response", "Success"), ("Variable", "CTI_ACCOUNT"), ("Value", "20002")]]}


async def reconnect(center: Center, answers: dict[str, list[Headers]]) -> None:
    for action, frames in answers.items():
        center.ami.answer(action, frames)
    logins = center.ami.logins
    await center.ami.drop()
    await center.ami.wait_logins(logins + 1, timeout=5)
    await center.wait_event("voice.link", connected=True)
    center.seen.clear()
    await center.settle()


async def test_calls_waiting_or_talking_across_a_reconnect_stay_one_interaction(tmp_path: Path) -> None:
    before_originate, after_originate = phases("inbound_hold_originate_bridge")
    connect = [f for f in after_originate.frames if "Event: Hangup" not in f and "HangupRequest" not in f]
    async with running_center(tmp_path) as center:
        await center.available("alice")
        await center.play(before_originate.frames)
        await center.settle()
        call = await center.only_call()

        # The link drops while the caller waits on hold; Asterisk still has them.
        await reconnect(center, snapshot(waiting=True))
        assert [c.id for c in await center.voice_calls()] == [call.id]
        assert (await center.context.interaction(call.id)).state is InteractionState.QUEUED

        await center.route()
        await center.ami.wait_action("Originate")
        await center.play(tuple(connect))
        await center.wait_state(call.id, "active")

        # It drops again while they talk: the resync finds the bridge, nothing changes.
        await reconnect(center, snapshot(talking=True))
        talking = await center.context.interaction(call.id)
        assert [c.id for c in await center.voice_calls()] == [call.id]
        assert (talking.state, talking.agent_id) == (InteractionState.ACTIVE, "alice")
        assert center.events_of("interaction.accepted") == []

        # And once more after the call ended unseen: it is closed into wrap-up, not lost.
        await reconnect(center, snapshot())
        ended = await center.wait_state(call.id, "wrap_up")
        assert ended.agent_id == "alice"
        assert len(center.ami.actions_named("CoreShowChannels")) == 4


async def connected_call(center: Center, scenario: str, agent_id: str = "alice") -> tuple[str, list[Phase]]:
    """Play a scenario up to its connected call; the interaction id and the phases left."""
    first, *rest = phases(scenario)
    call, _, _ = await center.ring(first.frames, agent_id)
    return call.id, rest


async def test_a_blind_transfer_to_an_agent_keeps_the_interaction_and_its_context(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (talking, transferred) = await connected_call(center, "blind_transfer_to_agent")
        await center.play(talking.frames)
        await center.wait_state(call_id, "active")
        await center.available("bob")

        moved = await center.bridge.transfer(call_id, "alice", to_queue=None, to_agent="bob",
                                             note="wants the refund team")
        assert moved.id == call_id
        sent = await center.ami.wait_action("BlindTransfer")
        assert talking.action is not None
        for key in ("Channel", "Exten", "Context"):
            assert header(sent, key) == header(talking.action, key), key

        await center.play(transferred.frames)
        await center.wait_event("interaction.accepted", interaction_id=call_id, agent_id="bob")
        after = await center.context.interaction(call_id)
        assert after.agent_id == "bob" and after.context["ivr.account"] == "50005"
        assert [n.body for n in await center.context.notes(call_id)] == ["wants the refund team"]
        alice = await center.routing.agent("alice")
        assert alice is not None and alice.load.get(Channel.VOICE, 0) == 0  # her line is free
        await center.wait_state(call_id, "wrap_up")


async def test_a_transfer_to_a_queue_puts_the_caller_back_on_hold(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (talking, _) = await connected_call(center, "blind_transfer_to_agent")
        await center.play(talking.frames)
        await center.wait_state(call_id, "active")
        moved = await center.bridge.transfer(call_id, "alice", to_queue="support", to_agent=None,
                                             note=None)
        assert moved.state is InteractionState.QUEUED and moved.id == call_id
        sent = await center.ami.wait_action("BlindTransfer")
        assert (header(sent, "Context"), header(sent, "Exten")) == ("cti-hold", "support")
        with pytest.raises(CtiError) as caught:
            await center.bridge.transfer(call_id, "alice", to_queue="support", to_agent=None, note=None)
        assert caught.value.error_id in ("not-your-interaction", "no-call")


async def test_a_consult_transfer_completes_with_the_consulted_agent(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (talking, consulting) = await connected_call(center, "attended_transfer_complete")
        await center.play(talking.frames)
        await center.wait_state(call_id, "active")
        await center.available("bob")

        await center.bridge.consult(call_id, "alice", "bob")
        sent = await center.ami.wait_action("Atxfer")
        assert talking.action is not None
        for key in ("Channel", "Exten", "Context"):
            assert header(sent, key) == header(talking.action, key), key
        incoming = await center.wait_event("call.updated", interaction_id=call_id, agent_id="bob")
        assert incoming["what"] == "consult-incoming"
        assert incoming["details"]["screen_pop"]["interaction"]["id"] == call_id

        await center.play(consulting.frames)
        await center.wait_event("interaction.accepted", interaction_id=call_id, agent_id="bob")
        assert (await center.context.interaction(call_id)).agent_id == "bob"
        held = await center.wait_event("call.updated", interaction_id=call_id, what="held")
        assert held["details"]["by"].startswith("PJSIP/agent1-")
        ended = await center.wait_state(call_id, "wrap_up")
        assert ended.agent_id == "bob" and ended.context["ivr.account"] == "60006"


async def test_hold_and_resume_from_the_phone_are_reported(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, [rest] = await connected_call(center, "hold_resume")
        await center.play(rest.frames)
        held = await center.wait_event("call.updated", interaction_id=call_id, what="held")
        resumed = await center.wait_event("call.updated", interaction_id=call_id, what="resumed")
        assert held["agent_id"] == resumed["agent_id"] == "alice"
        await center.wait_state(call_id, "wrap_up")


async def test_hold_from_the_desktop_parks_both_legs_and_resume_bridges_them(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, [rest] = await connected_call(center, "hold_resume")
        talking = tuple(f for f in rest.frames if "Hangup" not in f.split("\r\n")[0])
        await center.play(talking)
        await center.wait_state(call_id, "active")
        await center.bridge.hold(call_id, "alice", on=True)
        redirect = await center.ami.wait_action("Redirect")
        assert (header(redirect, "Channel"), header(redirect, "Context"), header(redirect, "Exten")) == (
            "PJSIP/sipp-0000000e", "cti-hold", "held")
        assert header(redirect, "ExtraChannel") == "PJSIP/agent1-0000000f"
        await center.bridge.hold(call_id, "alice", on=False)
        bridge = await center.ami.wait_action("Bridge")
        assert (header(bridge, "Channel1"), header(bridge, "Channel2")) == (
            "PJSIP/sipp-0000000e", "PJSIP/agent1-0000000f")
        with pytest.raises(CtiError) as caught:
            await center.bridge.hold(call_id, "bob", on=True)
        assert caught.value.error_id == "not-your-interaction"


@pytest.mark.parametrize(("scenario", "mode"), [
    ("chanspy_listen", "listen"), ("chanspy_whisper", "whisper"), ("chanspy_barge", "barge")])
async def test_a_supervisor_listens_whispers_or_barges_on_their_own_phone(
        tmp_path: Path, scenario: str, mode: str) -> None:
    async with running_center(tmp_path) as center:
        call_id, (talking, spying) = await connected_call(center, scenario)
        await center.play(talking.frames)
        await center.wait_state(call_id, "active")

        for who, error in (("alice", "not-your-team"), ("sue", "not-your-team")):
            with pytest.raises(CtiError) as caught:
                await center.bridge.monitor(who, "alice", mode)
            assert caught.value.error_id == error
        await center.bridge.monitor("sam", "alice", mode)
        sent = await center.ami.wait_action("Originate", count=2)
        assert talking.action is not None
        for key in ("Channel", "Application", "Data"):
            assert header(sent, key) == header(talking.action, key), key
        audit = await center.context.audit_log(target="alice")
        assert [(a.actor, a.action) for a in audit] == [("sam", f"call.{mode}")]

        await center.play(spying.frames)
        on = await center.wait_event("supervision.changed", active=True)
        off = await center.wait_event("supervision.changed", active=False)
        assert on["supervisor_id"] == off["supervisor_id"] == "sam" and on["mode"] == mode
        assert on["interaction_id"] == call_id
        # The supervisor left; the agent's call and state were untouched by it.
        # (The agent hangs up after the supervisor left: wait for it, the frames are played ahead.)
        assert (await center.wait_event("interaction.wrap_up"))["why"] == "agent-hung-up"
        alice = await center.routing.agent("alice")
        assert alice is not None and alice.state is AgentState.AVAILABLE


async def test_recording_starts_pauses_for_a_card_number_and_stops(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        call_id, (talking, *steps) = await connected_call(center, "mixmonitor_mute_resume")
        await center.play(talking.frames)
        await center.wait_state(call_id, "active")
        sent_before: dict[str, int] = {}
        for action, phase in zip(("start", "pause", "resume", "stop"), [talking, *steps], strict=False):
            await center.bridge.recording(call_id, "alice", action)
            assert phase.action is not None
            name = header(phase.action, "Action") or ""
            sent_before[name] = sent_before.get(name, 0) + 1
            sent = await center.ami.wait_action(name, count=sent_before[name])
            for key in ("Channel", "Options", "Direction", "State"):
                assert header(sent, key) == header(phase.action, key), (action, key)
            index = [talking, *steps].index(phase)
            await center.play([talking, *steps][index + 1].frames)
            await center.settle(0.05)
        whats = [e["what"] for e in center.events_of("call.updated") if e["what"].startswith("recording")]
        assert whats == ["recording-started", "recording-paused", "recording-resumed", "recording-stopped"]
        stop = center.ami.actions_named("StopMixMonitor")[0]
        assert header(stop, "MixMonitorID") == "0x7f36a80ea260"  # from the CTI_MIXMON_ID variable
        recorded = await center.context.interaction(call_id)
        assert recorded.context["voice.recording"].endswith(f"{call_id}.wav")


async def test_click_to_dial_makes_an_outbound_interaction_on_the_customers_timeline(tmp_path: Path) -> None:
    [ringing, rest] = phases("click_to_dial")
    async with running_center(tmp_path) as center:
        await center.available("alice")
        call = await center.bridge.dial("alice", "0612345678")
        assert (call.direction.value, call.state, call.agent_id) == ("outbound", InteractionState.ACTIVE,
                                                                     "alice")
        sent = await center.ami.wait_action("Originate")
        assert ringing.action is not None
        for key in ("Channel", "Context", "Exten", "Priority"):
            assert header(sent, key) == header(ringing.action, key), key
        alice = await center.routing.agent("alice")
        assert alice is not None and alice.load[Channel.VOICE] == 1  # no inbound call offered meanwhile

        await center.play(rest.frames)
        answered = await center.wait_event("call.updated", interaction_id=call.id, what="customer-answered")
        assert answered["details"]["number"] == "0612345678"
        ended = await center.wait_state(call.id, "wrap_up")
        assert ended.channel_refs["asterisk_agent_channel"] == "PJSIP/agent1-0000001f"
        customer = await center.context.customer(call.customer_id)
        assert ("phone", "+33612345678") in {(i.kind.value, i.value) for i in customer.identities}
        timeline = await center.context.timeline(call.customer_id)
        assert [e.interaction_id for e in timeline.entries] == [call.id]


async def test_an_unreachable_phone_gets_no_calls_but_keeps_its_chats(tmp_path: Path) -> None:
    frames = [f.frame for f in load("inbound_hold_originate_bridge").frames
              if f.frame.startswith("Event: DeviceStateChange") and "PJSIP/agent1\r\n" in f.frame]
    template = frames[0]
    state = next(line for line in template.split("\r\n") if line.startswith("State: "))
    async with running_center(tmp_path) as center:
        await center.available("alice")
        await center.play((template.replace(state, "State: UNAVAILABLE"),))
        await center.settle()
        alice = await center.routing.agent("alice")
        assert alice is not None and Channel.VOICE not in alice.capacity
        assert alice.capacity[Channel.CHAT] == 2
        [queued, *_] = phases("inbound_hold_originate_bridge")
        await center.play(queued.frames)
        await center.settle()
        assert await center.route() == []  # nobody to take the call
        await center.play((template.replace(state, "State: NOT_INUSE"),))
        await center.settle()
        [offer] = await center.route()
        assert offer.agent_id == "alice"


async def test_an_agent_set_away_is_paused_in_the_fallback_queue(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        await center.agents.set_state("bob", "away", reason="lunch", actor_id="bob")
        await center.ami.wait_for(lambda: any(
            header(a, "Interface") == "PJSIP/agent2" and header(a, "Paused") == "true"
            for a in center.ami.actions_named("QueuePause")))
        await center.available("bob")
        await center.ami.wait_for(lambda: any(
            header(a, "Interface") == "PJSIP/agent2" and header(a, "Paused") == "false"
            for a in center.ami.actions_named("QueuePause")))
        pause = center.ami.actions_named("QueuePause")[-1]
        assert header(pause, "Queue") == "fallback"


async def test_the_dial_plan_is_told_we_are_online(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        online = [a for a in center.ami.actions_named("Setvar") if header(a, "Variable") == "CTI_ONLINE"]
        assert online and header(online[0], "Value") == "1" and header(online[0], "Channel") is None
        beat = [a for a in center.ami.actions_named("Setvar") if header(a, "Variable") == "CTI_HEARTBEAT"]
        assert beat and (header(beat[0], "Value") or "").isdigit()
        status = center.bridge.status()
        assert status["connected"] is True
        await center.bridge.going_offline()
        last = [a for a in center.ami.actions_named("Setvar") if header(a, "Variable") == "CTI_ONLINE"][-1]
        assert header(last, "Value") == "0"


async def test_an_asterisk_restart_keeps_the_link_and_the_calls_consistent(tmp_path: Path) -> None:
    async with running_center(tmp_path) as center:
        await center.available("alice")
        [queued, *_] = phases("inbound_hold_originate_bridge")
        await center.play(queued.frames)
        await center.settle()
        call = await center.only_call()
        restart = [f.frame for f in load("asterisk_restart").frames if f.session == 0 and f.dir == "in"
                   and f.frame.startswith("Event: Shutdown")]
        center.ami.refuse = 1  # the shutting-down Asterisk closes the first reconnect before its banner
        await center.play(tuple(restart))
        logins = center.ami.logins
        await center.ami.drop()
        await center.ami.wait_logins(logins + 1, timeout=5)
        # The restarted Asterisk has no channels: the caller is gone, the interaction says so.
        await center.wait_state(call.id, "abandoned")
        assert [c.id for c in await center.voice_calls()] == [call.id]
        assert center.bridge.connected


async def test_a_first_connect_adopts_what_asterisk_already_has(tmp_path: Path) -> None:
    """resync_snapshot: one caller waiting, one talking to agent1, before the server ever ran."""
    async with running_center(tmp_path, idle=False) as center:
        await center.settle()
        calls = {c.channel_refs["asterisk_channel"]: c for c in await center.voice_calls()}
        assert set(calls) == {"PJSIP/sipp-00000021", "PJSIP/sipp-00000023"}
        waiting, talking = calls["PJSIP/sipp-00000023"], calls["PJSIP/sipp-00000021"]
        assert waiting.state is InteractionState.QUEUED and waiting.context["ivr.account"] == "22022"
        assert (talking.state, talking.agent_id) == (InteractionState.ACTIVE, "alice")
        alice = await center.routing.agent("alice")
        assert alice is not None and alice.load[Channel.VOICE] == 1  # not offered another call
        # A second connect (a reconnect) finds the same two and changes nothing.
        logins = center.ami.logins
        await center.ami.drop()
        await center.ami.wait_logins(logins + 1, timeout=5)
        await center.settle()
        assert {c.id for c in await center.voice_calls()} == {waiting.id, talking.id}


async def test_the_dial_plan_is_told_which_queues_are_closed(tmp_path: Path) -> None:
    from cti.config import with_live

    async with running_center(tmp_path) as center:
        assert center.live is not None

        def closed_flags() -> list[str | None]:
            return [header(a, "Value") for a in center.ami.actions_named("Setvar")
                    if header(a, "Variable") == "CTI_CLOSED_support"]

        await center.ami.wait_for(lambda: closed_flags() == ["0"])  # no hours: always open
        document = dict(center.live.current.document)
        document["business_hours"] = {"never": {"timezone": "UTC", "days": {}}}
        document["queues"] = [{**q, "hours": "never"} for q in document["queues"]]
        await center.live.swap(with_live(center.live.current, document), version=2)
        await center.ami.wait_for(lambda: closed_flags()[-1:] == ["1"])
