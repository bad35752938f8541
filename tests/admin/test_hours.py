"""Business hours (pure): open within a weekday's spans in the hours' own time zone, closed on
holidays and on weekdays not listed."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from cti.config import parse_config
from cti.hours import closed_variable, is_open, queue_open

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def at(*parts: int) -> float:
    year, month, day, hour, minute = parts
    return datetime.datetime(year, month, day, hour, minute, tzinfo=PARIS).timestamp()


CONFIG = parse_config({
    "business_hours": {"office": {"timezone": "Europe/Paris", "days": {"mon": ["08:00-12:00", "13:00-18:00"],
                                                                       "sat": ["10:00-24:00"]},
                                  "holidays": ["2026-12-28"]}},
    "queues": [{"name": "support", "hours": "office"}, {"name": "always"}],
})


@pytest.mark.parametrize(("when", "expected"), [
    (at(2026, 12, 7, 8, 0), True),     # Monday, opening minute
    (at(2026, 12, 7, 7, 59), False),
    (at(2026, 12, 7, 12, 30), False),  # lunch
    (at(2026, 12, 7, 17, 59), True),
    (at(2026, 12, 7, 18, 0), False),   # the end is exclusive
    (at(2026, 12, 8, 10, 0), False),   # Tuesday is not listed
    (at(2026, 12, 12, 23, 59), True),  # Saturday until midnight
    (at(2026, 12, 28, 10, 0), False),  # a Monday, but a holiday
])
def test_open_in_the_zone_of_the_hours(when: float, expected: bool) -> None:
    assert queue_open(CONFIG, "support", when) is expected
    assert queue_open(CONFIG, "always", when) is True


def test_the_zone_counts_not_the_servers() -> None:
    hours = CONFIG.business_hours["office"]
    # 07:30 UTC on a Monday in December is 08:30 in Paris.
    assert is_open(hours, datetime.datetime(2026, 12, 7, 7, 30, tzinfo=datetime.UTC).timestamp())


def test_the_dial_plan_variable_name_is_safe() -> None:
    assert closed_variable("support") == "CTI_CLOSED_support"
    assert closed_variable("sales-emea.2") == "CTI_CLOSED_sales_emea_2"
