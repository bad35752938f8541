"""The AMI link against a fake Asterisk on a real loopback socket, fed with the recorded sessions.

Each defect of panoramisk 1.4 that ``AmiLink`` fixes has a test here that fails with plain
panoramisk; its docstring says what panoramisk does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from cti.ami.errors import AmiActionError, AmiDisconnected, AmiLoginFailed
from cti.ami.frames import AmiMessage, parse_frame
from cti.ami.link import AmiLink
from cti.errors import InvalidInput
from tests.ami.fake_ami import FakeAmi, header, recorded_events

SECRET = "cti-secret"
FAST = {"ping_interval": 5.0, "ping_timeout": 1.0, "reconnect_initial": 0.02, "reconnect_max": 0.1,
        "connect_timeout": 1.0}


class Recorder:
    """What the link told us, in one timeline: ("event", name) / ("up", n) / ("down", why)."""

    def __init__(self) -> None:
        self.timeline: list[tuple[str, Any]] = []
        self.events: list[AmiMessage] = []
        self.on_connected_hook: Callable[[int], Awaitable[None]] | None = None
        self.fail_on: set[str] = set()  # event names on_event raises for (after recording them)
        self.ups = 0
        self._changed = asyncio.Event()

    async def on_event(self, msg: AmiMessage) -> None:
        self.events.append(msg)
        self.timeline.append(("event", msg.event))
        self._poke()
        if msg.event in self.fail_on:
            raise RuntimeError(f"the tracker does not know {msg.event}")

    async def on_connected(self) -> None:
        self.ups += 1
        self.timeline.append(("up", self.ups))
        if self.on_connected_hook is not None:
            await self.on_connected_hook(self.ups)
        self.timeline.append(("up-done", self.ups))
        self._poke()

    def on_disconnected(self, why: str) -> None:
        self.timeline.append(("down", why))
        self._poke()

    def _poke(self) -> None:
        self._changed.set()

    def names(self) -> list[str | None]:
        return [m.event for m in self.events]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 1.5) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def wait_event(self, name: str, count: int = 1) -> None:
        await self.wait_for(lambda: self.names().count(name) >= count)


LinkFactory = Callable[..., Awaitable[tuple[AmiLink, Recorder]]]


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as fake:
        yield fake


@pytest.fixture
async def make_link(ami: FakeAmi) -> AsyncIterator[LinkFactory]:
    links: list[AmiLink] = []

    async def make(*, secret: str = SECRET, start: bool = True, **options: Any) -> tuple[AmiLink, Recorder]:
        recorder = Recorder()
        link = AmiLink("127.0.0.1", ami.port, "cti", secret, on_event=recorder.on_event,
                       on_connected=recorder.on_connected, on_disconnected=recorder.on_disconnected,
                       **{**FAST, **options})
        links.append(link)
        if start:
            await link.start()
        return link, recorder

    yield make
    for link in links:
        await link.aclose()


async def up(ami: FakeAmi, recorder: Recorder, count: int = 1) -> None:
    """Wait until the link logged in ``count`` times and its on_connected returned."""
    await ami.wait_logins(count)
    await recorder.wait_for(lambda: ("up-done", count) in recorder.timeline)


def frame(*headers: tuple[str, str]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"


def user_event(name: str) -> str:
    return frame(("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", name))


# ----- connect, log in, deliver ----------------------------------------------------------------


async def test_logs_in_and_resyncs_before_delivering_events(ami: FakeAmi, make_link: LinkFactory) -> None:
    link, rec = await make_link()
    await up(ami, rec)
    await rec.wait_event("FullyBooted")
    assert link.connected
    assert link.last_error is None
    login = ami.actions[0]
    assert [k for k, _ in login] == ["Action", "ActionID", "Username", "Secret", "Events"]
    assert header(login, "Username") == "cti" and header(login, "Secret") == SECRET
    assert header(login, "Events") == "on"
    # FullyBooted comes right after the Login response, yet it waits for on_connected.
    assert rec.timeline == [("up", 1), ("up-done", 1), ("event", "FullyBooted")]


async def test_recorded_call_events_are_delivered_in_order(ami: FakeAmi, make_link: LinkFactory) -> None:
    """Every event of a real call, with the recorded pacing (sped up 100x), arrives in order."""
    _, rec = await make_link()
    await up(ami, rec)
    expected = [parse_frame(f.frame)[0] for f in recorded_events("inbound_hold_originate_bridge")]
    sent = await ami.play("inbound_hold_originate_bridge", speed=100.0)
    assert sent == len(expected) > 90
    await rec.wait_for(lambda: len(rec.events) == 1 + sent)
    assert [m.headers for m in rec.events[1:]] == [m.headers for m in expected]
    # The recorded OriginateResponse carries the recording's ActionID (cti-2), not one of ours:
    # it is an event for the bridge, not an answer for the link.
    assert "OriginateResponse" in rec.names()


async def test_events_after_a_given_time_as_fast_as_possible(ami: FakeAmi, make_link: LinkFactory) -> None:
    _, rec = await make_link()
    await up(ami, rec)
    sent = await ami.play("inbound_hold_originate_bridge", after=10.0)
    await rec.wait_for(lambda: len(rec.events) == 1 + sent)
    assert rec.names()[1:] == [parse_frame(f.frame)[0].event
                               for f in recorded_events("inbound_hold_originate_bridge", after=10.0)]
    assert rec.names().count("Hangup") == 2  # agent1 hangs up at t=10.692, the caller follows


# ----- bad frames --------------------------------------------------------------------------------


async def test_frame_with_event_twice_is_split_and_the_link_stays_up(
        ami: FakeAmi, make_link: LinkFactory, caplog: pytest.LogCaptureFixture) -> None:
    """Two events that lost their blank line arrive as one frame holding ``Event:`` twice.

    panoramisk 1.4 folds the repeated key into a list, then ``handle_message`` calls
    ``message['event'].lower()`` on it: AttributeError inside ``data_received``, asyncio closes
    the transport, the rest of that read is lost and the link reconnects 2 s later.
    """
    link, rec = await make_link()
    await up(ami, rec)
    hangup = [f.frame for f in recorded_events("inbound_hold_originate_bridge")
              if f.frame.startswith("Event: Hangup\r\n")]
    run_together = hangup[0][:-2] + hangup[1]  # the first one without its blank line
    ami.inject(run_together + user_event("After"))
    await rec.wait_event("UserEvent")
    assert rec.names() == ["FullyBooted", "Hangup", "Hangup", "UserEvent"]
    assert [m.get("Channel") for m in rec.events[1:3]] == ["PJSIP/agent1-00000002", "PJSIP/sipp-00000001"]
    assert link.connected and len(ami.connect_times) == 1
    assert "ran together" in caplog.text


async def test_truncated_and_malformed_frames_are_skipped(
        ami: FakeAmi, make_link: LinkFactory, caplog: pytest.LogCaptureFixture) -> None:
    """A frame whose start was cut, garbage, a line without ': ', then good frames in pieces."""
    link, rec = await make_link()
    await up(ami, rec)
    ami.inject("annel: PJSIP/sipp-00000001\r\nUniqueid: refpbx-1795460320.1\r\n\r\n")  # start cut off
    ami.inject(b"\x00\xff garbage without a colon\r\n\r\n")
    ami.inject("Event: Newexten\r\nChannel: PJSIP/sipp-00000001\r\nApplicat\r\n\r\n")  # a line cut
    good = user_event("Caf\u00e9").encode("utf-8")
    cut = good.index(b"\xc3") + 1  # inside the UTF-8 sequence of the é
    ami.inject(good[:cut])
    await asyncio.sleep(0.05)  # the first half is read on its own
    ami.inject(good[cut:])
    await rec.wait_for(lambda: "UserEvent" in rec.names())
    assert rec.names() == ["FullyBooted", "Newexten", "UserEvent"]
    assert rec.events[2].get("UserEvent") == "Caf\u00e9"
    assert link.connected and len(ami.connect_times) == 1
    assert "neither event nor response" in caplog.text
    assert "malformed frame" in caplog.text
    assert "without ': '" in caplog.text


async def test_unknown_events_pass_and_a_failing_handler_does_not_stop_delivery(
        ami: FakeAmi, make_link: LinkFactory, caplog: pytest.LogCaptureFixture) -> None:
    """An event name the link has never heard of is passed on (the tracker decides what it means);
    a response to no action of ours is logged and skipped; on_event raising is logged and the
    next events still come."""
    caplog.set_level(logging.INFO, logger="cti.ami.link")
    link, rec = await make_link()
    await up(ami, rec)
    rec.fail_on.add("FromTheFuture")
    ami.inject(frame(("Event", "FromTheFuture"), ("Foo", "bar")))
    ami.inject(frame(("Response", "Success"), ("ActionID", "not-ours-7"), ("Message", "late")))
    ami.inject(user_event("Next"))
    await rec.wait_event("UserEvent")
    assert rec.names() == ["FullyBooted", "FromTheFuture", "UserEvent"]
    assert "on_event failed on FromTheFuture" in caplog.text
    assert "no action waits for ActionID=not-ours-7" in caplog.text
    assert link.connected and len(ami.connect_times) == 1


# ----- actions -----------------------------------------------------------------------------------


async def test_action_error_is_typed_and_affects_nothing_else(ami: FakeAmi, make_link: LinkFactory) -> None:
    link, rec = await make_link()
    await up(ami, rec)
    ami.fail("Hangup", "No such channel")
    ami.fail("BridgeInfo", "Bridge not found")
    with pytest.raises(AmiActionError) as err:
        await link.send({"Action": "Hangup", "Channel": "PJSIP/sipp-00000099", "Cause": "16"})
    assert err.value.action == "Hangup"
    assert err.value.message == "No such channel"
    assert err.value.response.get("Response") == "Error"
    with pytest.raises(AmiActionError, match="Bridge not found"):
        await link.send_list({"Action": "BridgeInfo", "BridgeUniqueid": "nope"})
    pong = await link.send({"Action": "Ping"})
    assert pong.get("Ping") == "Pong"
    ami.inject(user_event("StillHere"))
    await rec.wait_event("UserEvent")
    assert link.connected and len(ami.connect_times) == 1


async def test_resync_lists_come_back_whole_and_not_as_events(ami: FakeAmi, make_link: LinkFactory) -> None:
    link, rec = await make_link()
    await up(ami, rec)
    channels = await link.send_list({"Action": "CoreShowChannels"})
    assert [c.get("Channel") for c in channels] == [
        "PJSIP/sipp-00000023", "PJSIP/sipp-00000021", "PJSIP/agent1-00000022"]
    bridges = await link.send_list({"Action": "BridgeList"})
    members = await link.send_list({"Action": "BridgeInfo", "BridgeUniqueid": bridges[0].get("BridgeUniqueid")
                                     or ""})
    assert len(members) == 2
    queues = await link.send_list({"Action": "QueueStatus"})
    assert len(queues) == 12
    assert len(await link.send_list({"Action": "DeviceStateList"})) == 19
    assert len(await link.send_list({"Action": "Status"})) == 3
    var = await link.send({"Action": "Getvar", "Channel": "PJSIP/sipp-00000023", "Variable": "CTI_ACCOUNT"})
    assert var.get("Value") == "22022"
    ami.answer("Getvar", [[("Response", "Success"), ("Variable", "CTI_REASON"), ("Value", "2")]])
    var = await link.send({"Action": "Getvar", "Channel": "PJSIP/sipp-00000023", "Variable": "CTI_REASON"})
    assert var.get("Value") == "2"
    # The answers were rewritten with our ActionIDs, and none of them leaked to on_event.
    ids = [header(a, "ActionID") for a in ami.actions_named("CoreShowChannels")]
    assert channels[0].action_id == ids[0]
    assert rec.names() == ["FullyBooted"]


async def test_actions_go_out_as_given_and_cannot_smuggle_headers(
        ami: FakeAmi, make_link: LinkFactory) -> None:
    link, rec = await make_link()
    await up(ami, rec)
    ami.originate_response = [("Event", "OriginateResponse"), ("Privilege", "call,all"),
                              ("Response", "Success"), ("Channel", "PJSIP/agent1-00000002"), ("Reason", "4")]
    reply = await link.send({"Action": "Originate", "Channel": "PJSIP/agent1", "Context": "cti-connect",
                             "Exten": "s", "Priority": "1", "Timeout": "20000",
                             "CallerID": '"0601000002" <0601000002>',
                             "Variable": ["CTI_CALLER=PJSIP/sipp-00000001", "CTI_OFFER=o-1"],
                             "Async": "true"})
    assert reply.get("Message") == "Originate successfully queued"
    sent = ami.actions_named("Originate")[0]
    assert sent[0] == ("Action", "Originate") and sent[1][0] == "ActionID"
    assert sent[2:] == [("Channel", "PJSIP/agent1"), ("Context", "cti-connect"), ("Exten", "s"),
                        ("Priority", "1"), ("Timeout", "20000"), ("CallerID", '"0601000002" <0601000002>'),
                        ("Variable", "CTI_CALLER=PJSIP/sipp-00000001"), ("Variable", "CTI_OFFER=o-1"),
                        ("Async", "true")]
    # The OriginateResponse names our ActionID but comes after the response: it is an event.
    await rec.wait_event("OriginateResponse")
    assert rec.events[-1].action_id == sent[1][1] == reply.action_id
    for bad in ({"Action": "Hangup", "Channel": "PJSIP/x\r\nAction: Originate"},
                {"Action": "Hangup", "Bad Key": "x"}, {"Action": "Ping", "ActionID": "mine"},
                {"Channel": "x"}):
        with pytest.raises(InvalidInput):
            await link.send(bad)
    assert len(ami.actions) == 2  # Login and the Originate; nothing of the bad ones went out


# ----- keep-alive, reconnect, back-off -----------------------------------------------------------


async def test_half_open_link_is_noticed_and_replaced(ami: FakeAmi, make_link: LinkFactory) -> None:
    """Asterisk vanishes without closing the socket (a half-open TCP connection).

    panoramisk 1.4 sends ``Ping`` every ``ping_interval`` but never looks for the answer, so it
    stays "connected" forever and no event ever comes again.
    """
    link, rec = await make_link(ping_interval=0.2, ping_timeout=0.3)
    await up(ami, rec)
    await ami.wait_action("Ping", count=2)  # answered pings keep the link up
    assert len(ami.connect_times) == 1
    ami.go_half_open()
    started = time.monotonic()
    await up(ami, rec, count=2)
    assert time.monotonic() - started < 1.0  # about ping_interval + ping_timeout + a back-off
    assert ("down", "keep-alive timeout") in rec.timeline
    assert link.connected


def planned_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The reconnect delays the link chose, from its log: what the back-off decides, free of
    how late a loaded machine wakes the sleeper up."""
    return [float(r.args[0]) for r in caplog.records  # type: ignore[index]
            if r.name == "cti.ami.link" and r.msg.startswith("ami link: reconnecting in")]


