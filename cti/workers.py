"""Several server processes on one port: ``cti serve --workers N``.

Each worker is a full node (``cti serve`` in a process of its own, with its own node id) sharing
the configured PostgreSQL and Redis, exactly as separate machines would. The workers bind the
same port with ``SO_REUSEPORT``: the kernel keeps one accept queue per worker and spreads new
connections over them by a hash of the addresses, so no worker wakes for a connection another
takes and none grabs a whole burst (asyncio accepts up to its backlog per wake-up, which skews a
shared inherited socket towards whichever worker woke first). The supervisor itself binds the
port with ``SO_REUSEPORT`` but never listens: no connection is routed to it, yet the port stays
held while a worker restarts and a port already taken is reported once, before any worker
starts. Passing accepted sockets from a parent was the alternative; it would put one process in
every connection's path, the very thing more processes are meant to relieve.

The supervisor (this module) starts the workers, forwards SIGTERM and SIGINT to them (they run
in sessions of their own, so a terminal's Ctrl-C reaches the supervisor only, which stops them
in order), restarts a worker that dies after a back-off, and gives up with a non-zero exit when
workers keep dying. ``RestartPolicy``/``CrashHistory`` hold that decision as plain data.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

USAGE_EXIT = 2  # a worker that exits with this refused its configuration: restarting cannot help


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    first_delay: float = 0.5  # seconds before restarting a worker that died once
    max_delay: float = 30.0
    stable_after: float = 60.0  # a worker that lived this long starts its back-off afresh
    max_deaths: int = 5  # this many deaths (all workers together) within `window` ...
    window: float = 60.0  # ... seconds: the workers keep dying, the supervisor gives up


class CrashHistory:
    """When to restart a worker that died, or ``None``: stop trying. Pure: times are passed in."""

    def __init__(self, policy: RestartPolicy) -> None:
        self._policy = policy
        self._deaths: deque[float] = deque()
        self._delays: dict[int, float] = {}

    def died(self, index: int, *, now: float, uptime: float, returncode: int) -> float | None:
        policy = self._policy
        if returncode == USAGE_EXIT:
            return None
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > policy.window:
            self._deaths.popleft()
        if len(self._deaths) >= policy.max_deaths:
            return None
        previous = self._delays.get(index)
        delay = (policy.first_delay if previous is None or uptime >= policy.stable_after
                 else min(previous * 2, policy.max_delay))
        self._delays[index] = delay
        return delay


def reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def hold_port(host: str, port: int) -> socket.socket:
    """Bind (never listen on) the workers' port with SO_REUSEPORT: a taken port fails here, once,
    and the port stays ours while a worker restarts. Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _die_with_parent() -> Callable[[], None] | None:
    """What a worker runs before exec: on Linux, ask for SIGTERM if the supervisor dies (even by
    SIGKILL), so no orphan keeps serving on the port. prctl is looked up here, in the
    supervisor: between fork and exec only a plain C call is safe."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def arm() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return arm


def _describe(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-returncode).name}"
        return f"signal {-returncode}"
    return f"code {returncode}"


class Supervisor:
    """Runs ``count`` workers, ``command(index)`` each; ``run()`` returns the exit status."""

    def __init__(self, *, count: int, command: Callable[[int], Sequence[str]],
                 policy: RestartPolicy | None = None, stop_timeout: float = 20.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._count = count
        self._command = command
        self._history = CrashHistory(policy or RestartPolicy())
        self._stop_timeout = stop_timeout
        self._clock = clock
        self._stopping = asyncio.Event()
        self._failed = False
        self._live: dict[int, asyncio.subprocess.Process] = {}
        self._before_exec = _die_with_parent()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            async with asyncio.TaskGroup() as group:
                for index in range(1, self._count + 1):
                    group.create_task(self._keep(index))
                group.create_task(self._stop_all_when_asked())
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(sig)
        log.info("all workers stopped")
        return 1 if self._failed else 0

    def _on_signal(self, sig: signal.Signals) -> None:
        if not self._stopping.is_set():
            log.info("%s: stopping %d workers", sig.name, len(self._live))
        self._stopping.set()

    async def _keep(self, index: int) -> None:
        """One worker slot: start it, and again after each death until stopping or giving up."""
        while not self._stopping.is_set():
            process = await asyncio.create_subprocess_exec(
                *self._command(index), start_new_session=True, preexec_fn=self._before_exec)
            self._live[index] = process
            if self._stopping.is_set():
                process.terminate()  # asked to stop while it was being started
            started = self._clock()
            log.info("worker %d started pid=%d", index, process.pid)
            returncode = await process.wait()
            del self._live[index]
            if self._stopping.is_set():
                log.info("worker %d (pid %d) stopped with %s", index, process.pid, _describe(returncode))
                return
            uptime = self._clock() - started
            delay = self._history.died(index, now=self._clock(), uptime=uptime, returncode=returncode)
            if delay is None:
                log.error("worker %d (pid %d) exited with %s after %.1fs: workers keep dying, "
                          "stopping them all", index, process.pid, _describe(returncode), uptime)
                self._failed = True
                self._stopping.set()
                return
            log.warning("worker %d (pid %d) exited with %s after %.1fs: restarting it in %.1fs",
                        index, process.pid, _describe(returncode), uptime, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _stop_all_when_asked(self) -> None:
        await self._stopping.wait()
        for process in list(self._live.values()):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        waits = [asyncio.ensure_future(process.wait()) for process in self._live.values()]
        if waits:
            _, late = await asyncio.wait(waits, timeout=self._stop_timeout)
            for wait in late:
                wait.cancel()
        for index, process in list(self._live.items()):
            if process.returncode is not None:
                continue  # gone in time; its slot has not yet seen it
            log.error("worker %d (pid %d) did not stop in %.0fs: killed", index, process.pid,
                      self._stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            self._failed = True
