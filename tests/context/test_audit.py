"""The audit log: newest first, filtered by target, bounded."""

from __future__ import annotations

import pytest

from context.store import SqlContextStore
from cti.clock import ManualClock
from cti.errors import InvalidInput
from cti.ports import AuditEntry


async def test_newest_first_and_by_target(store: SqlContextStore, clock: ManualClock) -> None:
    await store.audit(actor="sup-1", action="agent.set_state", target="a1",
                      details={"state": "away", "reason": "lunch", "nested": {"n": [1, 2]}})
    clock.advance(1)
    await store.audit(actor="sup-1", action="agent.set_state", target="a2")
    await store.audit(actor="adm-1", action="queue.update", target="a1", details={"n": 1})  # same instant

    entries = await store.audit_log()
    assert [(e.action, e.target) for e in entries] == [
        ("queue.update", "a1"), ("agent.set_state", "a2"), ("agent.set_state", "a1")]
    assert entries[2] == AuditEntry(id=entries[2].id, at=clock.now() - 1, actor="sup-1",
                                    action="agent.set_state", target="a1",
                                    details={"state": "away", "reason": "lunch", "nested": {"n": [1, 2]}})
    assert entries[1].details == {}
    assert len({e.id for e in entries}) == 3
    assert [e.details for e in await store.audit_log(target="a1")] == [{"n": 1}, entries[2].details]
    assert [e.target for e in await store.audit_log(limit=1)] == ["a1"]
    assert await store.audit_log(target="nobody") == []
    with pytest.raises(InvalidInput):
        await store.audit_log(limit=0)
