"""The agents who can take something now, kept ranked between passes, and one pass's view of them.

Private to ``router.ranking``. ``Pool`` (the full sort) copies and sorts every free agent on
every call; here the ranking is kept up to date change by change, so that a pass costs what
it looks at, not the number of free agents:

* Per channel, a list of the agents with a free slot on it, sorted by (idle since, id): the
  order among agents of equal skill. Per channel and set of required skill *names* that some
  waiting class asks for, the agents of that channel holding every name, sorted by (minus the
  summed level of those names, idle since, id): the policy's order of agents for any item
  requiring those names, whatever the levels. Both are kept with ``bisect`` as agents change.
* A per-names list is built (from the channel's list, once) when a class first needs it, and
  kept, unused, for a while after the last one is gone: an item with a rare skill set arriving
  alone, again and again, would otherwise pay a sort of every agent each time.
* ``PassPool`` is one pass's view: it draws from those lists in order and makes a working
  ``Slot`` (a copy of the load that the pass may raise) only for an agent it looks at closely
  or assigns to. Within a pass loads only grow, so an agent without a slot is still free on
  every channel it was free on at the start.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator, Mapping

from cti.domain import Channel
from cti.routing import AgentSnapshot, WaitingItem
from router.pool import SkillKey, Slot, SlotPool, open_channels

__all__ = ["Names", "OpenAgents", "PassPool", "name_sets"]

Names = tuple[str, ...]  # required skill names, sorted
_Entry = tuple[int, float, str]  # (minus the summed level of the list's names, idle since, agent id)
_ListKey = tuple[Channel, Names]

# Unused per-names lists kept up to date in case a class needs them again (oldest dropped first).
_SPARE_LISTS = 32


def name_sets(skills: Mapping[str, int], by_names: Mapping[Names, object]) -> Iterator[Names]:
    """The name sets in ``by_names`` that the agent's skill names cover."""
    if len(by_names) == 1 and () in by_names:
        yield ()  # only the channel's own list: the common case while no class asks for skills
        return
    mine = sorted(skills)
    if 2 ** len(mine) <= len(by_names):
        for size in range(len(mine) + 1):
            for names in itertools.combinations(mine, size):
                if names in by_names:
                    yield names
    else:
        have = set(mine)
        for names in by_names:
            if have.issuperset(names):
                yield names


def _entry(agent: AgentSnapshot, names: Names) -> _Entry:
    if not names:
        return 0, agent.idle_since, agent.agent_id
    skills = agent.skills
    return -sum([skills[name] for name in names]), agent.idle_since, agent.agent_id


