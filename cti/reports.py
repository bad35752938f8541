"""Reports: the figures of ``cti.figures`` with first-contact resolution and CSAT beside them, per
queue, channel, agent or team; the trends of contact reasons; a customer's journey (pure: logs and
contacts in, rows out; no clock, no I/O). The formulas are written out in ``docs/reports.md``.

Why contacts beside the logs: first-contact resolution asks whether the same customer came back
on *any* channel, and the log of one interaction does not know its customer. A ``Contact`` is an
interaction's row as the store keeps it (its customer is the root of the customer's merge tree,
so records merged later count as the one customer they are).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from cti.config import AppConfig
from cti.eventlog import EntryKind, LogEntry
from cti.figures import DAY, WEEK, Bucket, Figures, GroupBy, Targets, bucket_start, empty_figures, figures
from cti.segments import Outcome, Segment, segments

DEFAULT_FCR_DAYS = 7
MAX_FCR_DAYS = 90
SURVEY_RATINGS = range(1, 6)


class ReportGroup(enum.StrEnum):
    QUEUE = "queue"
    CHANNEL = "channel"
    AGENT = "agent"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class Contact:
    """One interaction as a contact: who (the customer's root), when, how, and its reasons."""

    interaction_id: str
    customer_id: str
    channel: str
    direction: str  # "inbound": the customer got in touch; "outbound": an agent did
    arrived_at: float
    queue: str
    agent_id: str | None = None
    disposition: str | None = None
    reason: str | None = None  # the IVR's reason (context ``ivr.reason``)

    @property
    def inbound(self) -> bool:
        return self.direction == "inbound"


class ReportRecords(Protocol):
    """The contacts in the store: by arrival range, one customer's (their merge tree's), and the
    logs of a few of them in one read."""

    async def contacts(self, start: float, end: float) -> Sequence[Contact]: ...

    async def of_customer(self, customer_id: str, *, limit: int) -> Sequence[Contact]: ...

    async def logs(self, interaction_ids: Sequence[str]) -> Mapping[str, Sequence[LogEntry]]: ...


@dataclass(frozen=True, slots=True)
class Teams:
    """Which team a piece of work is: the team of the agent who took it; work nobody took, the
    team of its queue when the queue belongs to exactly one team."""

    of_agent: Mapping[str, str] = field(default_factory=dict)
    of_queue: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: AppConfig) -> Teams:
        return cls(of_agent={a.id: a.team for a in config.agents.values() if a.team is not None},
                   of_queue={q.name: q.teams[0] for q in config.queues.values() if len(q.teams) == 1})

    def of(self, queue: str, agent_id: str | None) -> str | None:
        if agent_id is not None:
            return self.of_agent.get(agent_id)
        return self.of_queue.get(queue)


@dataclass(frozen=True, slots=True)
class Selection:
    """What a report is narrowed to (None: no narrowing). A piece of work is in it when its
    queue, channel, agent and team each are (for a supervisor: their teams' queues)."""

    queues: Collection[str] | None = None
    channels: Collection[str] | None = None
    agents: Collection[str] | None = None
    teams: Collection[str] | None = None

    def holds(self, queue: str, channel: str, agent_id: str | None, teams: Teams) -> bool:
        return ((self.queues is None or queue in self.queues)
                and (self.channels is None or channel in self.channels)
                and (self.agents is None or agent_id in self.agents)
                and (self.teams is None or teams.of(queue, agent_id) in self.teams))


EVERYTHING = Selection()


@dataclass(frozen=True, slots=True)
class ReportRow:
    figures: Figures
    fcr_contacts: int = 0  # closed inbound contacts whose N-day window is known
    fcr_resolved: int = 0  # of those, with no new contact from the customer within N days
    fcr_pending: int = 0  # closed, no new contact yet, window not over: in neither count
    first_contact_resolution: float | None = None
    csat_count: int = 0
    csat_average: float | None = None

    def flat(self) -> dict[str, Any]:
        """One flat record (a JSON row, a CSV line): the figures, then the rest."""
        out = asdict(self.figures)
        out.update({k: getattr(self, k) for k in (
            "fcr_contacts", "fcr_resolved", "fcr_pending", "first_contact_resolution", "csat_count",
            "csat_average")})
        return out


COLUMNS = tuple(ReportRow(empty_figures(0.0, None)).flat())


Who = Callable[[str, str, str | None], str | None]  # (queue, channel, agent) -> the group


