"""What changed between two versions (pure): named items by name, passwords never shown."""

from __future__ import annotations

from cti.config_diff import diff

OLD = {
    "queues": [{"name": "support", "priority": 1, "service_targets": {"chat": 60.0}},
               {"name": "sales", "priority": 1}],
    "agents": [{"id": "alice", "password": "$argon2id$old", "skills": {"english": 3}}],
    "dispositions": ["resolved", "callback"],
    "routing": {"offer_timeout": 20.0},
}


def test_changes_additions_and_removals_by_name() -> None:
    new = {
        "queues": [{"name": "sales", "priority": 1},
                   {"name": "support", "priority": 2, "service_targets": {"chat": 30.0, "voice": 20.0}},
                   {"name": "vip", "priority": 9}],
        "agents": [{"id": "alice", "password": "$argon2id$new", "skills": {"english": 3}}],
        "dispositions": ["resolved"],
        "routing": {"offer_timeout": 15.0},
    }
    assert diff(OLD, new) == [
        "agents.alice.password: changed",
        "dispositions: removed 'callback'",
        "queues.vip: added",
        "queues.support.priority: 1 -> 2",
        "queues.support.service_targets.chat: 60.0 -> 30.0",
        "queues.support.service_targets.voice: set to 20.0",
        "routing.offer_timeout: 20.0 -> 15.0",
    ]
    assert not any("argon2id" in line for line in diff(OLD, new))


def test_a_reordered_list_of_named_items_is_no_change() -> None:
    assert diff(OLD, {**OLD, "queues": list(reversed(OLD["queues"]))}) == []
    assert diff(OLD, {**OLD, "dispositions": ["callback", "resolved"]}) == ["dispositions: reordered"]
    assert diff(OLD, OLD) == []
