"""Consult records (cti.consult): one open consult per chat, whichever node starts it."""

from __future__ import annotations

import asyncio

import pytest

from context.store import SqlContextStore
from cti.consult import Consult
from cti.domain import InteractionState
from tests.context.builders import T0, interaction, phone

pytestmark = pytest.mark.integration


async def test_one_open_consult_per_chat_even_when_two_start_at_once(store: SqlContextStore) -> None:
    customer = await store.resolve_customer([phone("+14155550100")], display_name=None, actor="s", reason="r")
    await store.save_interaction(interaction("int-1", customer.id, at=T0, state=InteractionState.ACTIVE))
    first = Consult(id="cns-1", interaction_id="int-1", from_agent="alice", to_agent="bob", started_at=T0)
    second = Consult(id="cns-2", interaction_id="int-1", from_agent="alice", to_agent="carol", started_at=T0)
    written = await asyncio.gather(store.consults.add(first), store.consults.add(second))
    assert sorted(written) == [False, True]
    winner = await store.consults.open_for("int-1")
    assert winner is not None and winner.id in ("cns-1", "cns-2")
    assert await store.consults.end(winner.id, at=T0 + 5, why="handed-over")
    assert not await store.consults.end(winner.id, at=T0 + 6, why="again")  # ended once
    assert await store.consults.open_for("int-1") is None
    # Ended, it no longer holds the chat: a new consult may start.
    assert await store.consults.add(Consult(id="cns-3", interaction_id="int-1", from_agent="bob",
                                            to_agent="alice", started_at=T0 + 7))
    ended = await store.consults.get(winner.id)
    assert ended is not None and (ended.ended_at, ended.ended_why) == (T0 + 5, "handed-over")
