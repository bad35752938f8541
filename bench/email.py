"""E-mail benchmark: inbound mail through the SMTP listener to stored, threaded interactions.

``python -m bench email [--db sqlite|postgres|both] [--pg-url URL] [--mails N] [--clients N]
[--connections session|each|both] [--agents N] [--capacity N] [--replies SHARE] [--chats N]
[--warmup N] [--quick]``

Each run starts the real server (``cti serve``, a subprocess) on a fresh database (a SQLite file
in a temp dir, or a fresh schema in PostgreSQL, dropped afterwards) with the e-mail channel: its
SMTP listener on a free loopback port, and acknowledgements on (the default, as in production),
sent through a relay that is ``SmtpSink`` (``tests/adapters/email/peers.py``) on this process's
event loop. ``--agents`` agents, each with e-mail capacity ``--capacity``, are logged in and
available on their WebSockets. ``--warmup`` new threads go first, one at a time and not timed
(they fill the server's caches and pools; they are in the database checks).

Then ``--mails`` mails, all built before the clock starts, go out from ``--clients`` concurrent
SMTP clients (``smtplib``, each call in a worker thread), in two ways, each on its own fresh
server and database: ``session`` (each client keeps one connection and sends message after
message on it) and ``each`` (``adapters.email.submit_async``: a new connection, EHLO and QUIT for
every message). The mix: ``1 - --replies`` of them start new threads, each from its own sender
(a short plain-text mail, every fourth one with an HTML alternative); the rest answer an earlier
mail of the run (chosen at random at least ``2 x --clients`` mails before, so nearly always
answered already; a client whose parent has no answer yet waits for it, counted as
``parent_waits``) from the same sender, with ``In-Reply-To`` that mail and ``References`` its
thread so far, and the quoted original under an ``On ... wrote:`` line. A reply must be stored
on its thread's interaction. Agents accept every offer at once and complete the interaction once
every mail of its thread has been answered by the listener (a reply to a closed interaction
would start a new one), so capacity frees as a real team's would.

Printed per database and way, under ``email_<db>_<way>_``:

* ``smtp_accepted_per_s`` (also printed as ``stored_and_queued_per_s``): mails answered ``250``,
  over the time from the first send to the last ``250``; the listener answers ``DATA`` only once
  the message is stored (new interaction queued for routing, or the reply threaded), never after
  routing, so this is threaded, stored and queued mails per second. ``smtp_answer_p50/p99_ms``: each
  mail from its send to the answer.
* ``end_to_end_mails_per_s``: all mails over the time from the first send until every new
  thread's ``interaction.offered`` (whose screen pop carries its first message) has been read off
  an agent's socket and every reply is stored (its ``250``). ``offer_p50/p99/max_ms``: each new
  thread, from the start of its send to its offer on an agent socket. An offer not there 30 s
  after the last send is lost. ``last_offer_after_last_answer_s`` is how far the offers trail
  the listener; ``server_log_queued_to_offered_*`` is the server's side of that wait, from its
  own ``interaction queued`` and ``offered`` log lines (millisecond stamps).
* ``chat_offer_p50/p99/max_ms``: ``--chats`` web-chat visitors (connected before the burst)
  each write their first message once their share of the burst has been answered (spread
  evenly over it); each is timed from that message to its ``interaction.offered`` on the socket
  of an agent who takes chats only (capacity for all of them). What a chat waits while mail
  pours in. ``chats_offered`` of ``chats_sent_during_burst``.
* ``server_cpu_ms_per_mail``: the server process's CPU (all threads) over the end-to-end window,
  per mail; ``server_rss_mib_*`` from ``/proc`` (``peak`` is ``VmHWM``, the whole life of the
  process); the harness's and the rest of the machine's (the database server, anyone else)
  CPU share over the same window. It is one process under one GIL: about one core's worth
  of the machine's two at most (``server_cpu_pct`` is per core, 100 = one core busy).
* After the run, once the agents' completions and the acknowledgements have come (or 30 s): the
  acknowledgements the relay received (one per new thread is expected), and what the database
  holds: e-mail interactions (expected: one per new thread, warm-up included), customer messages
  on them (expected: every mail sent), replies stored on another interaction than their
  thread's, mails not stored, interactions by state; ``mismatch`` lists any difference.

To measure an older commit the same way, run this file from a checkout of it (copied over its
``bench/email.py``; drop the ``ack_limit_total_per_hour`` line where that key did not exist yet).

Measured, not asserted. Caveats: the harness (SMTP clients, their threads, the agents' sockets,
the relay sink) shares the machine with the server and the database server (2 cores on the
reference box), so the figures are pessimistic once they compete (each run prints the CPU
shares); ``each`` also pays ``smtplib``'s ``getfqdn`` per connection (its cost here is printed
once); p99 of fewer than 100 values is the maximum. The server's log is searched for warnings and
errors, counted, not judged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import smtplib
import socket
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from adapters.email import SubmitResult, submit_async
from bench.common import (
    cpu_seconds,
    emit,
    json_frames,
    machine_busy_seconds,
    memory_mib,
    open_desks,
    percentile,
    postgres_schema,
)
from context.migrate import sync_url
from tests.adapters.email.mails import SUPPORT, mail, raw
from tests.adapters.email.peers import SmtpSink
from tests.server_process import RunningServer, free_port, run_server_async

DEFAULT_PG = "postgresql+psycopg://127.0.0.1:5432/test"
LOST_AFTER = 30.0  # seconds after the last send: an offer not there by then is lost
DRAIN_TIMEOUT = 30.0  # completions and acknowledgements after the run
CLIENT_NAME = "bench-client.example"  # our EHLO name on kept connections
HTML_EVERY = 4  # every fourth new thread also has an HTML alternative
CONNECT_CONCURRENCY = 16
CHAT_AGENT = "chat-agent"
LOG_LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO \S+ "
                      r"(?P<what>interaction queued|offered) id=(?P<id>\S+)")


# ----- the mails ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedMail:
    index: int
    thread: int  # index of the thread's first mail (itself for a new thread)
    parent: int | None  # the mail it answers; None: a new thread
    sender: str
    message_id: str  # without angle brackets
    marker: str  # in the body, to recognise it in a screen pop
    raw: bytes
    root_id: str  # the Message-ID of the thread's first mail

    @property
    def new_thread(self) -> bool:
        return self.parent is None


def sender_of(tag: str, n: int) -> str:
    return f"customer.{tag}{n:06d}@customers.example"


def new_thread_text(n: int, marker: str) -> str:
    return (f"Hello,\n\nI ordered item {n} three weeks ago and it has still not arrived. The tracking page "
            "has said\n\"in transit\" for ten days now. Could you check what happened and tell me when "
            f"to expect it?\n\nReference: {marker}\n\nBest regards,\nCustomer {n}\n")


def plan_mails(count: int, *, replies: float, gap: int, tag: str, seed: int) -> list[PlannedMail]:
    """``count`` mails, ``round(count * replies)`` of them answers to an earlier one (at least
    ``gap`` mails before, when the count allows), the rest new threads from distinct senders."""
    rng = random.Random(seed)
    n_replies = round(count * replies) if count > 1 else 0
    gap = max(1, min(gap, count - n_replies))
    reply_at = set(rng.sample(range(gap, count), n_replies)) if n_replies else set()
    planned: list[PlannedMail] = []
    texts: dict[int, str] = {}
    chains: dict[int, list[str]] = {}  # a thread's Message-IDs so far, oldest first
    for k in range(count):
        marker = f"bench-{tag}-{k:06d}"
        message_id = f"{marker}.{uuid.uuid4().hex[:12]}@customers.example"
        if k not in reply_at:
            body = new_thread_text(k, marker)
            html = None
            if k % HTML_EVERY == 0:
                paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in body.split("\n\n"))
                html = f"<html><body>{paragraphs}</body></html>"
            message = mail(sender=f"Customer {k} <{sender_of(tag, k)}>", subject=f"Order {k} has not arrived",
                           body=body, message_id=f"<{message_id}>", html=html)
            planned.append(PlannedMail(k, k, None, sender_of(tag, k), message_id, marker, raw(message),
                                       message_id))
            chains[k] = [message_id]
        else:
            parent = planned[rng.randrange(0, k - gap + 1)]
            chain = chains[parent.thread]
            refs = chain[:chain.index(parent.message_id) + 1]
            quoted = "\n".join(f"> {line}" if line else ">" for line in texts[parent.index].splitlines())
            body = (f"Any news about this? I still have nothing. ({marker})\n\n"
                    f"On Tue, 3 Mar 2026 at 10:00, Customer {parent.thread} <{parent.sender}> wrote:\n"
                    f"{quoted}\n")
            message = mail(sender=f"Customer {parent.thread} <{parent.sender}>",
                           subject=f"Re: Order {parent.thread} has not arrived", body=body,
                           message_id=f"<{message_id}>", in_reply_to=f"<{parent.message_id}>",
                           references=[f"<{r}>" for r in refs])
            planned.append(PlannedMail(k, parent.thread, parent.index, parent.sender, message_id, marker,
                                       raw(message), parent.root_id))
            chain.append(message_id)
        texts[k] = body
    return planned


# ----- the database and the server ---------------------------------------------------------


@contextlib.contextmanager
def database(kind: str, pg_url: str, tmp: Path) -> Iterator[str]:
    """The server's database URL: a SQLite file in ``tmp``, or a fresh schema in PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'cti.db'}"
        return
    with postgres_schema(pg_url) as url:
        yield url


