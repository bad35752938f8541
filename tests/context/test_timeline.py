"""The unified timeline: newest first across channels, bounded, paged by cursor."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from context.models import messages
from context.store import SqlContextStore
from context.timeline import MAX_PAGE, Cursor
from cti.domain import Channel, Direction, InteractionState, MessageSender
from cti.errors import InvalidInput, NotFound
from cti.ports import TimelineEntry
from tests.context.builders import T0, interaction, message, note, phone


async def _customer(store: SqlContextStore, number: str = "+15550001111") -> str:
    return (await store.resolve_customer([phone(number)], display_name=None, actor="s", reason="r")).id


async def test_newest_first_across_channels(store: SqlContextStore) -> None:
    cid = await _customer(store)
    other = await _customer(store, "+15550002222")
    await store.save_interaction(interaction("int-v", cid, at=T0 + 1, channel=Channel.VOICE,
                                             state=InteractionState.CLOSED))
    await store.save_interaction(interaction("int-e", cid, at=T0 + 2, channel=Channel.EMAIL,
                                             direction=Direction.OUTBOUND))
    await store.save_interaction(interaction("int-x", other, at=T0 + 2.5, channel=Channel.X))
    await store.add_message(message("msg-1", "int-v", "x" * 100, at=T0 + 3, sender=MessageSender.SYSTEM))
    await store.add_note(note("not-1", "int-e", "customer is upset", at=T0 + 4, author="a7"))
    await store.add_message(message("msg-2", "int-e", "short", at=T0 + 5, sender=MessageSender.AGENT))
    await store.add_message(message("msg-x", "int-x", "not mine", at=T0 + 6))

    page = await store.timeline(cid)

    assert page.next_cursor is None
    assert list(page.entries) == [
        TimelineEntry(kind="message", id="msg-2", at=T0 + 5, interaction_id="int-e", channel=Channel.EMAIL,
                      customer_id=cid, summary="short", sender="agent"),
        TimelineEntry(kind="note", id="not-1", at=T0 + 4, interaction_id="int-e", channel=Channel.EMAIL,
                      customer_id=cid, summary="customer is upset", sender="a7"),
        # Bodies are cut to the store's timeline_body_limit (40 in these tests).
        TimelineEntry(kind="message", id="msg-1", at=T0 + 3, interaction_id="int-v", channel=Channel.VOICE,
                      customer_id=cid, summary="x" * 40, sender="system"),
        TimelineEntry(kind="interaction", id="int-e", at=T0 + 2, interaction_id="int-e",
                      channel=Channel.EMAIL, customer_id=cid, summary="email outbound queued",
                      state="queued"),
        TimelineEntry(kind="interaction", id="int-v", at=T0 + 1, interaction_id="int-v",
                      channel=Channel.VOICE, customer_id=cid, summary="voice inbound closed",
                      state="closed"),
    ]


async def test_an_empty_history_and_an_unknown_customer(store: SqlContextStore) -> None:
    cid = await _customer(store)
    page = await store.timeline(cid)
    assert (list(page.entries), page.next_cursor) == ([], None)
    with pytest.raises(NotFound) as caught:
        await store.timeline("cus-404")
    assert caught.value.error_id == "customer-not-found"


async def _busy_customer(store: SqlContextStore) -> tuple[str, list[tuple[str, str]]]:
    """Three interactions on three channels with interleaved messages and notes, some of them at
    the same instant (ties are broken by id, then kind). Returns the expected order."""
    cid = await _customer(store)
    expected: list[tuple[float, str, str]] = []
    for n, channel in enumerate((Channel.CHAT, Channel.EMAIL, Channel.SMS)):
        iid = f"int-{n}"
        await store.save_interaction(interaction(iid, cid, at=T0 + n * 10, channel=channel))
        expected.append((T0 + n * 10, iid, "interaction"))
        for k in range(7):
            at = T0 + n * 10 + (k // 2)  # pairs share an instant
            await store.add_message(message(f"msg-{n}{k}", iid, f"m{n}{k}", at=at))
            expected.append((at, f"msg-{n}{k}", "message"))
        for k in range(3):
            await store.add_note(note(f"not-{n}{k}", iid, f"n{n}{k}", at=T0 + n * 10 + k))
            expected.append((T0 + n * 10 + k, f"not-{n}{k}", "note"))
    # The same id under two kinds at the same instant: the cursor keeps them apart too.
    await store.add_note(note("msg-00", "int-0", "same id as a message", at=T0))
    expected.append((T0, "msg-00", "note"))
    expected.sort(reverse=True)
    return cid, [(kind, entry_id) for _, entry_id, kind in expected]


@pytest.mark.parametrize("size", [1, 7])
async def test_pages_have_no_gaps_and_no_duplicates(store: SqlContextStore, size: int) -> None:
    cid, expected = await _busy_customer(store)
    assert len(expected) == 34

    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await store.timeline(cid, limit=size, before=cursor)
        pages += 1
        assert len(page.entries) <= size
        seen.extend((e.kind, e.id) for e in page.entries)
        if page.next_cursor is None:
            break
        assert len(page.entries) == size
        cursor = page.next_cursor
    assert seen == expected
    assert pages == -(-len(expected) // size)


async def test_limit_is_capped_and_checked(store: SqlContextStore, db_url: str) -> None:
    cid = await _customer(store)
    await store.save_interaction(interaction("int-1", cid, at=T0))
    # Straight into the table: 205 store calls would only make the test slow.
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(messages), [
                {"id": f"msg-{n:03d}", "interaction_id": "int-1", "sender": "customer", "body": "hi",
                 "at": T0 + 1 + n} for n in range(MAX_PAGE + 5)])
    finally:
        await engine.dispose()

    page = await store.timeline(cid, limit=10_000)
    assert len(page.entries) == MAX_PAGE
    assert page.entries[0].id == "msg-204"
    rest = await store.timeline(cid, limit=10_000, before=page.next_cursor)
    assert [e.id for e in rest.entries] == ["msg-004", "msg-003", "msg-002", "msg-001", "msg-000", "int-1"]
    assert rest.next_cursor is None
    with pytest.raises(InvalidInput) as caught:
        await store.timeline(cid, limit=0)
    assert caught.value.error_id == "bad-limit"


@pytest.mark.parametrize("cursor", ["garbage", "", "W10", Cursor(at=1.0, id="x", kind="nope").encode(),
                                    "WyJ4IiwieCIsIm5vdGUiXQ"])
async def test_a_forged_cursor_is_refused(store: SqlContextStore, cursor: str) -> None:
    cid = await _customer(store)
    with pytest.raises(InvalidInput) as caught:
        await store.timeline(cid, before=cursor)
    assert caught.value.error_id == "bad-cursor"


def test_cursor_round_trip() -> None:
    cursor = Cursor(at=1_800_000_000.123456, id="msg-9", kind="message")
    assert Cursor.decode(cursor.encode()) == cursor


async def test_every_entry_of_a_conversation_carries_its_interaction(store: SqlContextStore) -> None:
    # A page is mostly a few conversations: many entries share one interaction, which is read once
    # for all of them. Each entry still shows its own interaction's channel and customer (a merged
    # customer's interaction keeps its own), and only interaction entries a state.
    cid = await _customer(store)
    merged = await _customer(store, "+15550003333")
    await store.save_interaction(interaction("int-a", cid, at=T0, channel=Channel.EMAIL,
                                             state=InteractionState.CLOSED))
    await store.save_interaction(interaction("int-b", merged, at=T0 + 1, channel=Channel.SMS))
    await store.link_identities(phone("+15550001111"), phone("+15550003333"), actor="s", reason="r")
    for n in range(30):
        await store.add_message(message(f"msg-a{n:02d}", "int-a", f"a{n}", at=T0 + 2 + 2 * n))
        await store.add_message(message(f"msg-b{n:02d}", "int-b", f"b{n}", at=T0 + 3 + 2 * n))
    await store.add_note(note("not-a", "int-a", "n", at=T0 + 2))

    first = await store.timeline(cid, limit=50)
    rest = await store.timeline(cid, limit=50, before=first.next_cursor)

    entries = [*first.entries, *rest.entries]
    assert rest.next_cursor is None
    assert len(entries) == len({(e.kind, e.id) for e in entries}) == 63
    owner = {"int-a": (Channel.EMAIL, cid), "int-b": (Channel.SMS, merged)}
    assert all((e.channel, e.customer_id) == owner[e.interaction_id] for e in entries)
    stated = [(e.id, e.state) for e in entries if e.state is not None]
    assert stated == [("int-b", "queued"), ("int-a", "closed")]
    assert [e.id for e in entries[-4:]] == ["not-a", "msg-a00", "int-b", "int-a"]