class OpenAgents:
    """Agents with a free slot on some channel, ranked per channel and per required names."""

    def __init__(self) -> None:
        # agent id -> (their picture, the channels they can take now); nobody else is here
        self._agents: dict[str, tuple[AgentSnapshot, tuple[Channel, ...]]] = {}
        # channel -> names -> ranked entries; the () list of a channel holds all its free agents
        self._lists: dict[Channel, dict[Names, list[_Entry]]] = {}
        self._users: dict[_ListKey, int] = {}  # how many classes draw from each per-names list
        self._spare: dict[_ListKey, None] = {}  # per-names lists nobody uses now, oldest first
        self.free: dict[Channel, int] = dict.fromkeys(Channel, 0)

    def __len__(self) -> int:
        return len(self._agents)

    def put(self, agent: AgentSnapshot) -> None:
        """Add or replace an agent; ranks move only where what they depend on moved."""
        channels = open_channels(agent)
        agent_id = agent.agent_id
        old = self._agents.get(agent_id)
        if old is None:
            if channels:
                self._agents[agent_id] = (agent, channels)
                self._enter(agent, channels)
            return
        before, was = old
        if before.idle_since == agent.idle_since and (before.skills is agent.skills
                                                      or before.skills == agent.skills):
            # The usual change: one item more or less. Same ranks; at most some channels open
            # or close (a first chat closes voice, the last one reopens it).
            if was != channels:
                gone = tuple(c for c in was if c not in channels)
                if gone:
                    self._leave(before, gone)
                came = tuple(c for c in channels if c not in was)
                if came:
                    self._enter(agent, came)
        else:
            self._leave(before, was)
            self._enter(agent, channels)
        if channels:
            self._agents[agent_id] = (agent, channels)
        else:
            del self._agents[agent_id]

    def drop(self, agent_id: str) -> None:
        old = self._agents.pop(agent_id, None)
        if old is not None:
            self._leave(*old)

    def clear(self) -> None:
        self._agents.clear()
        self._lists.clear()
        self._users.clear()
        self._spare.clear()
        self.free = dict.fromkeys(Channel, 0)

    def use(self, channel: Channel, names: Names) -> None:
        """A class of ``channel`` requiring ``names`` appeared: rank its agents from now on."""
        key = (channel, names)
        count = self._users.get(key, 0)
        self._users[key] = count + 1
        if count:
            return
        lists = self._lists.get(channel)
        if lists is None:
            lists = self._lists[channel] = {(): []}
        if names in lists:
            self._spare.pop(key, None)
            return
        agents = self._agents
        ranked = [_entry(agent, names) for _, _, agent_id in lists[()]
                  if all(name in (agent := agents[agent_id][0]).skills for name in names)]
        ranked.sort()
        lists[names] = ranked

    def release(self, channel: Channel, names: Names) -> None:
        """A class of ``channel`` requiring ``names`` is gone; unused, the list becomes spare."""
        key = (channel, names)
        count = self._users[key] - 1
        if count:
            self._users[key] = count
            return
        del self._users[key]
        if not names:
            return  # the channel's own list is always kept
        spare = self._spare
        spare[key] = None
        if len(spare) > _SPARE_LISTS:
            oldest = next(iter(spare))
            del spare[oldest]
            del self._lists[oldest[0]][oldest[1]]

    def qualified(self, channel: Channel, names: Names, groups: Iterable[SkillKey]) -> Iterator[SkillKey]:
        """Those of ``groups`` (required skills and levels, all with these ``names``) for which
        some agent free on ``channel`` now holds every required skill at its level.

        Usually the first entry answers: the list is best summed level first, and once the sum
        falls below the required sum nobody further down can qualify. This runs for every
        group on every pass, hence written out."""
        ranked = self._lists.get(channel, {}).get(names)
        if not ranked:
            return
        agents = self._agents
        top_score = -ranked[0][0]
        top_skills = agents[ranked[0][2]][0].skills
        for required in groups:
            need = 0
            fits = True
            for name, level in required:
                need += level
                if top_skills[name] < level:
                    fits = False
            if fits or (top_score >= need and self._further_down(ranked, required, need)):
                yield required

    def _further_down(self, ranked: list[_Entry], required: SkillKey, need: int) -> bool:
        agents = self._agents
        for pos in range(1, len(ranked)):
            neg_score, _, agent_id = ranked[pos]
            if -neg_score < need:
                return False
            skills = agents[agent_id][0].skills
            if all(skills[name] >= level for name, level in required):
                return True
        return False

    def pool(self) -> PassPool:
        """A view for one pass; the lists must not change while it is in use."""
        return PassPool(self._agents, self._lists, self.free)

    # ----- helpers ---------------------------------------------------------------------------

    def _enter(self, agent: AgentSnapshot, channels: tuple[Channel, ...]) -> None:
        """Rank the agent on these channels (they just became free on them)."""
        free, all_lists = self.free, self._lists
        for channel in channels:
            free[channel] += 1
            if channel not in all_lists:
                all_lists[channel] = {(): []}
        for ranked, entry in self._places(agent, channels):
            bisect.insort(ranked, entry)

    def _leave(self, agent: AgentSnapshot, channels: tuple[Channel, ...]) -> None:
        """Take the agent (as ranked before) out of these channels' lists."""
        free = self.free
        for channel in channels:
            free[channel] -= 1
        for ranked, entry in self._places(agent, channels):
            at = bisect.bisect_left(ranked, entry)
            if at < len(ranked) and ranked[at] == entry:
                del ranked[at]

    def _places(self, agent: AgentSnapshot, channels: tuple[Channel, ...]
                ) -> list[tuple[list[_Entry], _Entry]]:
        """Each list of these channels the agent belongs in, with their entry in it. Entries are
        made once per set of names, not once per channel: this runs on every agent change."""
        all_lists, skills = self._lists, agent.skills
        entries: dict[Names, _Entry] = {}
        out: list[tuple[list[_Entry], _Entry]] = []
        for channel in channels:
            lists = all_lists[channel]
            if len(lists) == 1:
                # Only the channel's own list (no class of it asks for skills): the entry is plain.
                out.append((lists[()], (0, agent.idle_since, agent.agent_id)))
                continue
            for names in name_sets(skills, lists):
                entry = entries.get(names)
                if entry is None:
                    entry = entries[names] = _entry(agent, names)
                out.append((lists[names], entry))
        return out