def agent_id(n: int) -> str:
    return f"a{n:03d}"


def write_config(tmp: Path, *, agents: int, capacity: int, smtp_port: int, relay_port: int,
                 chats: int = 0) -> Path:
    channel = {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "hostname": "mx.acme.example"},
        "relay": {"host": "127.0.0.1", "port": relay_port, "timeout": 10,
                  "local_hostname": "cti.acme.example"},
        "from_name": "ACME Support",
        "attachments_dir": str(tmp / "attachments"),
        # One acknowledgement per new thread, as the checks expect: the production cap (200 an
        # hour, against acknowledgement floods) would stop them early in a burst of thousands.
        "ack_limit_total_per_hour": 1_000_000,
    }
    people: list[dict[str, Any]] = [
        {"id": agent_id(n), "password": agent_id(n), "team": "support", "skills": {"english": 5},
         "capacity": {"email": capacity}} for n in range(agents)]
    if chats:
        # Takes the chats sent during the burst (and no e-mail): room for all of them at once.
        people.append({"id": CHAT_AGENT, "password": CHAT_AGENT, "team": "support", "skills": {"english": 5},
                       "capacity": {"chat": chats}})
    people.append({"id": "sam", "password": "sam", "role": "supervisor", "team": "support", "skills": {},
                   "capacity": {}})
    # As ``tests/adapters/center.py``'s ``center_config`` (not imported: mypy would follow it
    # into test helpers that are not type-clean), with our own agents.
    config = {
        "token_secret": "bench-email-secret-not-for-production-32-bytes",
        "demo": True,  # the passwords are the ids, in plain text
        "logging": {"format": "text"},  # queued_to_offered reads the text form's time stamps
        "routing": {"offer_timeout": 30},
        "teams": [{"name": "support", "supervisors": ["sam"]}],
        "queues": [{"name": "support", "skills": {"english": 1}, "address": SUPPORT,
                    "service_targets": {"email": 14400, "chat": 60}}],
        "chat": {"queue": "support"},
        "agents": people,
        "channels": {"email": channel},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# ----- the senders -------------------------------------------------------------------------


@dataclass
class Phase:
    """One batch of mails in flight: what was sent, answered and offered, and when."""

    mails: list[PlannedMail]
    sent_at: dict[int, float] = field(default_factory=dict)
    answered_at: dict[int, float] = field(default_factory=dict)
    answers: dict[int, SubmitResult] = field(default_factory=dict)
    answered: dict[int, asyncio.Event] = field(default_factory=dict)
    remaining: Counter[int] = field(default_factory=Counter)  # per thread: mails not answered yet
    offers: dict[int, asyncio.Future[float]] = field(default_factory=dict)  # per new thread
    thread_of_sender: dict[str, int] = field(default_factory=dict)
    parent_waits: int = 0
    pops_without_message: int = 0
    next_index: int = 0

    def __post_init__(self) -> None:
        loop = asyncio.get_running_loop()
        for m in self.mails:
            self.answered[m.index] = asyncio.Event()
            self.remaining[m.thread] += 1
            if m.new_thread:
                self.offers[m.index] = loop.create_future()
                self.thread_of_sender[m.sender] = m.index

    def take(self) -> PlannedMail | None:
        if self.next_index >= len(self.mails):
            return None
        m = self.mails[self.next_index]
        self.next_index += 1
        return m

    async def parent_answered(self, m: PlannedMail) -> None:
        if m.parent is not None and not self.answered[m.parent].is_set():
            self.parent_waits += 1
            await self.answered[m.parent].wait()


class Senders:
    """``clients`` SMTP clients sending a phase's mails in order, each call in a worker thread."""

    def __init__(self, host: str, port: int, desks: Desks) -> None:
        self.host, self.port = host, port
        self.desks = desks
        self.chats: Chats | None = None  # told of each answer, to send its chats on schedule

    async def run(self, phase: Phase, *, clients: int, keep_connection: bool) -> None:
        client = self._session_client if keep_connection else self._each_client
        await asyncio.gather(*(client(phase) for _ in range(clients)))

    def _record(self, phase: Phase, m: PlannedMail, sent: float, result: SubmitResult) -> None:
        phase.answered_at[m.index] = time.perf_counter()
        phase.sent_at[m.index] = sent
        phase.answers[m.index] = result
        phase.answered[m.index].set()
        if self.chats is not None:
            self.chats.progress(len(phase.answers), len(phase.mails))
        phase.remaining[m.thread] -= 1
        if phase.remaining[m.thread] == 0:
            self.desks.thread_done(m.thread)

    async def _each_client(self, phase: Phase) -> None:
        while (m := phase.take()) is not None:
            await phase.parent_answered(m)
            sent = time.perf_counter()
            try:
                result = await submit_async(self.host, self.port, m.raw, mail_from=m.sender,
                                            rcpt_to=[SUPPORT])
            except OSError as exc:
                result = SubmitResult(0, type(exc).__name__)
            self._record(phase, m, sent, result)

    async def _session_client(self, phase: Phase) -> None:
        loop = asyncio.get_running_loop()
        client: smtplib.SMTP | None = None
        try:
            while (m := phase.take()) is not None:
                await phase.parent_answered(m)
                sent = time.perf_counter()
                try:
                    if client is None:
                        client = await loop.run_in_executor(None, connect, self.host, self.port)
                    result = await loop.run_in_executor(None, send_on, client, m)
                except (smtplib.SMTPServerDisconnected, OSError) as exc:
                    result = SubmitResult(0, type(exc).__name__)
                    client = None
                self._record(phase, m, sent, result)
        finally:
            if client is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    await loop.run_in_executor(None, client.quit)


def connect(host: str, port: int) -> smtplib.SMTP:
    client = smtplib.SMTP(host, port, local_hostname=CLIENT_NAME, timeout=30)
    client.ehlo()
    return client


def send_on(client: smtplib.SMTP, m: PlannedMail) -> SubmitResult:
    """One message on a kept connection; the answer instead of an exception, as ``submit`` does."""
    try:
        client.sendmail(m.sender, [SUPPORT], m.raw)
        return SubmitResult(250, "OK")
    except smtplib.SMTPRecipientsRefused as exc:
        code, why = next(iter(exc.recipients.values()))
        return SubmitResult(code, why.decode("utf-8", "replace"))
    except smtplib.SMTPResponseException as exc:
        error: bytes | str = exc.smtp_error
        return SubmitResult(exc.smtp_code,
                            error.decode("utf-8", "replace") if isinstance(error, bytes) else error)


# ----- the agents --------------------------------------------------------------------------


@dataclass
class Work:
    interaction_id: str
    ws: aiohttp.ClientWebSocketResponse
    accepted: bool = False
    completing: bool = False


class Desks:
    """The agents' sockets: offers matched to new threads, accepted at once, completed once the
    thread's every mail has been answered by the listener."""

    def __init__(self) -> None:
        self.phase: Phase | None = None
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.work: dict[int, Work] = {}  # per thread of the current phase
        self.thread_of: dict[str, int] = {}  # interaction id -> thread
        self.open_threads = 0
        self.all_closed = asyncio.Event()
        self.all_closed.set()
        self.unmatched = 0
        self.replies_seen = 0
        self.completed = 0
        self.errors: Counter[str] = Counter()
        self.offer_bytes: list[int] = []
        self.chats: Chats | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def start_phase(self, phase: Phase) -> None:
        self.phase = phase
        self.work.clear()
        self.thread_of.clear()
        self.completed = self.replies_seen = 0
        self.offer_bytes.clear()
        self.open_threads = len(phase.offers)
        if self.open_threads:
            self.all_closed.clear()

    async def connect(self, session: aiohttp.ClientSession, server: RunningServer, count: int, *,
                      chat_agent: bool) -> None:
        agents = [agent_id(n) for n in range(count)] + ([CHAT_AGENT] if chat_agent else [])
        self.sockets = await open_desks(session, server.url, server.ws_url, agents,
                                        concurrency=CONNECT_CONCURRENCY)
        self.readers = [asyncio.create_task(self.read(ws)) for ws in self.sockets]

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for data, size, received in json_frames(ws):
            kind = data.get("type")
            if kind == "interaction.offered":
                await self._offered(ws, data, size, received)
            elif kind == "message.added":
                if (data.get("message") or {}).get("sender") == "customer":
                    self.replies_seen += 1
            elif kind == "ack":
                self._acked(data.get("ref"))
            elif kind in ("error", "lagged"):
                self.errors[str(data.get("error_id", kind))] += 1

    async def _offered(self, ws: aiohttp.ClientWebSocketResponse, data: dict[str, Any], size: int,
                       received: float) -> None:
        phase = self.phase
        pop = data.get("screen_pop") or {}
        visitor = ((pop.get("interaction") or {}).get("context") or {}).get("chat.name")
        if isinstance(visitor, str) and self.chats is not None and self.chats.offered(visitor, received):
            iid = str(data["interaction_id"])
            # Taken and finished at once: the chat agent's capacity is for the next chat.
            await ws.send_json({"type": "accept", "interaction_id": iid, "ref": f"accept-chat:{iid}"})
            await ws.send_json({"type": "complete", "interaction_id": iid, "disposition": "resolved",
                                "ref": f"complete-chat:{iid}"})
            return
        sender = (pop.get("context") or {}).get("email.from")
        thread = phase.thread_of_sender.get(sender) if phase is not None and isinstance(sender, str) else None
        if phase is None or thread is None or phase.offers[thread].done():
            self.unmatched += 1
            return
        bodies = [str(m.get("body", "")) for m in pop.get("messages") or []]
        if not any(phase.mails[thread].marker in b for b in bodies):
            phase.pops_without_message += 1
        phase.offers[thread].set_result(received)
        self.offer_bytes.append(size)
        iid = str(data["interaction_id"])
        self.work[thread] = Work(iid, ws)
        self.thread_of[iid] = thread
        await ws.send_json({"type": "accept", "interaction_id": iid, "ref": f"accept:{iid}"})

    def _acked(self, ref: Any) -> None:
        # Refs are "<command>:<interaction id>" (the desktop echoes only a short string or an int).
        what, _, iid = ref.partition(":") if isinstance(ref, str) else ("", "", "")
        if iid not in self.thread_of:
            return
        thread = self.thread_of[iid]
        work = self.work.get(thread)
        if work is None:
            return
        if what == "accept":
            work.accepted = True
            self._maybe_complete(thread)
        elif what == "complete":
            self.completed += 1
            self.open_threads -= 1
            if self.open_threads == 0:
                self.all_closed.set()

    def thread_done(self, thread: int) -> None:
        """Every mail of ``thread`` has its answer: no more replies will come to it."""
        self._maybe_complete(thread)

    def _maybe_complete(self, thread: int) -> None:
        work = self.work.get(thread)
        phase = self.phase
        if work is None or phase is None or not work.accepted or work.completing or phase.remaining[thread]:
            return
        work.completing = True
        task = asyncio.create_task(work.ws.send_json(
            {"type": "complete", "interaction_id": work.interaction_id, "disposition": "resolved",
             "ref": f"complete:{work.interaction_id}"}))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def aclose(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


class Chats:
    """Web-chat visitors who write while the e-mail burst is stored: each first message is
    sent once its share of the burst has been answered (evenly spread over it), and timed to its
    offer on the chat agent's socket."""

    def __init__(self, session: aiohttp.ClientSession, ws_url: str, count: int) -> None:
        self.session, self.ws_url, self.count = session, ws_url, count
        self.names = [f"burst-visitor-{k:03d}" for k in range(count)]
        self.sockets: dict[str, aiohttp.ClientWebSocketResponse] = {}
        self.sent_at: dict[str, float] = {}
        self.latency: dict[str, float] = {}
        self.next = 0
        self._sending: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        for name in self.names:
            ws = await self.session.ws_connect(f"{self.ws_url}/ws/chat")
            await ws.send_json({"type": "hello", "name": name, "email": f"{name}@visitors.example"})
            welcome = await ws.receive_json()
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"visitor {name}: no welcome: {welcome}")
            self.sockets[name] = ws

    def progress(self, answered: int, total: int) -> None:
        """``answered`` of the burst's ``total`` mails have their answer: send the chats due."""
        while self.next < self.count and answered >= (self.next + 1) * total // (self.count + 1):
            name = self.names[self.next]
            self.next += 1
            task = asyncio.create_task(self._send(name))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, name: str) -> None:
        self.sent_at[name] = time.perf_counter()
        body = f"Hello, I am {name}: a quick question"
        await self.sockets[name].send_json({"type": "message", "body": body})

    def offered(self, name: str, received: float) -> bool:
        if name not in self.sent_at or name in self.latency:
            return False
        self.latency[name] = received - self.sent_at[name]
        return True

    async def aclose(self) -> None:
        for ws in self.sockets.values():
            with contextlib.suppress(ConnectionError, TimeoutError):
                await ws.send_json({"type": "leave"})
            await ws.close()


