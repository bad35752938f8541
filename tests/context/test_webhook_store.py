"""Webhook deliveries in the database, on SQLite and PostgreSQL: one node at a time works on a
delivery, a claim runs out, an outcome is written only by the claim's holder, replays."""

from __future__ import annotations

import pytest

from context.store import SqlContextStore
from context.webhooks import SqlWebhookStore
from cti.errors import Conflict, NotFound
from cti.webhooks.deliveries import DeliveryStatus, NewDelivery

T = 1_800_000_000.0


def new(n: int, subscriber: str = "crm") -> NewDelivery:
    return NewDelivery(id=f"whd-{n}", subscriber=subscriber, event_type="interaction.closed",
                       interaction_id=f"int-{n}", body=f'{{"id":"whd-{n}"}}'.encode())


@pytest.fixture
def hooks(store: SqlContextStore) -> SqlWebhookStore:
    return store.webhook_store()


async def test_one_node_at_a_time_and_a_dead_nodes_claim_runs_out(hooks: SqlWebhookStore) -> None:
    await hooks.record([new(1), new(2), new(3, "warehouse")], now=T)
    assert await hooks.due("crm", now=T, limit=10) == ["whd-1", "whd-2"]

    taken = await hooks.claim("whd-1", node="a", now=T, until=T + 40)
    assert taken is not None and taken.body == b'{"id":"whd-1"}' and taken.attempts == 0
    assert await hooks.claim("whd-1", node="b", now=T + 1, until=T + 41) is None  # a holds it
    assert await hooks.due("crm", now=T + 1, limit=10) == ["whd-2"]
    assert await hooks.next_due("crm", now=T + 1) == T + 40  # when a's claim runs out

    # Node a died: after its claim ran out, b takes it, and a's late outcome changes nothing.
    again = await hooks.claim("whd-1", node="b", now=T + 40, until=T + 80)
    assert again is not None
    await hooks.delivered("whd-1", node="a", now=T + 42, status=204)
    [row] = [d for d in await hooks.listing(status=None, subscriber="crm", limit=10) if d.id == "whd-1"]
    assert row.status is DeliveryStatus.PENDING and row.attempts == 0
    await hooks.delivered("whd-1", node="b", now=T + 43, status=204)
    [done] = await hooks.listing(status=DeliveryStatus.DELIVERED, subscriber=None, limit=10)
    assert (done.id, done.attempts, done.last_status, done.finished_at) == ("whd-1", 1, 204, T + 43)
    assert await hooks.claim("whd-1", node="a", now=T + 100, until=T + 140) is None  # delivered


async def test_a_retry_waits_for_its_time_and_a_give_up_is_kept_for_replay(hooks: SqlWebhookStore) -> None:
    await hooks.record([new(1), new(2)], now=T)
    assert await hooks.claim("whd-1", node="a", now=T, until=T + 40) is not None
    await hooks.retry_later("whd-1", node="a", now=T + 1, at=T + 11, status=500, error="status 500")
    assert await hooks.due("crm", now=T + 5, limit=10) == ["whd-2"]
    assert await hooks.next_due("crm", now=T + 5) == T + 11
    assert await hooks.claim("whd-1", node="a", now=T + 5, until=T + 45) is None  # not due yet
    retried = await hooks.claim("whd-1", node="b", now=T + 11, until=T + 51)
    assert retried is not None and (retried.attempts, retried.last_error) == (1, "status 500")
    await hooks.give_up("whd-1", node="b", now=T + 12, status=None, error="timeout: " + "x" * 500)

    [failed] = await hooks.listing(status=DeliveryStatus.FAILED, subscriber="crm", limit=10)
    assert failed.attempts == 2 and failed.last_error is not None and len(failed.last_error) == 300
    assert await hooks.counts() == {"crm": {"pending": 1, "failed": 1}}

    with pytest.raises(Conflict) as not_failed:
        await hooks.replay("whd-2", now=T + 20, actor="admin", subscribers=["crm"])
    assert not_failed.value.error_id == "delivery-not-failed"
    with pytest.raises(Conflict) as gone:
        await hooks.replay("whd-1", now=T + 20, actor="admin", subscribers=["warehouse"])
    assert gone.value.error_id == "subscriber-not-configured"
    with pytest.raises(NotFound):
        await hooks.replay("whd-9", now=T + 20, actor="admin", subscribers=["crm"])

    replayed = await hooks.replay("whd-1", now=T + 20, actor="admin", subscribers=["crm"])
    assert (replayed.status, replayed.attempts) == (DeliveryStatus.PENDING, 0)
    assert replayed.series_started_at == T + 20  # a full retry period from the replay
    assert await hooks.due("crm", now=T + 20, limit=10) == ["whd-2", "whd-1"]


async def test_replay_all_and_releasing_a_stopping_nodes_claims(hooks: SqlWebhookStore) -> None:
    await hooks.record([new(1), new(2), new(3, "warehouse")], now=T)
    for n in (1, 3):
        assert await hooks.claim(f"whd-{n}", node="a", now=T, until=T + 40) is not None
        await hooks.give_up(f"whd-{n}", node="a", now=T + 1, status=500, error="status 500")
    assert await hooks.replay_all(subscribers=["crm"], now=T + 2, actor="admin") == 1
    assert await hooks.counts() == {"crm": {"pending": 2}, "warehouse": {"failed": 1}}

    assert await hooks.claim("whd-2", node="a", now=T + 2, until=T + 42) is not None
    assert await hooks.release(node="a") == 1  # stopping: another node may take it at once
    assert await hooks.claim("whd-2", node="b", now=T + 3, until=T + 43) is not None
