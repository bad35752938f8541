"""A fake Asterisk AMI server on a real loopback TCP socket, speaking what the recordings show.

It answers like Asterisk 22 does in ``tests/fixtures/ami/*.jsonl``: the banner, ``Login`` (a wrong
secret gets ``Response: Error`` / ``Authentication failed`` and the connection is closed, as
``action_login`` returning -1 does), ``Ping`` (``Ping: Pong`` and a ``Timestamp``), ``Logoff``
(``Response: Goodbye`` and EOF), an ``Originate`` with ``Async: true`` ("Originate successfully
queued", then an ``OriginateResponse`` event when one is configured), the resync list actions with
the frames recorded in ``resync_snapshot.jsonl`` (their ActionID rewritten to the client's), and
``Response: Success`` for anything else.

For the failure tests it can play a recording's events, inject raw bytes, drop the connection, go
half-open (stop reading and answering, keep the socket), accept-and-close the next connections
before the banner (what a shutting-down Asterisk does, ``asterisk_restart`` session 2), answer a
chosen action with ``Response: Error`` or not at all. Every action received is kept, in order, as
its list of ``(key, value)`` headers, so a test asserts on what the client really sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tests.ami.recordings import Frame, load

EOL = "\r\n"
BANNER = "Asterisk Call Manager/11.0.0\r\n"

Headers = list[tuple[str, str]]

# The login burst Asterisk 22 sends after "Authentication accepted" (login_and_fullybooted).
_FULLY_BOOTED: Headers = [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "5"),
                          ("LastReload", "5"), ("Status", "Fully Booted")]
_RESYNC_ACTIONS = ("CoreShowChannels", "BridgeList", "BridgeInfo", "Getvar", "QueueStatus",
                   "DeviceStateList", "Status")


def parse_headers(text: str) -> Headers:
    """A frame's ``Key: Value`` lines in order, split on the first ``": "`` (values may be empty)."""
    headers: Headers = []
    for line in text.split(EOL):
        if not line:
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        headers.append((key, value.strip() if sep else ""))
    return headers


def header(headers: Sequence[tuple[str, str]], key: str) -> str | None:
    wanted = key.lower()
    return next((v for k, v in headers if k.lower() == wanted), None)