# ----- the checks --------------------------------------------------------------------------


@dataclass
class Stored:
    email_interactions: int
    states: Counter[str]
    by_ref: dict[str, list[str]]  # a customer message's channel ref -> the interactions holding it


def read_back(url: str) -> Stored:
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            states = Counter({str(s): int(n) for s, n in conn.execute(text(
                "SELECT state, count(*) FROM interactions WHERE channel = 'email' GROUP BY state"))})
            by_ref: dict[str, list[str]] = {}
            for ref, iid in conn.execute(text(
                    "SELECT m.channel_ref, m.interaction_id FROM messages m "
                    "JOIN interactions i ON i.id = m.interaction_id "
                    "WHERE i.channel = 'email' AND m.sender = 'customer'")):
                by_ref.setdefault(str(ref), []).append(str(iid))
    finally:
        engine.dispose()
    return Stored(sum(states.values()), states, by_ref)


def check(prefix: str, stored: Stored, mails: Sequence[PlannedMail]) -> list[str]:
    """Print what the database holds against what was sent; returns the mismatches."""
    new_threads = sum(1 for m in mails if m.new_thread)
    stored_messages = sum(len(v) for v in stored.by_ref.values())
    missing = [m for m in mails if m.message_id not in stored.by_ref]
    doubled = sum(1 for m in mails if len(stored.by_ref.get(m.message_id, ())) > 1)
    interaction_of = {m.message_id: stored.by_ref[m.message_id][0] for m in mails
                      if m.message_id in stored.by_ref}
    misthreaded = sum(1 for m in mails if not m.new_thread and m.message_id in interaction_of
                      and interaction_of.get(m.root_id) != interaction_of[m.message_id])
    roots = [interaction_of[m.message_id] for m in mails if m.new_thread and m.message_id in interaction_of]
    shared_roots = len(roots) - len(set(roots))
    emit(f"{prefix}_db_email_interactions", stored.email_interactions)
    emit(f"{prefix}_db_email_interactions_expected", new_threads)
    emit(f"{prefix}_db_customer_messages", stored_messages)
    emit(f"{prefix}_db_customer_messages_expected", len(mails))
    emit(f"{prefix}_db_mails_missing", len(missing))
    emit(f"{prefix}_db_mails_stored_twice", doubled)
    emit(f"{prefix}_db_replies_misthreaded", misthreaded)
    emit(f"{prefix}_db_threads_sharing_an_interaction", shared_roots)
    emit(f"{prefix}_db_states", ",".join(f"{k}={v}" for k, v in sorted(stored.states.items())) or "none")
    problems = []
    if stored.email_interactions != new_threads:
        problems.append(f"interactions {stored.email_interactions}!={new_threads}")
    if stored_messages != len(mails):
        problems.append(f"messages {stored_messages}!={len(mails)}")
    for name, count in (("missing", len(missing)), ("doubled", doubled), ("misthreaded", misthreaded),
                        ("shared", shared_roots)):
        if count:
            problems.append(f"{name} {count}")
    return problems


