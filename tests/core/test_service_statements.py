"""How many statements and transactions each step of a chat costs the database (SQLite).

On the embedded database every statement runs on the event loop and every transaction adds a
BEGIN and a COMMIT, so the count is what a chat costs the server. These tests pin it: a step
that reads again what it already holds, or checks what a constraint already checks, fails here.
The count comes from SQLAlchemy's statement events, so it is exact and the same on every run.

One chat, as the web chat drives it: a visitor with a verified identity (a customer with
history) sends a first message, the router offers it to an agent with a screen pop, the agent
accepts and completes, the visitor leaves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.app import build_core
from cti.clock import ManualClock, SequentialIds
from cti.config import parse_config
from cti.domain import (
    Channel,
    ChatSession,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    InteractionState,
)
from cti.events import DomainEvent
from cti.hub import EventHub
from cti.service import InteractionService
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore

CONFIG = {
    "queues": [{"name": "support", "skills": {"english": 1}, "service_targets": {"chat": 60}}],
    "chat": {"queue": "support"},
    "agents": [{"id": "alice", "skills": {"english": 5}, "capacity": {"chat": 2}}],
}
VERIFIED = InboundIdentity(Identity(IdentityKind.EMAIL, "ann@example.com"), IdentityLevel.VERIFIED, "hmac")

# (statements, transactions) at most, per step. A transaction's BEGIN is not a statement here.
# Each step that changes the interaction also writes its log entries: one INSERT, in the save's
# own transaction (``cti.eventlog``), never a transaction of its own.
# The start, in one transaction: the visitor's chat session kept (1), the customer found and
# named (5), the interaction stored (4), the identities it presented (1), its log entry (1), the
# first message (1), who already works for the customer (1).
START = (14, 1)
OFFER = (7, 2)  # the offer saved with its entry (2); the screen pop's five reads in one transaction
ACCEPT = (3, 1)  # the saved offer, changed and saved: the UPDATE, who held it, the entry
COMPLETE = (3, 1)
LEFT = (0, 0)  # the visitor leaving a closed chat: nothing to do, and it is known to be closed


@dataclass
class Statements:
    """Statements sent to SQLite while counting, BEGINs counted apart as transactions."""

    sql: list[str] = field(default_factory=list)
    counting: bool = False

    def seen(self, statement: str) -> None:
        if self.counting:
            self.sql.append(" ".join(statement.split()))

    @contextmanager
    def step(self) -> Iterator[list[str]]:
        self.sql.clear()
        self.counting = True
        taken: list[str] = []
        try:
            yield taken
        finally:
            self.counting = False
            taken.extend(self.sql)

    @staticmethod
    def cost(sql: list[str]) -> tuple[int, int]:
        begins = sum(1 for s in sql if s.startswith("BEGIN"))
        return len(sql) - begins, begins


@dataclass
class Chat:
    context: SqlContextStore
    interactions: InteractionService
    engine: RoutingEngine
    events: Any
    clock: ManualClock
    statements: Statements


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[Chat]:
    url = f"sqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    clock, ids = ManualClock(), SequentialIds()
    context = SqlContextStore(url=url, clock=clock, ids=ids)
    await context.start()
    hub = EventHub(node_id="test")
    core = build_core(config=parse_config(CONFIG), context=context, routing=MemoryRoutingStore(), hub=hub,
                      clock=clock, ids=ids)
    await core.agents.register_all()
    await core.agents.set_state("alice", "available", reason=None, actor_id="alice")
    statements = Statements()

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.seen(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield Chat(context=context, interactions=core.interactions, engine=core.engine,
                   events=hub.subscribe(maxsize=1000), clock=clock, statements=statements)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
        await context.aclose()


async def one_chat(chat: Chat, visitor: str) -> dict[str, list[str]]:
    """One chat from first message to the visitor leaving; the statements of each step."""
    steps: dict[str, list[str]] = {}
    session = InboundIdentity(Identity(IdentityKind.CHAT, visitor), IdentityLevel.ASSERTED, "chat-session")
    identities = [session, VERIFIED]
    with chat.statements.step() as steps["start"]:
        interaction = await chat.interactions.start_inbound(
            channel=Channel.CHAT, identities=identities, display_name="Ann", first_message="hello",
            context={"chat.page": "/orders"}, channel_refs={"chat.visitor": visitor},
            chat_session=ChatSession(visitor, "ab" * 32))
    with chat.statements.step() as steps["offer"]:
        [offer] = await chat.engine.run_once()
    assert offer.interaction_id == interaction.id
    with chat.statements.step() as steps["accept"]:
        await chat.interactions.accept(interaction.id, "alice")
    with chat.statements.step() as steps["complete"]:
        await chat.interactions.complete(interaction.id, "alice", disposition="resolved", note=None)
    with chat.statements.step() as steps["left"]:
        left = await chat.interactions.customer_left(interaction.id)
    assert left.state is InteractionState.CLOSED
    return steps


def drained(chat: Chat) -> list[DomainEvent]:
    out = []
    while not chat.events.queue.empty():
        out.append(chat.events.queue.get_nowait())
    return out


@pytest.mark.parametrize(("step", "most"), [("start", START), ("offer", OFFER), ("accept", ACCEPT),
                                             ("complete", COMPLETE), ("left", LEFT)])
async def test_each_step_of_a_chat_reads_and_writes_once(chat: Chat, step: str,
                                                         most: tuple[int, int]) -> None:
    await one_chat(chat, "vis-1")  # the customer's history, and every statement built once
    chat.clock.advance(60)
    steps = await one_chat(chat, "vis-2")
    statements, transactions = Statements.cost(steps[step])
    assert statements <= most[0] and transactions <= most[1], "\n".join(steps[step])


async def test_the_screen_pop_of_the_counted_chat_shows_its_customer_history_and_message(chat: Chat) -> None:
    await one_chat(chat, "vis-1")
    chat.clock.advance(60)
    drained(chat)
    await one_chat(chat, "vis-2")
    [offered] = [e.to_dict() for e in drained(chat) if e.type == "interaction.offered"]
    pop = offered["screen_pop"]
    assert pop["customer"]["display_name"] == "Ann"
    assert [m["body"] for m in pop["messages"]] == ["hello"]
    assert sum(1 for e in pop["timeline"] if e["kind"] == "interaction") == 2  # this chat and the one before
    assert {p["kind"] for p in pop["identities"]} == {"chat", "email"}