def encode(headers: Iterable[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}{EOL}" for k, v in headers) + EOL).encode("utf-8")


def recorded_events(name: str, *, after: float | None = None) -> list[Frame]:
    """The ``Event:`` frames Asterisk sent in the first session of a recording, after ``after``.

    By default ``after`` is the time of the Login response: the events stamped with that same
    time are the login burst (``FullyBooted``, ``SuccessfulAuth``); the fake sends its own
    ``FullyBooted`` at login instead.
    """
    frames = [f for f in load(name).frames if f.session == 0 and f.dir == "in"]
    if after is None:
        after = next(f.t for f in frames if f.frame.startswith("Response:"))
    return [f for f in frames if f.frame.startswith("Event:") and f.t > after]


def _resync_answers() -> dict[str, list[Headers]]:
    """Action name -> the frames Asterisk answered it with in ``resync_snapshot`` (Response first)."""
    names: dict[str, str] = {}
    answers: dict[str, list[Headers]] = {}
    for frame in load("resync_snapshot").frames:
        headers = parse_headers(frame.frame)
        action_id = header(headers, "ActionID")
        if frame.dir == "out":
            name = header(headers, "Action") or ""
            if name in _RESYNC_ACTIONS and action_id:
                names[action_id] = name
                answers[name] = []
        elif action_id in names:
            answers[names[action_id]].append(headers)
    return answers


@dataclass(eq=False)
class FakeSession:
    """One accepted TCP connection."""

    writer: asyncio.StreamWriter
    connected_at: float
    actions: list[Headers] = field(default_factory=list)
    logged_in: bool = False
    half_open: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def write(self, data: bytes) -> None:
        if not self.closed.is_set() and not self.writer.is_closing():
            self.writer.write(data)

    def close(self) -> None:
        self.closed.set()
        self.writer.close()


class FakeAmi:
    """``async with FakeAmi() as ami:`` listens on 127.0.0.1 (``ami.port``) until the block ends."""

    def __init__(self, *, username: str = "cti", secret: str = "cti-secret") -> None:
        self.username = username
        self.secret = secret
        self.port = 0
        self.sessions: list[FakeSession] = []
        self.connect_times: list[float] = []  # monotonic time of every accepted connection, refused too
        self.actions: list[Headers] = []  # every action of every session, in arrival order
        self.refuse = 0  # the next N connections are accepted and closed before the banner
        self.errors: dict[str, str] = {}  # action name (lower case) -> Message of a Response: Error
        self.silent: set[str] = set()  # action names (lower case) recorded but never answered
        self.answers: dict[str, list[Headers]] = {k.lower(): v for k, v in _resync_answers().items()}
        self.originate_response: Headers | None = None  # sent after an async Originate, if set
        self.originate_delay = 0.0
        # Events the fake wrote on its own (the login burst, OriginateResponse), not by ``play``:
        # a harness that counts the events its client handled must add these to what it played.
        self.own_events = 0
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self._serving: set[asyncio.Task[None]] = set()  # one per connection, run by asyncio.start_server
        self._tasks: set[asyncio.Task[None]] = set()  # our own delayed answers

    # ----- life cycle ----------------------------------------------------------------------

    async def __aenter__(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in self.sessions:
            session.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The connection handlers end on their own once their session is closed; cancelling them
        # would make asyncio.streams log the CancelledError as an error.
        if self._serving:
            await asyncio.wait(self._serving, timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # ----- what tests look at --------------------------------------------------------------

    @property
    def current(self) -> FakeSession:
        if not self.sessions:
            raise AssertionError("no client connected to the fake AMI")
        return self.sessions[-1]

    @property
    def logins(self) -> int:
        """Successful logins so far."""
        return sum(1 for s in self.sessions if s.logged_in)

    def actions_named(self, name: str) -> list[Headers]:
        return [a for a in self.actions if (header(a, "Action") or "").lower() == name.lower()]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_logins(self, count: int, timeout: float = 2.0) -> FakeSession:
        await self.wait_for(lambda: self.logins >= count, timeout)
        return [s for s in self.sessions if s.logged_in][count - 1]

    async def wait_action(self, name: str, count: int = 1, timeout: float = 2.0) -> Headers:
        await self.wait_for(lambda: len(self.actions_named(name)) >= count, timeout)
        return self.actions_named(name)[count - 1]

    async def wait_connections(self, count: int, timeout: float = 2.0) -> None:
        await self.wait_for(lambda: len(self.connect_times) >= count, timeout)

    # ----- what tests do to the client -----------------------------------------------------

    def fail(self, action: str, message: str) -> None:
        """Answer every ``action`` with ``Response: Error`` and this ``Message``."""
        self.errors[action.lower()] = message

    def never_answer(self, *actions: str) -> None:
        """Record these actions but never answer them (to have them in flight at a drop)."""
        self.silent.update(a.lower() for a in actions)

    def answer(self, action: str, frames: list[Headers]) -> None:
        """Answer ``action`` with these frames (Response first); the client's ActionID is added."""
        self.answers[action.lower()] = frames

    def inject(self, data: bytes | str) -> None:
        """Write raw bytes to the current connection (malformed or truncated frames)."""
        self.current.write(data.encode("utf-8") if isinstance(data, str) else data)

    async def play(self, name: str, *, after: float | None = None, speed: float | None = None) -> int:
        """Send a recording's events (see ``recorded_events``) to the current connection.

        ``speed`` None sends them as fast as possible, else with the recorded gaps divided by it.
        Returns how many frames were sent.
        """
        session = self.current
        frames = recorded_events(name, after=after)
        previous = frames[0].t if frames else 0.0
        for frame in frames:
            if speed is not None and frame.t > previous:
                await asyncio.sleep((frame.t - previous) / speed)
            previous = frame.t
            session.write(frame.frame.encode("utf-8"))
            await session.writer.drain()
        return len(frames)

    async def drop(self) -> None:
        """Close the current connection, as Asterisk does on shutdown."""
        session = self.current
        session.close()
        with contextlib.suppress(ConnectionError):
            await session.writer.wait_closed()

    def go_half_open(self) -> None:
        """Stop reading and answering on the current connection, but keep its socket open."""
        self.current.half_open = True

    # ----- the server side -----------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        self.connect_times.append(time.monotonic())
        try:
            if self.refuse > 0:
                self.refuse -= 1
                writer.close()
                await self._notify()
                return
            session = FakeSession(writer, time.monotonic())
            self.sessions.append(session)
            await self._notify()
            session.write(BANNER.encode("ascii"))
            await self._read_actions(session, reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._serving.discard(task)
            writer.close()
            await self._notify()

    async def _read_actions(self, session: FakeSession, reader: asyncio.StreamReader) -> None:
        buffer = b""
        while not session.closed.is_set():
            read = asyncio.ensure_future(reader.read(65536))
            closed = asyncio.ensure_future(session.closed.wait())
            done, _ = await asyncio.wait({read, closed}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                return
            closed.cancel()
            data = read.result()
            if not data:
                return
            if session.half_open:
                # Half-open: what the client writes is never read nor answered.
                await session.closed.wait()
                return
            buffer += data
            while b"\r\n\r\n" in buffer and not session.half_open:
                raw, buffer = buffer.split(b"\r\n\r\n", 1)
                headers = parse_headers(raw.decode("utf-8", errors="replace"))
                session.actions.append(headers)
                self.actions.append(headers)
                await self._notify()
                await self._answer(session, headers)
                if session.closed.is_set():
                    return

    async def _answer(self, session: FakeSession, action: Headers) -> None:
        name = header(action, "Action") or ""
        key = name.lower()
        action_id = header(action, "ActionID")
        ids: Headers = [("ActionID", action_id)] if action_id is not None else []

        def response(kind: str, *extra: tuple[str, str]) -> bytes:
            return encode([("Response", kind), *ids, *extra])

        if key == "login":
            if header(action, "Username") != self.username or header(action, "Secret") != self.secret:
                session.write(response("Error", ("Message", "Authentication failed")))
                session.close()
                return
            session.logged_in = True
            session.write(response("Success", ("Message", "Authentication accepted")))
            session.write(encode(_FULLY_BOOTED))
            self.own_events += 1
            await self._notify()
            return
        if not session.logged_in:
            session.write(response("Error", ("Message", "Permission denied")))
            return
        if key in self.silent:
            return
        if key in self.errors:
            session.write(response("Error", ("Message", self.errors[key])))
            return
        if key == "logoff":
            session.write(response("Goodbye", ("Message", "Thanks for all the fish.")))
            session.close()
            return
        if key == "ping":
            session.write(response("Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")))
            return
        if key == "originate" and (header(action, "Async") or "").lower() == "true":
            session.write(response("Success", ("Message", "Originate successfully queued")))
            if self.originate_response is not None:
                task = asyncio.create_task(self._originate_response(session, ids))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return
        if key in self.answers:
            for frame in self.answers[key]:
                rewritten = [(k, v) for k, v in frame if k.lower() != "actionid"]
                session.write(encode([rewritten[0], *ids, *rewritten[1:]]))
            return
        session.write(response("Success"))

    async def _originate_response(self, session: FakeSession, ids: Headers) -> None:
        await asyncio.sleep(self.originate_delay)
        event = self.originate_response or []
        session.write(encode([event[0], *ids, *event[1:]]))
        self.own_events += 1
