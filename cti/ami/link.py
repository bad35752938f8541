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

The parts live apart: ``errors.py`` (what can go wrong), ``actions.py`` (encoding an action and
collecting its answer), ``protocol.py`` (the socket side of one connection) and ``delivery.py``
(the event order the bridge relies on, described there). This module owns ``AmiLink``: its public
API, sending actions, routing what arrives, and supervising the connection (login, keep-alive,
reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from panoramisk import Manager

from cti.ami.actions import LINE_BREAK, ActionFields, PendingAction, action_name, encode_action
from cti.ami.delivery import Delivery, OnConnected, OnDisconnected, OnEvent
from cti.ami.errors import AmiActionError, AmiDisconnected, AmiError, AmiLoginFailed
from cti.ami.frames import AmiMessage, FrameError, parse_frame
from cti.ami.protocol import AmiProtocol, clip
from cti.tasks import stop_tasks

if TYPE_CHECKING:
    # panoramisk ships no type hints, so to mypy its classes are Any, and a subclass of Any
    # accepts any attribute typo. Typing the base as what it is underneath keeps our code checked.
    _ManagerBase = object
else:
    _ManagerBase = Manager

__all__ = ["AmiLink"]

log = logging.getLogger(__name__)

_JITTER = 0.25  # a reconnect delay is shortened by up to this fraction, at random


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
        if LINE_BREAK.search(username) or LINE_BREAK.search(secret):
            raise ValueError("the AMI username and secret must not hold line breaks")
        # panoramisk's own settings (ping_delay, reconnect_timeout, forgetable_actions) stay at
        # their defaults: the machinery that reads them is never started.
        Manager.__init__(self, host=host, port=port, username=username, secret=secret, events="on",
                         log=log)
        self._host = host
        self._port = port
        self._username = username
        self._secret = secret
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._connect_timeout = connect_timeout
        self._connected = False  # panoramisk's flag too: logged in and not lost since
        self._protocol: AmiProtocol | None = None
        self._delivery = Delivery(on_event=on_event, on_connected=on_connected,
                                  on_disconnected=on_disconnected)
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
        self._dispatch_task = asyncio.create_task(self._delivery.run(), name="ami-dispatch")
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
            self._delivery.stop()
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

    def _require_protocol(self, action: ActionFields) -> AmiProtocol:
        if self._closing:
            raise AmiDisconnected(action_name(action), "the link is closing")
        if self._protocol is None or not self._connected:
            raise AmiDisconnected(action_name(action), "not connected")
        return self._protocol

    async def _call(self, protocol: AmiProtocol, action: ActionFields, *, as_list: bool,
                    on_success: Callable[[AmiMessage], None] | None = None) -> PendingAction:
        self._action_ids += 1
        action_id = f"{self._id_prefix}-{self._action_ids}"
        name, frame = encode_action(action_id, action)
        pending = PendingAction(action_id, name, as_list, asyncio.get_running_loop().create_future(),
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
    def _fail_pending(protocol: AmiProtocol, why: str) -> None:
        pending, protocol.pending = protocol.pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(AmiDisconnected(item.name, why))
        if pending:
            log.warning("ami link: %d action(s) in flight failed, not re-sent: %s why=%s", len(pending),
                        ",".join(sorted({p.name for p in pending.values()})), why)

    # ----- frames from the socket ------------------------------------------------------------

    def _frame_received(self, protocol: AmiProtocol, frame: str) -> None:
        try:
            messages = parse_frame(frame)
        except FrameError as exc:
            log.warning("ami link: skipped a malformed frame (%s): %r", exc, clip(frame))
            return
        if len(messages) > 1:
            log.warning("ami link: %d messages ran together in one frame; split them: %s", len(messages),
                        ",".join(m.event or m.response or "?" for m in messages))
        for msg in messages:
            if msg.malformed:
                log.warning("ami link: %s had %d line(s) without ': ', ignored: %r",
                            msg.event or msg.response or "a message", len(msg.malformed),
                            clip("|".join(msg.malformed)))
            self._route(protocol, msg)

    def _route(self, protocol: AmiProtocol, msg: AmiMessage) -> None:
        action_id = msg.action_id
        if action_id is not None:
            pending = protocol.pending.get(action_id)
            if pending is not None and pending.feed(msg):
                return
        if msg.event is not None:
            if protocol.logged_in:
                self._delivery.event(protocol.session, msg)
            else:
                log.debug("ami link: skipped event=%s before login", msg.event)
            return
        if msg.response is not None:
            # The caller gave up waiting (cancelled), or an ActionID that is not ours.
            log.info("ami link: skipped a response no action waits for ActionID=%s response=%s",
                     action_id, msg.response)
            return
        log.warning("ami link: skipped a message that is neither event nor response: %r",
                    clip(" | ".join(f"{k}: {v}" for k, v in msg.headers)))

    def _connection_lost(self, protocol: AmiProtocol, why: str) -> None:
        if protocol is self._protocol:
            self._protocol = None
            self._connected = False
        # Synchronously, before any other coroutine runs: no action of this connection can be
        # answered or re-sent on the next one.
        self._fail_pending(protocol, why)

    def _logged_in(self, protocol: AmiProtocol) -> None:
        # Called while the Login response is routed, before the frames after it (FullyBooted):
        # the login marker must be queued ahead of every event of the session.
        protocol.logged_in = True
        self._protocol = protocol
        self._connected = True
        self._last_error = None
        self._delivery.up(protocol)

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
        protocol = AmiProtocol(self, self._sessions)
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
                self._delivery.down(protocol.session, why)

    async def _keepalive(self, protocol: AmiProtocol) -> None:
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
