"""Hand-made interaction logs: plain entries, as the store gives them back."""

from __future__ import annotations

from typing import Any

from cti.eventlog import EntryKind, LogEntry

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC, on an hour


class Log:
    """Entries of one interaction, written in order: ``log.queued(0).offered(1, "a")...``; each
    time is seconds after ``T0``; the channel and queue carry over from the entry before."""

    def __init__(self, interaction_id: str = "int-1", *, channel: str = "chat",
                 queue: str = "support") -> None:
        self.interaction_id = interaction_id
        self.channel = channel
        self.queue = queue
        self.entries: list[LogEntry] = []

    def _add(self, kind: EntryKind, at: float, agent: str | None = None, *, queue: str | None = None,
             **details: Any) -> Log:
        if queue is not None:
            self.queue = queue
        self.entries.append(LogEntry(interaction_id=self.interaction_id, kind=kind, at=T0 + at,
                                     channel=self.channel, queue=self.queue, agent_id=agent,
                                     details=details, key=str(len(self.entries))))
        return self

    def queued(self, at: float, why: str = "arrival", *, queue: str | None = None) -> Log:
        return self._add(EntryKind.QUEUED, at, queue=queue, why=why)

    def overflowed(self, at: float, also_queue: str) -> Log:
        return self._add(EntryKind.QUEUED, at, why="overflow", rule="to-queue", also_queue=also_queue)

    def offered(self, at: float, agent: str, rule: str = "skills") -> Log:
        return self._add(EntryKind.OFFERED, at, agent, rule=rule)

    def accepted(self, at: float, agent: str, *, outbound: bool = False) -> Log:
        if outbound:
            return self._add(EntryKind.ACCEPTED, at, agent, outbound=True)
        return self._add(EntryKind.ACCEPTED, at, agent)

    def held(self, at: float, agent: str) -> Log:
        return self._add(EntryKind.HELD, at, agent)

    def resumed(self, at: float, agent: str) -> Log:
        return self._add(EntryKind.RESUMED, at, agent)

    def consulted(self, at: float, agent: str, to_agent: str) -> Log:
        return self._add(EntryKind.CONSULTED, at, agent, to_agent=to_agent)

    def transferred(self, at: float, agent: str, *, mode: str = "blind", to_queue: str | None = None,
                    to_agent: str | None = None) -> Log:
        return self._add(EntryKind.TRANSFERRED, at, agent, mode=mode, to_queue=to_queue, to_agent=to_agent)

    def wrap_up(self, at: float, agent: str) -> Log:
        return self._add(EntryKind.WRAP_UP, at, agent)

    def closed(self, at: float, agent: str | None) -> Log:
        return self._add(EntryKind.CLOSED, at, agent)

    def abandoned(self, at: float) -> Log:
        return self._add(EntryKind.ABANDONED, at)


def transfer_case(interaction_id: str = "int-1") -> Log:
    """The issue's caller: waited 2.5 s, talked, blind-transferred to a queue, waited 4.5 s."""
    return (Log(interaction_id, channel="voice", queue="support")
            .queued(0).offered(1, "alice").accepted(2.5, "alice")
            .transferred(5.5, "alice", to_queue="billing").queued(5.5, "transfer", queue="billing")
            .offered(8, "bob").accepted(10, "bob").wrap_up(70, "bob").closed(80, "bob"))