def _who(group: ReportGroup | None, teams: Teams) -> Who:
    if group is ReportGroup.QUEUE:
        return lambda queue, channel, agent: queue
    if group is ReportGroup.CHANNEL:
        return lambda queue, channel, agent: channel
    if group is ReportGroup.AGENT:
        return lambda queue, channel, agent: agent
    if group is ReportGroup.TEAM:
        return lambda queue, channel, agent: teams.of(queue, agent)
    return lambda queue, channel, agent: None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A closed inbound contact and whether the customer came back within N days (None: not yet
    known). Its queue, channel and agent are those of the segment that closed it."""

    interaction_id: str
    arrived_at: float
    queue: str
    channel: str
    agent_id: str | None
    closed_at: float
    resolved: bool | None
    repeated_by: str | None


def closing_segment(parts: Sequence[Segment]) -> Segment | None:
    """The segment an agent closed the contact with, if the contact ended that way."""
    if not parts:
        return None
    last = parts[-1]
    if last.outcome is Outcome.ANSWERED and last.ended_by == "closed" and last.ended_at is not None:
        return last
    return None


def resolutions(contacts: Sequence[Contact], parts: Mapping[str, Sequence[Segment]], *, fcr_days: float,
                now: float) -> dict[str, Resolution]:
    """Per closed inbound contact: resolved at first contact when no other inbound contact of the
    same customer, on any channel, arrived after it and at most ``fcr_days`` after it was closed."""
    window = fcr_days * DAY
    by_customer: dict[str, list[Contact]] = {}
    for c in contacts:
        if c.inbound:
            by_customer.setdefault(c.customer_id, []).append(c)
    for mine in by_customer.values():
        mine.sort(key=lambda c: (c.arrived_at, c.interaction_id))
    out: dict[str, Resolution] = {}
    for mine in by_customer.values():
        for n, c in enumerate(mine):
            closing = closing_segment(parts.get(c.interaction_id, ()))
            if closing is None or closing.ended_at is None:
                continue
            closed_at = closing.ended_at
            after = mine[n + 1] if n + 1 < len(mine) else None  # the next contact in time
            repeated = after is not None and after.arrived_at <= closed_at + window
            resolved: bool | None = False if repeated else (True if closed_at + window <= now else None)
            out[c.interaction_id] = Resolution(
                interaction_id=c.interaction_id, arrived_at=c.arrived_at, queue=closing.queue,
                channel=closing.channel, agent_id=closing.agent_id, closed_at=closed_at, resolved=resolved,
                repeated_by=after.interaction_id if repeated and after is not None else None)
    return out


def survey_rating(entry: LogEntry) -> int | None:
    """A survey entry's rating, when it is a whole number 1-5 (anything else is not counted)."""
    rating = entry.details.get("rating")
    return rating if type(rating) is int and rating in SURVEY_RATINGS else None


def survey_agent(entry: LogEntry) -> str | None:
    agent = entry.details.get("agent")
    return agent if isinstance(agent, str) else entry.agent_id


@dataclass(slots=True)
class _Extra:
    fcr: int = 0
    resolved: int = 0
    pending: int = 0
    csat: int = 0
    rating: int = 0


def report(logs: Mapping[str, Sequence[LogEntry]], contacts: Sequence[Contact], *, start: float, end: float,
           by: Bucket, now: float, targets: Targets, short_abandon: float, fcr_days: float, teams: Teams,
           group: ReportGroup | None = None, selection: Selection = EVERYTHING) -> list[ReportRow]:
    """Rows per bucket (and group) over [start, end): the figures of the segments that started in
    it, the first-contact resolution of the inbound contacts that arrived in it, and the surveys
    answered in it. ``contacts`` must hold every contact from ``start`` to ``end + fcr_days``."""
    who = _who(group, teams)
    parts = {i: segments(log, now=now) for i, log in logs.items()}
    chosen = [s for ss in parts.values() for s in ss
              if selection.holds(s.queue, s.channel, s.agent_id, teams)]
    figure_group: GroupBy | Callable[[Segment], str | None] | None = (
        None if group is None else lambda s: who(s.queue, s.channel, s.agent_id))
    rows = {(f.bucket, f.group): f for f in figures(
        chosen, start=start, end=end, by=by, targets=targets, short_abandon=short_abandon,
        group=figure_group)}

    extra: dict[tuple[float, str | None], _Extra] = {}
    for r in resolutions(contacts, parts, fcr_days=fcr_days, now=now).values():
        if not start <= r.arrived_at < end or not selection.holds(r.queue, r.channel, r.agent_id, teams):
            continue
        key = (bucket_start(r.arrived_at, by), who(r.queue, r.channel, r.agent_id))
        tally = extra.setdefault(key, _Extra())
        if r.resolved is None:
            tally.pending += 1
        else:
            tally.fcr += 1
            tally.resolved += r.resolved
    for log in logs.values():
        for e in log:
            if e.kind is not EntryKind.SURVEY_ANSWERED or not start <= e.at < end:
                continue
            rating, agent = survey_rating(e), survey_agent(e)
            if rating is None or not selection.holds(e.queue, e.channel, agent, teams):
                continue
            tally = extra.setdefault((bucket_start(e.at, by), who(e.queue, e.channel, agent)), _Extra())
            tally.csat += 1
            tally.rating += rating

    out: list[ReportRow] = []
    for key in sorted(set(rows) | set(extra), key=lambda k: (k[0], k[1] or "")):
        x = extra.get(key, _Extra())
        out.append(ReportRow(
            figures=rows.get(key) or empty_figures(*key), fcr_contacts=x.fcr, fcr_resolved=x.resolved,
            fcr_pending=x.pending, first_contact_resolution=x.resolved / x.fcr if x.fcr else None,
            csat_count=x.csat, csat_average=x.rating / x.csat if x.csat else None))
    return out