# ----- a run -------------------------------------------------------------------------------


@dataclass
class Cpu:
    server: float
    harness: float
    machine: float

    @classmethod
    def now(cls, pid: int) -> Cpu:
        return cls(cpu_seconds(pid), time.process_time(), machine_busy_seconds())


def report_latency(prefix: str, values: list[float]) -> None:
    if not values:
        return
    ordered = sorted(values)
    emit(f"{prefix}_p50_ms", statistics.median(ordered) * 1000)
    emit(f"{prefix}_p99_ms", percentile(ordered, 0.99) * 1000)
    emit(f"{prefix}_max_ms", ordered[-1] * 1000)


async def run_phase(senders: Senders, desks: Desks, phase: Phase, *, clients: int,
                    keep_connection: bool) -> None:
    desks.start_phase(phase)
    await senders.run(phase, clients=clients, keep_connection=keep_connection)
    await asyncio.wait(list(phase.offers.values()), timeout=LOST_AFTER)


async def drain(desks: Desks, sink: SmtpSink, acks: int) -> float:
    """Wait for the agents' completions and the acknowledgements; returns how long it took."""
    started = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(desks.all_closed.wait(), DRAIN_TIMEOUT)
    with contextlib.suppress(AssertionError):
        await sink.wait_for(acks, timeout=max(0.1, DRAIN_TIMEOUT - (time.perf_counter() - started)))
    return time.perf_counter() - started


