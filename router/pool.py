"""The agents of one ``decide`` call, indexed so that each waiting item costs about O(1).

Private to the router. ``SlotPool`` is what ``policy.assign`` needs from the agents of a
pass: working copies (``Slot``) and the free counts. ``Pool`` builds it from a snapshot (the
full sort, the reference); ``router.open_agents`` keeps the agents ranked between passes and
makes slots only for the agents a pass looks at. Two facts keep ``Pool`` cheap:

* Within one call loads only grow, so an agent who cannot take a channel now will not be
  able to later in the same call: such agents are dropped from the lists for good.
* The ranking (summed skill level, idle time, id) depends on the channel and the *names* of
  the required skills, not their levels. So agents are sorted once per (channel, names), and
  each (channel, names and levels) group draws from that shared list lazily, only as far as
  its items need: many small groups do not each pay a scan of every agent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from operator import itemgetter

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot, WaitingItem

SkillKey = tuple[tuple[str, int], ...]


class Slot:
    """One agent's mutable working copy for the duration of a decision."""

    __slots__ = ("agent_id", "available", "capacity", "idle_since", "load", "open", "skills", "total")

    def __init__(self, agent: AgentSnapshot) -> None:
        self.agent_id = agent.agent_id
        self.available = agent.state is AgentState.AVAILABLE
        self.skills = agent.skills
        self.capacity = agent.capacity
        self.load: dict[Channel, int] = dict(agent.load)
        self.total = sum(self.load.values())
        self.idle_since = agent.idle_since
        # Channels the agent can take now: a dict lookup in the hot loop instead of a call.
        self.open: dict[Channel, bool] = {c: self.can_take(c) for c in self.capacity}

    def can_take(self, channel: Channel) -> bool:
        if not self.available or self.load.get(channel, 0) >= self.capacity.get(channel, 0):
            return False
        if channel is Channel.VOICE:
            return self.total == 0
        return self.load.get(Channel.VOICE, 0) == 0

    def has_skills(self, required: SkillKey) -> bool:
        skills = self.skills
        for skill, level in required:
            have = skills.get(skill)
            if have is None or have < level:
                return False
        return True


class _Ranked:
    """The agents of one (channel, required skills and levels) group, best first, filled lazily."""

    __slots__ = ("buffer", "head", "pos", "required", "source")

    def __init__(self, source: list[tuple[int, Slot]], required: SkillKey) -> None:
        self.source = source  # shared by the groups of the same channel and skill names
        self.pos = 0  # next source entry not yet looked at by this group
        self.required = required
        self.buffer: list[tuple[int, Slot]] = []  # qualified entries drawn so far, in order
        self.head = 0  # buffer entries before this are full agents, dropped

    def pull(self, channel: Channel) -> bool:
        """Move the next qualified, still open source entry into the buffer; False at the end."""
        source, required = self.source, self.required
        end = len(source)
        pos = self.pos
        while pos < end:
            entry = source[pos]
            pos += 1
            slot = entry[1]
            if slot.open[channel] and all(slot.skills[name] >= level for name, level in required):
                self.buffer.append(entry)
                self.pos = pos
                return True
        self.pos = pos
        return False


def open_channels(agent: AgentSnapshot) -> tuple[Channel, ...]:
    """The channels ``Slot(agent).can_take`` answers True for, without making the slot (written
    out: this runs on every change of every agent)."""
    if agent.state is not AgentState.AVAILABLE:
        return ()
    load, voice = agent.load, Channel.VOICE
    idle = not sum(load.values())
    on_call = load.get(voice, 0) != 0
    return tuple([channel for channel, capacity in agent.capacity.items()
                  if load.get(channel, 0) < capacity and (idle if channel is voice else not on_call)])


class SlotPool(ABC):
    """The agents of one pass as ``policy.assign`` uses them: working slots and free counts."""

    free: dict[Channel, int]  # agents who can take one more item of each channel now
    free_total: int

    @abstractmethod
    def slot(self, agent_id: str) -> Slot | None:
        """The working copy of an agent who could take something at the start of the pass."""

    @abstractmethod
    def best_two(self, item: WaitingItem, required: SkillKey
                 ) -> tuple[tuple[int, Slot] | None, tuple[int, Slot] | None]:
        """The best and the runner-up eligible agent for ``item`` (by skill, idle, id)."""

    def take(self, slot: Slot, channel: Channel) -> None:
        """Give the agent one more item on ``channel`` and keep the free counts true."""
        slot.load[channel] = slot.load.get(channel, 0) + 1
        slot.total += 1
        is_open = slot.open
        for c, was_open in is_open.items():
            if was_open and not slot.can_take(c):
                is_open[c] = False
                self.free[c] -= 1
                self.free_total -= 1

    def eligible(self, slot: Slot, item: WaitingItem, required: SkillKey) -> bool:
        return (slot.open.get(item.channel, False) and slot.agent_id not in item.excluded_agents
                and slot.has_skills(required))