# --- trends -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trend:
    reason: str  # "disposition:<x>", "ivr:<x>", or a tag as written ("campaign:<slug>")
    counts: tuple[int, ...]  # per week, in the order of ``Trends.weeks``
    change: int  # the last week's count minus the week before's

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Trends:
    weeks: list[float]  # each ISO week's start (Monday 00:00 UTC) touching [start, end)
    rows: list[Trend]


def reasons(c: Contact, log: Sequence[LogEntry]) -> set[str]:
    """A contact's reasons: its disposition, its IVR reason, and its tags (each once)."""
    found = {f"disposition:{c.disposition}"} if c.disposition else set()
    if c.reason:
        found.add(f"ivr:{c.reason}")
    for e in log:
        tag = e.details.get("tag") if e.kind is EntryKind.TAGGED else None
        if isinstance(tag, str) and tag:
            found.add(tag)
    return found


def trends(logs: Mapping[str, Sequence[LogEntry]], contacts: Iterable[Contact], *, start: float, end: float,
           top: int) -> Trends:
    """The ``top`` reasons of the contacts that arrived in [start, end), counted per ISO week, most
    frequent over the range first (ties by name)."""
    weeks: list[float] = []
    week = bucket_start(start, Bucket.WEEK)
    while week < end:
        weeks.append(week)
        week += WEEK
    index = {w: n for n, w in enumerate(weeks)}
    counts: dict[str, list[int]] = {}
    for c in contacts:
        if not start <= c.arrived_at < end:
            continue
        n = index[bucket_start(c.arrived_at, Bucket.WEEK)]
        for reason in reasons(c, logs.get(c.interaction_id, ())):
            counts.setdefault(reason, [0] * len(weeks))[n] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1]), kv[0]))[:top]
    return Trends(weeks=weeks, rows=[
        Trend(reason=r, counts=tuple(c), change=c[-1] - c[-2] if len(c) > 1 else c[-1]) for r, c in ranked])


# --- journey ----------------------------------------------------------------------------------


class StepOutcome(enum.StrEnum):
    CLOSED = "closed"  # an agent completed it
    ABANDONED = "abandoned"  # the customer left while waiting
    UNANSWERED = "unanswered"  # ended without an agent otherwise
    OPEN = "open"  # still waiting, with an agent or in wrap-up


@dataclass(frozen=True, slots=True)
class JourneyStep:
    interaction_id: str
    channel: str
    direction: str
    arrived_at: float
    ended_at: float | None
    outcome: StepOutcome
    queues: tuple[str, ...]  # each segment's queue, in order
    agents: tuple[str, ...]  # who took it, in order (a transfer adds one)
    wait: float  # Σ queue waits
    handle_time: float  # Σ talk + hold + wrap-up
    transfers: int
    disposition: str | None
    reasons: tuple[str, ...]
    csat: int | None  # the last valid survey rating
    first_contact_resolved: bool | None  # None: not a closed inbound contact, or not known yet
    repeated_by: str | None  # the contact that came within N days of it


def _outcome(parts: Sequence[Segment]) -> StepOutcome:
    last = parts[-1] if parts else None
    if last is None or last.ended_at is None:
        return StepOutcome.OPEN
    if last.outcome is Outcome.ABANDONED:
        return StepOutcome.ABANDONED
    if last.outcome is Outcome.ANSWERED and last.ended_by == "closed":
        return StepOutcome.CLOSED
    return StepOutcome.UNANSWERED


def journey(contacts: Sequence[Contact], logs: Mapping[str, Sequence[LogEntry]], *, fcr_days: float,
            now: float) -> list[JourneyStep]:
    """One customer's contacts, oldest first, each with its outcome across its segments."""
    parts = {c.interaction_id: segments(logs.get(c.interaction_id, ()), now=now) for c in contacts}
    resolved = resolutions(contacts, parts, fcr_days=fcr_days, now=now)
    steps: list[JourneyStep] = []
    for c in sorted(contacts, key=lambda c: (c.arrived_at, c.interaction_id)):
        mine, log = parts[c.interaction_id], logs.get(c.interaction_id, ())
        ratings = [r for r in (survey_rating(e) for e in log if e.kind is EntryKind.SURVEY_ANSWERED)
                   if r is not None]
        r = resolved.get(c.interaction_id)
        steps.append(JourneyStep(
            interaction_id=c.interaction_id, channel=c.channel, direction=c.direction,
            arrived_at=c.arrived_at,
            ended_at=mine[-1].ended_at if mine else None, outcome=_outcome(mine),
            queues=tuple(s.queue for s in mine), agents=tuple(s.agent_id for s in mine if s.agent_id),
            wait=sum(s.wait or 0.0 for s in mine), handle_time=sum(s.handle_time for s in mine),
            transfers=sum(s.transferred for s in mine), disposition=c.disposition,
            reasons=tuple(sorted(reasons(c, log))), csat=ratings[-1] if ratings else None,
            first_contact_resolved=r.resolved if r is not None else None,
            repeated_by=r.repeated_by if r is not None else None))
    return steps