async def test_reconnect_delay_grows_then_starts_over_after_login(
        ami: FakeAmi, make_link: LinkFactory, caplog: pytest.LogCaptureFixture) -> None:
    """Asterisk accepts and closes connections while it restarts (asterisk_restart, session 2).

    panoramisk 1.4 retries every ``reconnect_timeout`` (2 s) whatever happens: the gaps stay
    equal, and they are 2 s long.
    """
    caplog.set_level(logging.INFO, logger="cti.ami.link")
    ami.refuse = 4
    link, rec = await make_link(reconnect_initial=0.04, reconnect_max=1.0)
    await up(ami, rec)
    times = ami.connect_times
    assert len(times) == 5
    delays = planned_delays(caplog)
    assert len(delays) == 4, delays
    # Each delay is 2x the previous one, shortened by up to 25 % at random: always > 1.2x.
    assert all(later > 1.2 * earlier for earlier, later in itertools.pairwise(delays)), delays
    assert delays[0] <= 0.04
    # The link really waited: a gap is never shorter than the delay it chose (a loaded machine
    # only makes it longer).
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= delay * 0.99 for gap, delay in zip(gaps, delays, strict=True)), (gaps, delays)
    assert link.last_error is None  # the refusals were errors until the login
    # After a successful login the back-off starts over from reconnect_initial.
    caplog.clear()
    await ami.drop()
    await up(ami, rec, count=2)
    assert planned_delays(caplog)[0] <= 0.04


