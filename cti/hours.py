"""Business hours: is a queue open at an instant (pure: the instant is passed in).

A queue without ``hours`` is always open. Otherwise it is open when the local time (in the hours'
time zone) falls in one of that weekday's spans and the local date is not a holiday. A span's end
is exclusive, and ``24:00`` ends at midnight.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

from cti.config import AppConfig
from cti.domain import BusinessHours

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_open(hours: BusinessHours, at: float) -> bool:
    local = datetime.datetime.fromtimestamp(at, zoneinfo.ZoneInfo(hours.timezone))
    if local.date() in hours.holidays:
        return False
    minute = local.hour * 60 + local.minute
    for span in hours.days.get(WEEKDAYS[local.weekday()], ()):
        start, end = (int(h) * 60 + int(m) for h, m in (part.split(":") for part in span.split("-")))
        if start <= minute < end:
            return True
    return False


def queue_open(config: AppConfig, queue: str, at: float) -> bool:
    cfg = config.queues.get(queue)
    if cfg is None or cfg.hours is None:
        return True
    hours = config.business_hours.get(cfg.hours)
    return True if hours is None else is_open(hours, at)


def closed_variable(queue: str) -> str:
    """The Asterisk global the dial plan reads for ``queue`` (names keep letters, digits, _)."""
    return "CTI_CLOSED_" + re.sub(r"[^A-Za-z0-9_]", "_", queue)
