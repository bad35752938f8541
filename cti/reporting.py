"""Figures read from the event log: the one path the live board and the reports both take
(the log's logs for a range, ``cti.segments``, then ``cti.figures``), so the same hour gives the
same figures wherever it is shown."""

from __future__ import annotations

from collections.abc import Collection

from cti.config import AppConfig
from cti.domain import DEFAULT_SERVICE_TARGETS, Channel
from cti.eventlog import EventLogRecords
from cti.figures import Bucket, Figures, GroupBy, Targets, figures
from cti.segments import all_segments

# A customer who leaves within this many seconds is a short abandon (a misdial, a changed mind):
# neither offered nor abandoned. A report may ask for another threshold.
DEFAULT_SHORT_ABANDON = 5.0
UNKNOWN_CHANNEL_TARGET = 60.0


def queue_targets(config: AppConfig) -> Targets:
    """Each queue's service target for a channel, as routing measures urgency against it; the
    channel's default for a queue no longer configured."""
    def target(queue: str, channel: str) -> float:
        try:
            known = Channel(channel)
        except ValueError:
            return UNKNOWN_CHANNEL_TARGET
        configured = config.queues.get(queue)
        return configured.target_for(known) if configured is not None else DEFAULT_SERVICE_TARGETS[known]
    return target


async def figures_from_log(records: EventLogRecords, *, start: float, end: float, by: Bucket, now: float,
                           targets: Targets, short_abandon: float = DEFAULT_SHORT_ABANDON,
                           group: GroupBy | None = None, queues: Collection[str] | None = None,
                           channels: Collection[str] | None = None,
                           agents: Collection[str] | None = None) -> list[Figures]:
    logs = await records.touching(start, end, channels=channels)
    return figures(all_segments(logs, now=now), start=start, end=end, by=by, targets=targets,
                   short_abandon=short_abandon, group=group, queues=queues, channels=channels, agents=agents)