async def bench_run(args: argparse.Namespace, prefix: str, url: str, tmp: Path, *,
                    keep_connection: bool) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=args.clients + 2, thread_name_prefix="smtp"))
    gap = 2 * args.clients
    warm = plan_mails(args.warmup, replies=0.0, gap=gap, tag="w", seed=1)
    mails = plan_mails(args.mails, replies=args.replies, gap=gap, tag="r", seed=2)
    sink = SmtpSink()
    await sink.start()
    smtp_port = free_port()
    config = write_config(tmp, agents=args.agents, capacity=args.capacity, smtp_port=smtp_port,
                          relay_port=sink.port, chats=args.chats)
    booting = time.perf_counter()
    try:
        async with run_server_async(tmp, db_url=url, config=config) as server:
            emit(f"{prefix}_server_start_s", time.perf_counter() - booting)
            pid = server.process.pid
            desks = Desks()
            senders = Senders("127.0.0.1", smtp_port, desks)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                try:
                    await desks.connect(session, server, args.agents, chat_agent=args.chats > 0)
                    emit(f"{prefix}_agents_connected", len(desks.sockets))
                    chats = Chats(session, server.ws_url, args.chats)
                    await chats.open()
                    if warm:
                        warmup = Phase(warm)
                        await run_phase(senders, desks, warmup, clients=1, keep_connection=keep_connection)
                        await drain(desks, sink, len(warm))
                        emit(f"{prefix}_warmup_mails", len(warm))
                        emit(f"{prefix}_warmup_offers", sum(1 for f in warmup.offers.values() if f.done()))
                    acks_before = len(sink.received)
                    rss_before = memory_mib(pid, "VmRSS")
                    phase = Phase(mails)
                    senders.chats = desks.chats = chats
                    cpu = Cpu.now(pid)
                    await run_phase(senders, desks, phase, clients=args.clients,
                                    keep_connection=keep_connection)
                    cpu_after = Cpu.now(pid)
                    rss_after = memory_mib(pid, "VmRSS")
                    new_threads = len(phase.offers)
                    drained = await drain(desks, sink, acks_before + new_threads)
                    report_run(prefix, args, phase, cpu, cpu_after)
                    await asyncio.sleep(0)
                    emit(f"{prefix}_chats_sent_during_burst", len(chats.sent_at))
                    emit(f"{prefix}_chats_offered", len(chats.latency))
                    report_latency(f"{prefix}_chat_offer", list(chats.latency.values()))
                    emit(f"{prefix}_server_rss_mib_before", rss_before)
                    emit(f"{prefix}_server_rss_mib_after", rss_after)
                    emit(f"{prefix}_server_rss_mib_peak", memory_mib(pid, "VmHWM"))
                    emit(f"{prefix}_parent_waits", phase.parent_waits)
                    emit(f"{prefix}_unmatched_offers", desks.unmatched)
                    if desks.offer_bytes:
                        emit(f"{prefix}_offer_frame_bytes_p50", int(statistics.median(desks.offer_bytes)))
                    emit(f"{prefix}_replies_seen_by_agents", desks.replies_seen)
                    emit(f"{prefix}_agent_errors", counted(desks.errors))
                    emit(f"{prefix}_completed", desks.completed)
                    emit(f"{prefix}_drain_s", drained)
                    acks = len(sink.received) - acks_before
                    emit(f"{prefix}_acks_received", acks)
                    emit(f"{prefix}_acks_expected", new_threads)
                finally:
                    await chats.aclose()
                    await desks.aclose()
            stored = await asyncio.to_thread(read_back, url)
            problems = check(prefix, stored, [*warm, *mails])
            if acks != new_threads:
                problems.append(f"acks {acks}!={new_threads}")
            lost = sum(1 for f in phase.offers.values() if not f.done())
            if lost:
                problems.append(f"offers lost {lost}")
            if phase.pops_without_message:
                problems.append(f"pops without message {phase.pops_without_message}")
            emit(f"{prefix}_mismatch", "; ".join(problems) or "none")
        lines = server.log().splitlines()
        report_latency(f"{prefix}_server_log_queued_to_offered",
                       queued_to_offered(lines, set(desks.thread_of)))
        emit(f"{prefix}_server_log_warnings", sum(1 for line in lines if " WARNING " in line))
        emit(f"{prefix}_server_log_errors",
             sum(1 for line in lines if " ERROR " in line or " CRITICAL " in line))
    finally:
        await sink.aclose()


