"""Incremental ranking: the policy's answer without sorting every waiting item on every pass.

``RoutingIndex`` holds the waiting items and the agents, is fed changes one at a time by a
store, and answers ``decide`` exactly as ``router.policy.decide`` would on the same
snapshot (property tests check this). It is pure: no clock, no I/O.

Why it can skip most of the queue:

* Items fall into **classes**: same channel, service target, priority, required skills,
  target agent and exclusions. Two items of one class differ only by age, and urgency
  (wait / target x priority, with priority >= 0) never ranks a younger item above an older
  one of its class; ties go older first, then by id, which is the class's own order. So each
  class is a FIFO, and the global order is a merge of the class heads.
* Items of one class are eligible for exactly the same agents (preferences choose *which*
  agent, never *whether*). So when a class head finds nobody, the whole class waits for
  this pass: no younger item of it is looked at, and items other agents can take are not
  blocked.
* Only classes that some agent free right now could take are ranked at all: classes are
  indexed by channel and required skills, and for each (channel, required skills) group the
  agents' standing ranking of that channel and those skill names (``router.open_agents``)
  says whether anyone free qualifies, usually from its first entry.

Agents are never scanned per pass: the free ones stay ranked between passes, updated as each
one changes, and a pass makes working copies only of the agents it looks at. A pass costs
about (groups of classes) + (classes someone could serve) + (assignments x (log classes +
agents looked at for each)), whatever the length of the queue and the number of free agents.

Agents who cannot take anything now (offline, away, full) are kept but not ranked.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from cti.domain import Channel
from cti.routing import AgentSnapshot, Assignment, LastServed, RoutingSettings, RoutingSnapshot, WaitingItem
from router.open_agents import OpenAgents, PassPool
from router.policy import MIN_TARGET, assign, urgency
from router.pool import SkillKey, requirements
from router.records import check_item

__all__ = ["ClassKey", "RoutingIndex", "class_key"]

# The fourth part: the skill sets that qualify an agent (its own queue's, then any overflow queue's).
ClassKey = tuple[Channel, float, float, tuple[SkillKey, ...], str | None, frozenset[str]]
_Entry = tuple[float, str, int]  # (enqueued_at, interaction id, serial)

# Compact a class's entry list when its dead entries outnumber the live ones by this much.
_COMPACT_SLACK = 64


def class_key(item: WaitingItem) -> ClassKey:
    """What makes two items rank and qualify alike, apart from their age."""
    return (item.channel, item.service_target, item.priority, requirements(item), item.target_agent,
            item.excluded_agents)


@dataclass(eq=False, slots=True)
class _Class:
    key: ClassKey
    names: tuple[tuple[str, ...], ...]  # per skill set of the key, its skill names, sorted
    target: float  # the service target as policy.urgency divides by it
    priority: float
    entries: list[_Entry] = field(default_factory=list)  # sorted; dead ones skipped lazily
    start: int = 0  # entries before this are all dead
    live: int = 0


class RoutingIndex:
    """Waiting items in per-class FIFOs and agents by who can take something now."""

    def __init__(self, *, last_served: Mapping[str, LastServed] | None = None) -> None:
        # The store owns this mapping and keeps it current; only lookups happen here.
        self.last_served: Mapping[str, LastServed] = {} if last_served is None else last_served
        self._items: dict[str, tuple[WaitingItem, _Class, int]] = {}
        self._classes: dict[ClassKey, _Class] = {}
        # channel -> required skill names -> required skills and levels -> classes
        self._groups: dict[Channel, dict[tuple[str, ...], dict[SkillKey, set[_Class]]]] = {}
        self._agents: dict[str, AgentSnapshot] = {}
        self._open = OpenAgents()  # agents who could take something now, ranked
        self._serial = itertools.count()
        self._several = 0  # classes with more than one skill set (overflowed work)

    # ----- feeding ---------------------------------------------------------------------------

    @classmethod
    def of(cls, snapshot: RoutingSnapshot) -> RoutingIndex:
        index = cls(last_served=dict(snapshot.last_served))
        for item in snapshot.waiting:
            index.put_item(item)
        for agent in snapshot.agents:
            index.put_agent(agent)
        return index

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, interaction_id: object) -> bool:
        return interaction_id in self._items

    def items(self) -> Iterator[WaitingItem]:
        return (rec[0] for rec in self._items.values())

    def agents(self) -> Iterator[AgentSnapshot]:
        return iter(self._agents.values())

    def put_item(self, item: WaitingItem) -> None:
        """Add or replace a waiting item."""
        check_item(item)  # the class order needs a finite wait and a priority >= 0
        self.drop_item(item.interaction_id)
        key = class_key(item)
        klass = self._classes.get(key)
        if klass is None:
            klass = self._new_class(key)
        serial = next(self._serial)
        entry = (item.enqueued_at, item.interaction_id, serial)
        entries = klass.entries
        if len(entries) == klass.start or entries[-1] < entry:
            entries.append(entry)  # the usual case: the newest item of its class
        else:
            bisect.insort(entries, entry, lo=klass.start)
        klass.live += 1
        self._items[item.interaction_id] = (item, klass, serial)

    def drop_item(self, interaction_id: str) -> WaitingItem | None:
        """Forget a waiting item (offered, removed, replaced); its entry dies lazily."""
        rec = self._items.pop(interaction_id, None)
        if rec is None:
            return None
        klass = rec[1]
        klass.live -= 1
        if klass.live == 0:
            self._drop_class(klass)
        elif len(klass.entries) - klass.start > 2 * klass.live + _COMPACT_SLACK:
            klass.entries = [e for e in klass.entries[klass.start:] if self._is_live(e)]
            klass.start = 0
        return rec[0]

    def put_agent(self, agent: AgentSnapshot) -> None:
        """Add or replace an agent's current picture (state, skills, capacity, load)."""
        self._agents[agent.agent_id] = agent
        self._open.put(agent)

    def drop_agent(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)
        self._open.drop(agent_id)

    def clear(self) -> None:
        self._items.clear()
        self._classes.clear()
        self._groups.clear()
        self._agents.clear()
        self._open.clear()
        self._several = 0

    # ----- deciding --------------------------------------------------------------------------

    def decide(self, *, now: float, settings: RoutingSettings) -> list[Assignment]:
        """What ``router.policy.decide`` would answer on a snapshot of this index."""
        assignments: list[Assignment] = []
        if not self._items or not self._open:
            return assignments
        pool = self._open.pool()
        if pool.free_total == 0:
            return assignments
        heap: list[tuple[float, float, str, int, WaitingItem, _Class]] = []
        items = self._items
        for klass in self._candidates(pool):
            # The head, inline when it is live (the usual case): this loop runs per candidate.
            pos = klass.start
            entry = klass.entries[pos]
            rec = items.get(entry[1])
            if rec is not None and rec[2] == entry[2]:
                item = rec[0]
            else:
                head = self._next_live(klass, pos + 1)
                if head is None:
                    continue
                pos, item = head
                klass.start = pos  # leading dead entries are gone for good
            enqueued_at = item.enqueued_at
            # policy.urgency, written out with the same operations in the same order.
            heap.append((-(max(0.0, now - enqueued_at) / klass.target * klass.priority), enqueued_at,
                         item.interaction_id, pos, item, klass))
        heapq.heapify(heap)
        last_served = self.last_served
        while heap:
            neg_urgency, _, _, pos, item, klass = heapq.heappop(heap)
            if pool.free[item.channel] == 0:
                if pool.free_total == 0:
                    break  # nobody can take anything more: the rest of the queue waits
                continue  # this channel is full: its classes wait
            assignment = assign(pool, item, -neg_urgency, last_served, now=now, settings=settings)
            if assignment is None:
                continue  # nobody can take this class: its younger items wait too
            assignments.append(assignment)
            following = self._next_live(klass, pos + 1)
            if following is not None:
                pos, item = following
                heapq.heappush(heap, (-urgency(item, now), item.enqueued_at, item.interaction_id,
                                      pos, item, klass))
        return assignments

    # ----- helpers ---------------------------------------------------------------------------

    def _is_live(self, entry: _Entry) -> bool:
        rec = self._items.get(entry[1])
        return rec is not None and rec[2] == entry[2]

    def _next_live(self, klass: _Class, pos: int) -> tuple[int, WaitingItem] | None:
        entries, items = klass.entries, self._items
        end = len(entries)
        while pos < end:
            entry = entries[pos]
            rec = items.get(entry[1])
            if rec is not None and rec[2] == entry[2]:
                return pos, rec[0]
            pos += 1
        return None

    def _new_class(self, key: ClassKey) -> _Class:
        names = tuple(tuple(name for name, _ in required) for required in key[3])
        klass = _Class(key=key, names=names, target=max(key[1], MIN_TARGET), priority=key[2])
        self._classes[key] = klass
        self._several += len(key[3]) > 1
        # Under each skill set that qualifies an agent for it (more than one after an overflow).
        for required, skill_names in zip(key[3], names, strict=True):
            self._open.use(key[0], skill_names)
            by_key = self._groups.setdefault(key[0], {}).setdefault(skill_names, {})
            by_key.setdefault(required, set()).add(klass)
        return klass

    def _drop_class(self, klass: _Class) -> None:
        key = klass.key
        del self._classes[key]
        self._several -= len(key[3]) > 1
        for required, skill_names in zip(key[3], klass.names, strict=True):
            self._open.release(key[0], skill_names)
            by_names = self._groups[key[0]]
            by_key = by_names[skill_names]
            group = by_key[required]
            group.discard(klass)
            if not group:
                del by_key[required]
                if not by_key:
                    del by_names[skill_names]
                    if not by_names:
                        del self._groups[key[0]]

    def _candidates(self, pool: PassPool) -> list[_Class]:
        """Classes that some agent free at the start of the pass could take, skills-wise."""
        out: list[_Class] = []
        free, qualified = pool.free, self._open.qualified
        for channel, by_names in self._groups.items():
            if not free[channel]:
                continue
            for names, by_key in by_names.items():
                for required in qualified(channel, names, by_key):
                    out.extend(by_key[required])
        # A class with several skill sets (overflowed work) may have come more than once.
        return list(dict.fromkeys(out)) if self._several else out