async def test_reconnect_delay_is_capped(
        ami: FakeAmi, make_link: LinkFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cti.ami.link")
    ami.refuse = 5
    _, rec = await make_link(reconnect_initial=0.02, reconnect_max=0.05)
    await up(ami, rec)
    assert len(ami.connect_times) == 6
    delays = planned_delays(caplog)
    assert len(delays) == 5 and max(delays) <= 0.05, delays
    assert delays[-1] > 0.05 * 0.75 - 1e-9  # it reached the cap (less the jitter) and stayed there


async def test_actions_in_flight_at_disconnect_fail_and_are_never_resent(
        ami: FakeAmi, make_link: LinkFactory) -> None:
    """The connection drops while an Originate (and a CoreShowChannels) wait for their answer.

    panoramisk 1.4 puts unanswered actions in ``awaiting_actions`` and sends them again after
    the next login's ``FullyBooted``: the agent's phone rings a second time, and the caller's
    future stays pending. Here both fail with AmiDisconnected and nothing is sent again.
    """
    link, rec = await make_link()
    await up(ami, rec)
    ami.never_answer("Originate", "CoreShowChannels")
    originate = asyncio.create_task(link.send({"Action": "Originate", "Channel": "PJSIP/agent1",
                                               "Application": "Wait", "Data": "1", "Async": "true"}))
    listing = asyncio.create_task(link.send_list({"Action": "CoreShowChannels"}))
    await ami.wait_action("Originate")
    await ami.wait_action("CoreShowChannels")
    await ami.drop()
    async with asyncio.timeout(1.0):  # panoramisk leaves both pending for ever
        with pytest.raises(AmiDisconnected) as err:
            await originate
        assert err.value.action == "Originate"
        with pytest.raises(AmiDisconnected):
            await listing
    with pytest.raises(AmiDisconnected):  # while down, nothing is queued for later either
        await link.send({"Action": "Originate", "Channel": "PJSIP/agent2", "Async": "true"})
    second = await ami.wait_logins(2)
    await rec.wait_event("FullyBooted", count=2)
    await asyncio.sleep(0.1)  # panoramisk re-sends right after FullyBooted: give it the chance
    assert len(ami.actions_named("Originate")) == 1
    assert len(ami.actions_named("CoreShowChannels")) == 1
    assert [header(a, "Action") for a in second.actions] == ["Login"]


async def test_on_connected_runs_on_every_login_and_events_wait_for_it(
        ami: FakeAmi, make_link: LinkFactory) -> None:
    """The resync runs first; events that arrive meanwhile come after it, in order."""
    link, rec = await make_link(start=False)

    async def resync(n: int) -> None:
        channels = await link.send_list({"Action": "CoreShowChannels"})
        assert len(channels) == 3
        ami.inject(user_event(f"During{n}"))
        await link.send({"Action": "Ping"})  # its Pong comes after the event: the event is in
        rec.timeline.append(("resynced", n))

    rec.on_connected_hook = resync
    await link.start()
    await up(ami, rec)
    await rec.wait_event("UserEvent")
    ami.inject(user_event("After1"))
    await rec.wait_event("UserEvent", count=2)
    await ami.drop()
    await up(ami, rec, count=2)
    await rec.wait_event("UserEvent", count=3)
    assert rec.timeline == [
        ("up", 1), ("resynced", 1), ("up-done", 1),
        ("event", "FullyBooted"), ("event", "UserEvent"), ("event", "UserEvent"),
        ("down", "closed by Asterisk"),
        ("up", 2), ("resynced", 2), ("up-done", 2),
        ("event", "FullyBooted"), ("event", "UserEvent"),
    ]
    user_events = [m.get("UserEvent") for m in rec.events if m.event == "UserEvent"]
    assert user_events == ["During1", "After1", "During2"]


async def test_failed_resync_drops_the_session_and_retries(
        ami: FakeAmi, make_link: LinkFactory, caplog: pytest.LogCaptureFixture) -> None:
    link, rec = await make_link(start=False)

    async def flaky(n: int) -> None:
        if n == 1:
            ami.inject(user_event("Untrusted"))
            await link.send({"Action": "Ping"})
            raise RuntimeError("resync bug")

    rec.on_connected_hook = flaky
    await link.start()
    await up(ami, rec, count=2)
    await rec.wait_event("FullyBooted")
    assert "UserEvent" not in rec.names()  # no snapshot to apply them to
    assert ("down", "resync failed") in rec.timeline
    assert "on_connected failed" in caplog.text


async def test_shutdown_then_connection_closed_before_banner(ami: FakeAmi, make_link: LinkFactory) -> None:
    """asterisk_restart: Shutdown, EOF, one connection closed before the banner, then a new login."""
    _, rec = await make_link()
    await up(ami, rec)
    await ami.play("asterisk_restart")
    await rec.wait_event("Shutdown")
    ami.refuse = 1
    await ami.drop()
    await up(ami, rec, count=2)
    assert len(ami.connect_times) == 3
    assert rec.names() == ["FullyBooted", "Shutdown", "FullyBooted"]
    assert ("down", "closed by Asterisk") in rec.timeline


async def test_login_failure_is_typed_retried_and_never_logs_the_secret(
        ami: FakeAmi, make_link: LinkFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ami.secret = "the-right-one"
    link, rec = await make_link(secret="s3cr3t-w0rd")
    await ami.wait_action("Login", count=3)
    assert isinstance(link.last_error, AmiLoginFailed)
    assert link.last_error.message == "Authentication failed"
    assert not link.connected and rec.ups == 0
    assert "login refused" in caplog.text
    ami.secret = "s3cr3t-w0rd"
    await up(ami, rec)
    assert link.last_error is None
    assert "s3cr3t-w0rd" not in caplog.text
    assert all("s3cr3t-w0rd" not in repr(r.args) for r in caplog.records)


async def test_aclose_logs_off(ami: FakeAmi, make_link: LinkFactory) -> None:
    link, rec = await make_link()
    await up(ami, rec)
    await link.aclose()
    assert header(ami.actions[-1], "Action") == "Logoff"
    assert not link.connected
    assert rec.timeline[-1] == ("down", "closed by Asterisk")
    with pytest.raises(AmiDisconnected):
        await link.send({"Action": "Ping"})
    await asyncio.sleep(0.1)
    assert len(ami.connect_times) == 1  # and it stays closed