def report_run(prefix: str, args: argparse.Namespace, phase: Phase, cpu: Cpu, after: Cpu) -> None:
    mails = phase.mails
    first = min(phase.sent_at.values())
    last_answer = max(phase.answered_at.values())
    accepted = [i for i, r in phase.answers.items() if r.accepted]
    offered = {t: f.result() for t, f in phase.offers.items() if f.done()}
    replies = [m for m in mails if not m.new_thread]
    ends = [last_answer, *offered.values()]
    end = max(ends)
    emit(f"{prefix}_mails", len(mails))
    emit(f"{prefix}_new_threads", len(phase.offers))
    emit(f"{prefix}_replies", len(replies))
    emit(f"{prefix}_clients", args.clients)
    emit(f"{prefix}_smtp_accepted", len(accepted))
    codes = Counter(r.code for r in phase.answers.values() if not r.accepted)
    emit(f"{prefix}_smtp_not_accepted", counted(Counter({str(k): v for k, v in codes.items()})))
    emit(f"{prefix}_smtp_s", last_answer - first)
    emit(f"{prefix}_smtp_accepted_per_s", len(accepted) / (last_answer - first))
    # The same figure under the name: ``250`` comes once a mail is threaded, stored and
    # its interaction queued for routing (never after routing).
    emit(f"{prefix}_stored_and_queued_per_s", len(accepted) / (last_answer - first))
    report_latency(f"{prefix}_smtp_answer", [phase.answered_at[i] - phase.sent_at[i] for i in phase.answers])
    report_latency(f"{prefix}_smtp_answer_new_thread",
                   [phase.answered_at[t] - phase.sent_at[t] for t in phase.offers if t in phase.answered_at])
    report_latency(f"{prefix}_smtp_answer_reply",
                   [phase.answered_at[m.index] - phase.sent_at[m.index] for m in replies])
    emit(f"{prefix}_offers", len(offered))
    emit(f"{prefix}_offers_lost", len(phase.offers) - len(offered))
    emit(f"{prefix}_pops_without_message", phase.pops_without_message)
    if offered:
        emit(f"{prefix}_last_offer_after_last_answer_s", max(offered.values()) - last_answer)
    emit(f"{prefix}_end_to_end_s", end - first)
    emit(f"{prefix}_end_to_end_mails_per_s", len(mails) / (end - first))
    report_latency(f"{prefix}_offer", [at - phase.sent_at[t] for t, at in offered.items()])
    # The CPU window ends when the waiting for offers did, a little after ``end``.
    window = max(end - first, 1e-9)
    server_cpu, harness_cpu = after.server - cpu.server, after.harness - cpu.harness
    other_cpu = after.machine - cpu.machine - server_cpu - harness_cpu
    emit(f"{prefix}_server_cpu_ms_per_mail", 1000 * server_cpu / len(mails))
    emit(f"{prefix}_server_cpu_pct", 100 * server_cpu / window)
    emit(f"{prefix}_harness_cpu_pct", 100 * harness_cpu / window)
    emit(f"{prefix}_other_cpu_pct", 100 * other_cpu / window)


