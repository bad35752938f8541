"""The AMI link: one logged-in Asterisk Manager connection that stays up, on panoramisk.

``AmiLink`` subclasses panoramisk 1.4's ``Manager`` (and its protocol ``AMIProtocol``) and
replaces the parts of it that were measured to fail a contact center:

* **Frames run together.** A frame holding ``Event:`` twice (two messages that lost their blank
  line) makes panoramisk's dispatcher raise inside ``data_received``; asyncio then closes the
  transport and every other message of that read is lost. Here frames are cut and parsed by
  ``cti.ami.frames`` (which splits such a frame), nothing raised by a frame escapes
  ``data_received``, and malformed or truncated frames are logged and skipped.
* **Keep-alive.** panoramisk sends ``Ping`` but never looks at the answer, so a half-open
  connection (Asterisk gone without a FIN) is never noticed. Here a ``Ping`` goes out every
  ``ping_interval`` and no ``Pong`` within ``ping_timeout`` drops the connection.
* **Reconnect.** panoramisk retries every 2 s forever. Here the delay grows exponentially from
  ``reconnect_initial`` to ``reconnect_max``, shortened by up to 25 % at random (many servers
  reconnecting after an Asterisk restart must not arrive in step), and starts over after a
  successful login.
* **Re-sent actions.** panoramisk keeps the actions that were unanswered at a disconnect and sends
  them again after the next ``FullyBooted``: an ``Originate`` rings an agent twice, a ``Redirect``
  or ``Hangup`` acts on whatever the new Asterisk has by that name. Here nothing is ever re-sent:
  every action in flight when the connection goes fails with ``AmiDisconnected`` and the caller
  decides (a read is cheap to repeat; an ``Originate`` is the bridge's call to make).

What is left of panoramisk is its configuration and its protocol skeleton; ``Manager.connect``,
its pinger, its event dispatch and its ``awaiting_actions`` are never used.

Event order: everything Asterisk sends that is not an answer to one of our actions goes, in
arrival order, through one queue to ``on_event``, and the link's own milestones go through the
same queue: ``on_disconnected`` comes after the last event of the lost session, and after each
login ``on_connected`` (the bridge's resync) runs before any event of the new session. Events
that arrive while ``on_connected`` runs (``FullyBooted`` too) wait in the queue and are delivered
after it returns, so the tracker applies the snapshot first and then what happened around it;
an event that Asterisk sent before it answered a resync action is therefore replayed on top of a
snapshot that already shows it, and the tracker must treat it as a repeat. The answers to the
resync actions themselves are not in that queue: they go straight to ``send``/``send_list``. If
``on_connected`` raises, the session's events are dropped (there is no snapshot to apply them
to) and the connection is dropped so that the next one resyncs again.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import inspect
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from cti.ami.frames import AmiMessage, FrameError, banner_of, parse_frame, split_stream
from cti.errors import CtiError, InvalidInput
from cti.tasks import stop_tasks

if TYPE_CHECKING:
    # panoramisk ships no type hints, so to mypy its classes are Any, and a subclass of Any
    # accepts any attribute typo. Typing the bases as what they are underneath keeps our code checked.
    _ManagerBase = object
    _ProtocolBase = asyncio.Protocol
else:
    _ManagerBase = Manager
    _ProtocolBase = AMIProtocol

__all__ = [
    "AmiActionError",
    "AmiDisconnected",
    "AmiError",
    "AmiLink",
    "AmiLoginFailed",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
ActionFields = Mapping[str, str | Sequence[str]]
OnEvent = Callable[[AmiMessage], Awaitable[None] | None]
OnConnected = Callable[[], Awaitable[None]]
OnDisconnected = Callable[[str], Awaitable[None] | None]

_JITTER = 0.25  # a reconnect delay is shortened by up to this fraction, at random
_MAX_BUFFER = 1 << 20  # unframed text beyond this is not AMI: drop the link rather than grow
_OK_RESPONSES = frozenset({"Success", "Goodbye", "Follows"})
_HEADER_KEY = re.compile(r"[A-Za-z0-9_-]+")
_LINE_BREAK = re.compile(r"[\r\n]")


# ----- errors ---------------------------------------------------------------------------------


class AmiError(CtiError):
    """Something went wrong talking to Asterisk (a bad gateway, from the desktop's side)."""

    status = 502


class AmiDisconnected(AmiError):
    """The action was not answered because the link is down or went down while it was in flight.

    The action may or may not have been carried out by Asterisk; it is never re-sent by the link.
    """

    status = 503

    def __init__(self, action: str, why: str) -> None:
        super().__init__("ami-disconnected", f"{action}: AMI link down ({why})", action=action, why=why)
        self.action = action
        self.why = why


class AmiActionError(AmiError):
    """Asterisk answered the action with ``Response: Error`` (``message`` is its ``Message``)."""

    def __init__(self, action: str, message: str, response: AmiMessage) -> None:
        super().__init__("ami-action-failed", message, action=action)
        self.action = action
        self.response = response

    def __str__(self) -> str:
        return f"{self.action}: {self.message}"


class AmiLoginFailed(AmiError):
    """Asterisk refused the Login (wrong user or secret, or not allowed from this address)."""

    def __init__(self, username: str, message: str) -> None:
        super().__init__("ami-login-failed", message, username=username)
        self.username = username


# ----- what travels between the socket, the actions and the dispatcher --------------------------


@dataclass(eq=False)
class _Pending:
    """An action sent and not yet fully answered."""

    action_id: str
    name: str
    as_list: bool
    future: asyncio.Future[None]
    on_success: Callable[[AmiMessage], None] | None = None
    response: AmiMessage | None = None
    items: list[AmiMessage] = field(default_factory=list)

    def feed(self, msg: AmiMessage) -> bool:
        """Take ``msg`` if it answers this action; True when taken."""
        if self.future.done():
            return False
        if self.response is None:
            if msg.response is None:
                return False  # an event naming our ActionID before the response: not an answer
            self.response = msg
            if msg.response not in _OK_RESPONSES:
                message = msg.get("Message") or msg.response
                self.future.set_exception(AmiActionError(self.name, message, msg))
                return True
            if self.on_success is not None:
                self.on_success(msg)
            if not (self.as_list and _starts_list(msg)):
                self.future.set_result(None)
            return True
        if msg.event is None:
            return False
        if _ends_list(msg):
            self.future.set_result(None)
        else:
            self.items.append(msg)
        return True


def _starts_list(msg: AmiMessage) -> bool:
    return ((msg.get("EventList") or "").lower() == "start"
            or "will follow" in (msg.get("Message") or "").lower())


def _ends_list(msg: AmiMessage) -> bool:
    marker = (msg.get("EventList") or "").lower()
    return marker in ("complete", "cancelled") or (msg.event or "").endswith("Complete")


@dataclass(frozen=True, slots=True)
class _Event:
    session: int
    message: AmiMessage


@dataclass(frozen=True, slots=True)
class _Up:
    protocol: _AmiProtocol


@dataclass(frozen=True, slots=True)
class _Down:
    session: int
    why: str


_Item = _Event | _Up | _Down | None  # None stops the dispatcher


# ----- the protocol ---------------------------------------------------------------------------


class _AmiProtocol(_ProtocolBase):
    """panoramisk's ``AMIProtocol`` with our framing: nothing a frame does escapes ``data_received``."""

    def __init__(self, link: AmiLink, session: int) -> None:
        loop = asyncio.get_running_loop()
        self._link = link
        self.session = session
        self.banner: asyncio.Future[str] = loop.create_future()
        self.lost: asyncio.Future[str] = loop.create_future()
        self.logged_in = False
        self.resync_failed = False
        self.pending: dict[str, _Pending] = {}  # by ActionID; they die with this connection
        self._transport: asyncio.Transport | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._why: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # panoramisk keeps the transport and resets its state
        self._transport = cast(asyncio.Transport, transport)

    def write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the AMI connection is closing")
        self._transport.write(data)

    def abort(self, why: str) -> None:
        """Drop the connection now, without waiting to flush (a half-open peer never reads)."""
        if self._why is None:
            self._why = why
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        # The decoder keeps a UTF-8 sequence cut between two reads for the next one.
        self._buffer += self._decoder.decode(data)
        frames, self._buffer = split_stream(self._buffer)
        for frame in frames:
            if not self.banner.done():
                version = banner_of(frame)
                if version is None:
                    log.error("ami link: the peer did not greet as Asterisk AMI: %r", _clip(frame))
                    self.abort("no AMI banner")
                    return
                self.banner.set_result(version)
                continue
            try:
                self._link._frame_received(self, frame)
            except Exception:
                # Never let a frame kill the link: panoramisk lets this escape, and asyncio then
                # closes the transport and loses the rest of the read.
                log.exception("ami link: failed to handle a frame, skipped: %r", _clip(frame))
        if len(self._buffer) > _MAX_BUFFER:
            log.error("ami link: %d bytes without a frame end; dropping the connection", len(self._buffer))
            self.abort("oversized frame")

    def eof_received(self) -> bool:
        return False  # close our side too: Asterisk only half-closes when it is done with us

    def connection_lost(self, exc: Exception | None) -> None:
        why = self._why or (f"connection error: {exc}" if exc else "closed by Asterisk")
        if not self.lost.done():
            self.lost.set_result(why)
        self._link._connection_lost(self, why)


# ----- the link -------------------------------------------------------------------------------


class AmiLink(_ManagerBase):
    """A supervised AMI connection: log in, resync, keep alive, reconnect, never re-send.

    ``start()`` returns at once and connects in the background (Asterisk may be down when the
    server starts). After every successful login ``on_connected`` runs (the bridge resyncs
    there, with ``send``/``send_list``), then the events follow in order to ``on_event``; when
    a logged-in connection is lost, ``on_disconnected(why)`` is called after its last event.
    """

    def __init__(self, host: str, port: int, username: str, secret: str, *, on_event: OnEvent,
                 on_connected: OnConnected | None = None, on_disconnected: OnDisconnected | None = None,
                 ping_interval: float = 10.0, ping_timeout: float = 5.0, reconnect_initial: float = 0.5,
                 reconnect_max: float = 30.0, connect_timeout: float = 5.0) -> None:
        for name, value in (("ping_interval", ping_interval), ("ping_timeout", ping_timeout),
                            ("reconnect_initial", reconnect_initial), ("connect_timeout", connect_timeout)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if reconnect_max < reconnect_initial:
            raise ValueError("reconnect_max must not be less than reconnect_initial")
        if _LINE_BREAK.search(username) or _LINE_BREAK.search(secret):
            raise ValueError("the AMI username and secret must not hold line breaks")
        # panoramisk's own settings (ping_delay, reconnect_timeout, forgetable_actions) stay at
        # their defaults: the machinery that reads them is never started.
        Manager.__init__(self, host=host, port=port, username=username, secret=secret, events="on",
                         log=log)
        self._host = host
        self._port = port
        self._username = username
        self._secret = secret
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._connect_timeout = connect_timeout
        self._connected = False  # panoramisk's flag too: logged in and not lost since
        self._protocol: _AmiProtocol | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()  # unbounded: see _dispatch
        self._sessions = 0
        self._action_ids = 0
        # ActionIDs only have to be unique within a session; the random part also keeps ours apart
        # from any a recording or another tool replays on the same connection.
        self._id_prefix = f"cti-{random.getrandbits(24):06x}"
        self._closing = False
        self._last_error: Exception | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<AmiLink {self._username}@{self._host}:{self._port} connected={self._connected}>"

    # ----- public API ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Logged in on a live connection (True already while ``on_connected`` runs)."""
        return self._connected

    @property
    def last_error(self) -> Exception | None:
        """Why the last connection attempt failed (e.g. ``AmiLoginFailed``); None once logged in."""
        return self._last_error

    async def start(self) -> None:
        if self._run_task is not None:
            return
        self._closing = False
        self._dispatch_task = asyncio.create_task(self._dispatch(), name="ami-dispatch")
        self._run_task = asyncio.create_task(self._run(), name="ami-link")

    async def aclose(self) -> None:
        """Log off (if logged in), close the connection, deliver what is queued, stop."""
        if self._closing and self._run_task is None:
            return
        self._closing = True
        protocol = self._protocol
        if protocol is not None and self._connected:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await self._call(protocol, {"Action": "Logoff"}, as_list=False)
                    await asyncio.wait({protocol.lost})  # Asterisk closes after its Goodbye
            except (AmiError, TimeoutError) as exc:
                log.info("ami link: logoff not acknowledged (%s); closing anyway", exc or "timeout")
        run, self._run_task = self._run_task, None
        await stop_tasks([run])
        dispatch, self._dispatch_task = self._dispatch_task, None
        if dispatch is not None:
            self._queue.put_nowait(None)
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await asyncio.shield(dispatch)
            except TimeoutError:
                log.warning("ami link: event delivery did not finish on close; dropping the rest")
                dispatch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await dispatch
        log.info("ami link: closed host=%s port=%d", self._host, self._port)

    async def send(self, action: ActionFields) -> AmiMessage:
        """Send one action and return its response.

        Raises ``AmiActionError`` for ``Response: Error``, ``AmiDisconnected`` when the link is
        down or goes down before the answer (the action is not re-sent), ``InvalidInput`` for a
        header that cannot go on the wire. The link sets the ActionID.
        """
        pending = await self._call(self._require_protocol(action), action, as_list=False)
        assert pending.response is not None
        return pending.response

    async def send_list(self, action: ActionFields) -> list[AmiMessage]:
        """Send an action that answers with an event list and return the list's items.

        The items are the events between the response (``EventList: start``) and the closing
        ``...Complete`` event, which is not included. Errors as for ``send``.
        """
        pending = await self._call(self._require_protocol(action), action, as_list=True)
        return pending.items

    # ----- actions ---------------------------------------------------------------------------

    def _require_protocol(self, action: ActionFields) -> _AmiProtocol:
        if self._closing:
            raise AmiDisconnected(_action_name(action), "the link is closing")
        if self._protocol is None or not self._connected:
            raise AmiDisconnected(_action_name(action), "not connected")
        return self._protocol

    async def _call(self, protocol: _AmiProtocol, action: ActionFields, *, as_list: bool,
                    on_success: Callable[[AmiMessage], None] | None = None) -> _Pending:
        self._action_ids += 1
        action_id = f"{self._id_prefix}-{self._action_ids}"
        name, frame = _encode(action_id, action)
        pending = _Pending(action_id, name, as_list, asyncio.get_running_loop().create_future(),
                           on_success)
        try:
            protocol.write(frame)
        except ConnectionError as exc:
            raise AmiDisconnected(name, "the connection is closing") from exc
        protocol.pending[action_id] = pending
        try:
            await pending.future
        finally:
            # Also when the caller gave up (cancelled): a late answer is then logged and skipped.
            protocol.pending.pop(action_id, None)
        return pending

    @staticmethod
    def _fail_pending(protocol: _AmiProtocol, why: str) -> None:
        pending, protocol.pending = protocol.pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(AmiDisconnected(item.name, why))
        if pending:
            log.warning("ami link: %d action(s) in flight failed, not re-sent: %s why=%s", len(pending),
                        ",".join(sorted({p.name for p in pending.values()})), why)

    # ----- frames from the socket ------------------------------------------------------------

    def _frame_received(self, protocol: _AmiProtocol, frame: str) -> None:
        try:
            messages = parse_frame(frame)
        except FrameError as exc:
            log.warning("ami link: skipped a malformed frame (%s): %r", exc, _clip(frame))
            return
        if len(messages) > 1:
            log.warning("ami link: %d messages ran together in one frame; split them: %s", len(messages),
                        ",".join(m.event or m.response or "?" for m in messages))
        for msg in messages:
            if msg.malformed:
                log.warning("ami link: %s had %d line(s) without ': ', ignored: %r",
                            msg.event or msg.response or "a message", len(msg.malformed),
                            _clip("|".join(msg.malformed)))
            self._route(protocol, msg)

    def _route(self, protocol: _AmiProtocol, msg: AmiMessage) -> None:
        action_id = msg.action_id
        if action_id is not None:
            pending = protocol.pending.get(action_id)
            if pending is not None and pending.feed(msg):
                return
        if msg.event is not None:
            if protocol.logged_in:
                self._queue.put_nowait(_Event(protocol.session, msg))
            else:
                log.debug("ami link: skipped event=%s before login", msg.event)
            return
        if msg.response is not None:
            # The caller gave up waiting (cancelled), or an ActionID that is not ours.
            log.info("ami link: skipped a response no action waits for ActionID=%s response=%s",
                     action_id, msg.response)
            return
        log.warning("ami link: skipped a message that is neither event nor response: %r",
                    _clip(" | ".join(f"{k}: {v}" for k, v in msg.headers)))

    def _connection_lost(self, protocol: _AmiProtocol, why: str) -> None:
        if protocol is self._protocol:
            self._protocol = None
            self._connected = False
        # Synchronously, before any other coroutine runs: no action of this connection can be
        # answered or re-sent on the next one.
        self._fail_pending(protocol, why)

    def _logged_in(self, protocol: _AmiProtocol) -> None:
        # Called while the Login response is routed, before the frames after it (FullyBooted):
        # the _Up marker must be queued ahead of every event of the session.
        protocol.logged_in = True
        self._protocol = protocol
        self._connected = True
        self._last_error = None
        self._queue.put_nowait(_Up(protocol))

    # ----- connection supervision ------------------------------------------------------------

    async def _run(self) -> None:
        retry = 0
        while not self._closing:
            healthy = False
            try:
                healthy = await self._session()
            except AmiLoginFailed as exc:
                self._last_error = exc
                log.warning("ami link: login refused host=%s port=%d user=%s message=%s", self._host,
                            self._port, exc.username, exc.message)
            except (OSError, TimeoutError, AmiError) as exc:
                self._last_error = exc
                log.warning("ami link: connection attempt failed host=%s port=%d error=%s", self._host,
                            self._port, str(exc) or type(exc).__name__)
            if self._closing:
                return
            if healthy:
                retry = 0
            delay = self._backoff(retry)
            retry += 1
            log.info("ami link: reconnecting in %.2fs attempt=%d", delay, retry)
            await asyncio.sleep(delay)

    def _backoff(self, retry: int) -> float:
        base = min(self._reconnect_max, self._reconnect_initial * 2.0 ** min(retry, 32))
        return base * (1.0 - _JITTER * random.random())

    async def _session(self) -> bool:
        """One connection, from connect to loss. True if it logged in and its resync did not fail."""
        self._sessions += 1
        protocol = _AmiProtocol(self, self._sessions)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._connect_timeout):
            await loop.create_connection(lambda: protocol, self._host, self._port)
        keepalive: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                await asyncio.wait({protocol.banner, protocol.lost}, return_when=asyncio.FIRST_COMPLETED)
                if not protocol.banner.done():
                    raise AmiDisconnected("Login", f"{protocol.lost.result()} before the banner")
                log.info("ami link: connected host=%s port=%d banner=%r; logging in user=%s", self._host,
                         self._port, protocol.banner.result(), self._username)
                login = {"Action": "Login", "Username": self._username, "Secret": self._secret,
                         "Events": "on"}
                try:
                    await self._call(protocol, login, as_list=False,
                                     on_success=lambda _: self._logged_in(protocol))
                except AmiActionError as exc:
                    raise AmiLoginFailed(self._username, exc.message) from None
            log.info("ami link: logged in host=%s port=%d user=%s", self._host, self._port, self._username)
            keepalive = asyncio.create_task(self._keepalive(protocol), name="ami-keepalive")
            await asyncio.wait({protocol.lost})
            log.log(logging.INFO if self._closing else logging.WARNING,
                    "ami link: lost host=%s port=%d why=%s", self._host, self._port, protocol.lost.result())
            return not protocol.resync_failed
        finally:
            if keepalive is not None:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive
            why = protocol.lost.result() if protocol.lost.done() else "closed"
            if not protocol.lost.done():
                protocol.abort(why)
                self._connection_lost(protocol, why)
            if protocol.logged_in:
                self._queue.put_nowait(_Down(protocol.session, why))

    async def _keepalive(self, protocol: _AmiProtocol) -> None:
        while True:
            await asyncio.sleep(self._ping_interval)
            try:
                async with asyncio.timeout(self._ping_timeout):
                    await self._call(protocol, {"Action": "Ping"}, as_list=False)
            except TimeoutError:
                log.warning("ami link: no answer to Ping within %.2fs; dropping the connection",
                            self._ping_timeout)
                protocol.abort("keep-alive timeout")
                return
            except AmiError:
                return  # the connection went; the session notices

    # ----- delivery --------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        """Deliver the queue in order (see the module docstring).

        The queue is unbounded on purpose: pausing the socket instead would also hold back the
        answers to the resync and the keep-alive, and the link would drop itself.
        """
        untrusted: int | None = None  # a session whose resync failed: its events are dropped
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, _Up):
                untrusted = None
                if item.protocol.lost.done():
                    # Lost before its resync could start: nothing to resync against, and the
                    # events it brought have no snapshot under them.
                    untrusted = item.protocol.session
                    continue
                if self._on_connected is None:
                    continue
                try:
                    await self._on_connected()
                except Exception as exc:
                    untrusted = item.protocol.session
                    item.protocol.resync_failed = True
                    if isinstance(exc, AmiDisconnected):
                        log.warning("ami link: resync interrupted: %s", exc)
                    else:
                        log.exception("ami link: on_connected failed; dropping the connection to retry")
                    item.protocol.abort("resync failed")
            elif isinstance(item, _Down):
                if self._on_disconnected is not None:
                    await _call_safely(self._on_disconnected, item.why, "on_disconnected")
            elif item.session != untrusted:
                await _call_safely(self._on_event, item.message, "on_event")


async def _call_safely(callback: Callable[[_T], Awaitable[None] | None], arg: _T, name: str) -> None:
    # One callback failing on one event must not stop the delivery of the next ones.
    try:
        result = callback(arg)
        if inspect.isawaitable(result):
            await result
    except Exception:
        subject = arg.event if isinstance(arg, AmiMessage) else arg
        log.exception("ami link: %s failed on %s; going on", name, subject)


def _action_name(action: ActionFields) -> str:
    for key, value in action.items():
        if key.lower() == "action" and isinstance(value, str):
            return value
    return "?"


def _encode(action_id: str, action: ActionFields) -> tuple[str, bytes]:
    """The action as a wire frame: ``Action``, ``ActionID``, then the headers in the given order."""
    name: str | None = None
    lines: list[str] = []
    for key, value in action.items():
        values = [value] if isinstance(value, str) else list(value)
        if not _HEADER_KEY.fullmatch(key):
            raise InvalidInput("ami-bad-header", f"not an AMI header name: {key!r}")
        if any(not isinstance(v, str) or _LINE_BREAK.search(v) for v in values):
            # A line break in a value would smuggle headers, or a whole action, onto the wire.
            raise InvalidInput("ami-bad-header", f"the AMI header {key} must be text on one line")
        lowered = key.lower()
        if lowered == "action":
            if not isinstance(value, str) or not value:
                raise InvalidInput("ami-bad-header", "Action must be one action name")
            name = value
        elif lowered == "actionid":
            raise InvalidInput("ami-bad-header", "the link sets the ActionID itself")
        else:
            lines.extend(f"{key}: {v}" for v in values)
    if name is None:
        raise InvalidInput("ami-bad-header", "an AMI action needs an Action header")
    text = "\r\n".join([f"Action: {name}", f"ActionID: {action_id}", *lines]) + "\r\n\r\n"
    return name, text.encode("utf-8")


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