class Pool(SlotPool):
    def __init__(self, agents: Sequence[AgentSnapshot]) -> None:
        self.slots = [Slot(a) for a in agents]
        self.by_id: dict[str, Slot] = {s.agent_id: s for s in self.slots}
        self.free: dict[Channel, int] = dict.fromkeys(Channel, 0)
        for slot in self.slots:
            for channel, is_open in slot.open.items():
                if is_open:
                    self.free[channel] += 1
        self.free_total = sum(self.free.values())
        self._ranked: dict[tuple[Channel, SkillKey], _Ranked] = {}
        self._by_channel: dict[Channel, list[Slot]] = {}
        self._sources: dict[tuple[Channel, tuple[str, ...]], list[tuple[int, Slot]]] = {}

    def slot(self, agent_id: str) -> Slot | None:
        return self.by_id.get(agent_id)

    def best_two(self, item: WaitingItem, required: SkillKey
                 ) -> tuple[tuple[int, Slot] | None, tuple[int, Slot] | None]:
        channel = item.channel
        ranked = self._ranked.get((channel, required))
        if ranked is None:
            ranked = _Ranked(self._source(channel, tuple(name for name, _ in required)), required)
            self._ranked[(channel, required)] = ranked
        buffer = ranked.buffer
        head = ranked.head
        while head < len(buffer) and not buffer[head][1].open[channel]:
            head += 1
        ranked.head = head
        excluded = item.excluded_agents
        found: list[tuple[int, Slot]] = []
        dead = 0
        i = head
        while len(found) < 2:
            if i == len(buffer) and not ranked.pull(channel):
                break
            entry = buffer[i]
            slot = entry[1]
            if not slot.open[channel]:
                dead += 1
            elif slot.agent_id not in excluded:
                found.append(entry)
            i += 1
        if dead:
            # Compact the scanned stretch so these full agents are not walked over again.
            buffer[head:i] = [e for e in buffer[head:i] if e[1].open[channel]]
        first = found[0] if found else None
        second = found[1] if len(found) > 1 else None
        return first, second

    def _source(self, channel: Channel, names: tuple[str, ...]) -> list[tuple[int, Slot]]:
        """Available agents with ``channel`` capacity and every named skill, best first."""
        key = (channel, names)
        source = self._sources.get(key)
        if source is not None:
            return source
        by_idle = self._by_channel.get(channel)
        if by_idle is None:
            # Sorted by idle time once per channel; the per-names sort below is stable, so
            # equal skill scores keep this longest-idle order.
            by_idle = [s for s in self.slots if s.open.get(channel, False)]
            by_idle.sort(key=lambda s: (s.idle_since, s.agent_id))
            self._by_channel[channel] = by_idle
        # Agents who filled up since by_idle was built can be left out now, not walked later.
        if not names:
            source = [(0, slot) for slot in by_idle if slot.open[channel]]
        elif len(names) == 1:
            name = names[0]
            source = [(have, slot) for slot in by_idle
                      if (have := slot.skills.get(name)) is not None and slot.open[channel]]
        else:
            source = [(sum(slot.skills[n] for n in names), slot) for slot in by_idle
                      if slot.open[channel] and all(n in slot.skills for n in names)]
        source.sort(key=itemgetter(0), reverse=True)
        self._sources[key] = source
        return source


def skill_key(required: Mapping[str, int]) -> SkillKey:
    return tuple(sorted(required.items()))


def requirements(item: WaitingItem) -> tuple[SkillKey, ...]:
    """The skill sets that qualify an agent for ``item``, in order of preference: its own
    queue's first, then those of the queues it overflowed to (sorted by queue name)."""
    own = skill_key(item.skills)
    if not item.also:
        return (own,)
    out = [own]
    for queue in sorted(item.also):
        key = skill_key(item.also[queue])
        if key not in out:
            out.append(key)
    return tuple(out)