def queued_to_offered(lines: Sequence[str], interaction_ids: set[str]) -> list[float]:
    """From the server's own log (INFO, millisecond stamps): each interaction's ``interaction
    queued`` line to its ``offered`` line, the server's side of the offer latency."""
    queued: dict[str, float] = {}
    waits: list[float] = []
    for line in lines:
        match = LOG_LINE.match(line)
        if match is None or match["id"] not in interaction_ids:
            continue
        at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if match["what"] == "interaction queued":
            queued[match["id"]] = at
        elif match["id"] in queued:
            waits.append(at - queued.pop(match["id"]))
    return waits


def counted(errors: Counter[str]) -> str:
    """``0``, or ``total (id=n, ...)``."""
    if not errors:
        return "0"
    return f"{errors.total()} ({', '.join(f'{k}={v}' for k, v in sorted(errors.items()))})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench email", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL (a fresh schema is used)")
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent SMTP clients")
    parser.add_argument("--connections", choices=("session", "each", "both"), default="both",
                        help="one kept connection per client, a new one per mail, or both (two runs)")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=50, help="e-mail capacity of each agent")
    parser.add_argument("--replies", type=float, default=0.3, help="share of mails answering an earlier one")
    parser.add_argument("--chats", type=int, default=10,
                        help="web chats sent during the burst, spread over it, each timed to its offer")
    parser.add_argument("--warmup", type=int, default=10, help="new threads before the clock, not reported")
    parser.add_argument("--quick", action="store_true",
                        help="small numbers, for a smoke run (overrides --mails and --warmup)")
    args = parser.parse_args(argv)
    if args.quick:
        args.mails, args.warmup = 100, 5
    if args.mails < 1 or args.clients < 1 or args.agents < 1 or args.capacity < 1 or args.warmup < 0 \
            or args.chats < 0:
        parser.error("--mails, --clients, --agents and --capacity must be positive, --warmup not negative")
    if not 0 <= args.replies < 1:
        parser.error("--replies: a share in [0, 1)")
    if make_url(args.pg_url).get_backend_name() != "postgresql":
        parser.error("--pg-url: a PostgreSQL URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    fqdn = time.perf_counter()
    socket.getfqdn()
    emit("email_harness_getfqdn_ms", (time.perf_counter() - fqdn) * 1000)
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    ways = {"session": True, "each": False}
    chosen = ("session", "each") if args.connections == "both" else (args.connections,)
    for kind in kinds:
        for way in chosen:
            prefix = f"email_{kind}_{way}"
            run_started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="bench-email-") as tmp_name:
                tmp = Path(tmp_name)
                with database(kind, args.pg_url, tmp) as url:
                    asyncio.run(bench_run(args, prefix, url, tmp, keep_connection=ways[way]))
            emit(f"{prefix}_wall_s", time.perf_counter() - run_started)
    emit("total_seconds", time.perf_counter() - started)
    return 0