class _Draw:
    """One (channel, required skills and levels) group's walk down its shared list in one pass."""

    __slots__ = ("buffer", "end", "head", "need", "pos", "required", "source")

    def __init__(self, source: list[_Entry], required: SkillKey) -> None:
        self.source = source  # shared by every group of the same channel and names
        self.pos = 0  # next source entry not yet looked at by this group
        self.end = len(source)  # nobody from here on can qualify (their summed level is too low)
        self.required = required
        self.need = sum(level for _, level in required)
        self.buffer: list[tuple[int, str]] = []  # (summed level, agent id) qualified so far, in order
        self.head = 0  # buffer entries before this are full agents, dropped


class PassPool(SlotPool):
    """One pass over ``OpenAgents``: slots made on first look, free counts copied."""

    def __init__(self, agents: dict[str, tuple[AgentSnapshot, tuple[Channel, ...]]],
                 lists: dict[Channel, dict[Names, list[_Entry]]], free: Mapping[Channel, int]) -> None:
        self._agents = agents
        self._lists = lists
        self.slots: dict[str, Slot] = {}  # the agents this pass looked at closely or assigned to
        self.free = dict(free)
        self.free_total = sum(self.free.values())
        self._draws: dict[tuple[Channel, SkillKey], _Draw] = {}

    def slot(self, agent_id: str) -> Slot | None:
        if agent_id not in self.slots and agent_id not in self._agents:
            return None  # nothing free at the start of the pass: not eligible for anything
        return self._working(agent_id)

    def best_two(self, item: WaitingItem, required: SkillKey
                 ) -> tuple[tuple[int, Slot] | None, tuple[int, Slot] | None]:
        channel = item.channel
        draw = self._draws.get((channel, required))
        if draw is None:
            source = self._lists.get(channel, {}).get(tuple(name for name, _ in required), [])
            draw = self._draws[(channel, required)] = _Draw(source, required)
        buffer = draw.buffer
        head = draw.head
        while head < len(buffer) and not self._open(buffer[head][1], channel):
            head += 1
        draw.head = head
        excluded = item.excluded_agents
        found: list[tuple[int, str]] = []
        dead = 0
        i = head
        while len(found) < 2:
            if i == len(buffer) and not self._pull(draw, channel):
                break
            entry = buffer[i]
            if not self._open(entry[1], channel):
                dead += 1
            elif entry[1] not in excluded:
                found.append(entry)
            i += 1
        if dead:
            # Compact the scanned stretch so these full agents are not walked over again.
            buffer[head:i] = [e for e in buffer[head:i] if self._open(e[1], channel)]
        first = (found[0][0], self._working(found[0][1])) if found else None
        second = (found[1][0], self._working(found[1][1])) if len(found) > 1 else None
        return first, second

    def _working(self, agent_id: str) -> Slot:
        slot = self.slots.get(agent_id)
        if slot is None:
            slot = self.slots[agent_id] = Slot(self._agents[agent_id][0])
        return slot

    def _open(self, agent_id: str, channel: Channel) -> bool:
        """Whether an agent of the channel's lists is still free on it (untouched: yes)."""
        slot = self.slots.get(agent_id)
        return slot is None or slot.open[channel]

    def _pull(self, draw: _Draw, channel: Channel) -> bool:
        """Move the next qualified, still free source entry into the buffer; False at the end."""
        source, required, need = draw.source, draw.required, draw.need
        agents, slots = self._agents, self.slots
        pos, end = draw.pos, draw.end
        while pos < end:
            neg_score, _, agent_id = source[pos]
            pos += 1
            if -neg_score < need:
                draw.end = pos  # sorted by summed level: nobody further down has enough
                break
            slot = slots.get(agent_id)
            if slot is not None:
                if not slot.open[channel]:
                    continue
                skills = slot.skills
            else:
                skills = agents[agent_id][0].skills
            if all(skills[name] >= level for name, level in required):
                draw.buffer.append((-neg_score, agent_id))
                draw.pos = pos
                return True
        draw.pos = pos
        return False
