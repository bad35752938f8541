"""Report rows, first-contact resolution, CSAT, trends and journeys from hand-made logs and contacts
(pure: the formulas of docs/reports.md, worked out by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cti.eventlog import EntryKind, LogEntry
from cti.figures import Bucket
from cti.reports import (
    COLUMNS,
    DAY,
    Contact,
    ReportGroup,
    Selection,
    Teams,
    journey,
    report,
    trends,
)
from tests.eventlog.logs import T0, Log, transfer_case

D0 = T0 - T0 % DAY  # the day of T0 (UTC)
TEAMS = Teams(of_agent={"alice": "front", "bob": "front", "carol": "back"},
              of_queue={"support": "front", "billing": "back"})


def target(queue: str, channel: str) -> float:
    return {("support", "voice"): 3.0, ("billing", "voice"): 5.0}.get((queue, channel), 20.0)


def survey(log: Log, at: float, rating: Any, agent: str, comment: str | None = None) -> Log:
    log.entries.append(LogEntry(log.interaction_id, EntryKind.SURVEY_ANSWERED, T0 + at, log.channel,
                                log.queue, None, {"rating": rating, "comment": comment, "agent": agent},
                                key=str(len(log.entries))))
    return log


def tagged(log: Log, at: float, tag: str) -> Log:
    log.entries.append(LogEntry(log.interaction_id, EntryKind.TAGGED, T0 + at, log.channel, log.queue, None,
                                {"tag": tag}, key=str(len(log.entries))))
    return log


def contact(interaction_id: str, customer: str, at: float, channel: str = "chat", *, queue: str = "support",
            agent: str | None = None, direction: str = "inbound", disposition: str | None = None,
            reason: str | None = None) -> Contact:
    return Contact(interaction_id=interaction_id, customer_id=customer, channel=channel, direction=direction,
                   arrived_at=T0 + at, queue=queue, agent_id=agent, disposition=disposition, reason=reason)


def day() -> tuple[dict[str, list[LogEntry]], list[Contact]]:
    logs = [
        survey(transfer_case("t1"), 90, 4, "bob"),  # voice: support 2.5 s, then billing 4.5 s (bob)
        survey(Log("c1").queued(0).offered(1, "alice").accepted(10, "alice").held(20, "alice")
               .resumed(30, "alice").held(40, "alice").resumed(45, "alice").wrap_up(100, "alice")
               .closed(110, "alice"), 200, 2, "alice"),
        Log("c2").queued(100).offered(101, "bob").queued(116, "requeue-after-missed-offer")
        .offered(117, "alice").accepted(130, "alice").closed(190, "alice"),  # a missed offer
        Log("c3").queued(200).abandoned(203),  # short abandon
        Log("c4").queued(300).abandoned(330),  # abandoned after the threshold and the target
        Log("o1").queued(400).queued(420, "overflow", queue="billing").accepted(425, "carol")
        .closed(500, "carol"),  # overflowed to billing: carol's, back team
        # Next day: ann comes back by e-mail (c1's customer) within 7 days.
        Log("e1", channel="email").queued(DAY + 10).accepted(DAY + 20, "bob").closed(DAY + 30, "bob"),
    ]
    contacts = [
        contact("t1", "dan", 0, "voice", disposition="billing-question", reason="invoice"),
        contact("c1", "ann", 0, disposition="resolved"),
        contact("c2", "ben", 100, disposition="resolved"),
        contact("c3", "cid", 200),
        contact("c4", "cid", 300),
        contact("o1", "olga", 400, queue="billing"),
        contact("e1", "ann", DAY + 10, "email", disposition="resolved"),
    ]
    return {log.interaction_id: log.entries for log in logs}, contacts


def run(**kw: Any) -> dict[tuple[float, str | None], Any]:
    logs, contacts = day()
    args: dict[str, Any] = {"start": T0, "end": T0 + 2 * DAY, "by": Bucket.DAY, "now": T0 + 30 * DAY,
                            "targets": target, "short_abandon": 5.0, "fcr_days": 7, "teams": TEAMS}
    args.update(kw)
    return {(r.figures.bucket, r.figures.group): r for r in report(logs, contacts, **args)}


def test_the_day_by_queue_counts_each_segment_where_its_wait_ended() -> None:
    rows = run(group=ReportGroup.QUEUE)
    support, billing = rows[(D0, "support")], rows[(D0, "billing")]
    f = support.figures
    # t1's first part, c1, c2 answered; c4 abandoned (30 s > 5 s); c3 short (3 s ≤ 5 s).
    assert (f.offered, f.answered, f.abandoned, f.short_abandoned) == (4, 3, 1, 1)
    assert f.average_speed_of_answer == pytest.approx((2.5 + 10 + 30) / 3)
    assert (f.holds, f.hold, f.transfers) == (2, 15.0, 1)
    # o1 overflowed from support to billing: billing's, its whole 25 s wait.
    assert (billing.figures.offered, billing.figures.answered) == (2, 2)
    assert billing.figures.average_speed_of_answer == pytest.approx((4.5 + 25) / 2)


def test_first_contact_resolution_sees_a_return_on_another_channel() -> None:
    rows = run()
    whole = rows[(D0, None)]
    # Closed inbound contacts of the day: t1 (dan), c1 (ann), c2 (ben), o1 (olga). ann e-mailed
    # the next day: c1 was not resolved at first contact.
    assert (whole.fcr_contacts, whole.fcr_resolved) == (4, 3)
    assert whole.first_contact_resolution == pytest.approx(3 / 4)
    # With N = 0 days, the e-mail a day later is no longer a repeat.
    assert run(fcr_days=0)[(D0, None)].fcr_resolved == 4


def test_a_contact_whose_window_is_still_open_is_pending_not_resolved() -> None:
    rows = run(now=T0 + 3 * DAY)
    whole = rows[(D0, None)]
    # c1 is known to be repeated; t1, c2, o1 may still come back: pending, in neither count.
    assert (whole.fcr_contacts, whole.fcr_resolved, whole.fcr_pending) == (1, 0, 3)
    assert whole.first_contact_resolution == 0.0


def test_csat_counts_ratings_per_agent_of_the_answer_time() -> None:
    rows = run(group=ReportGroup.AGENT)
    assert (rows[(D0, "bob")].csat_count, rows[(D0, "bob")].csat_average) == (1, 4.0)
    assert (rows[(D0, "alice")].csat_count, rows[(D0, "alice")].csat_average) == (1, 2.0)
    whole = run()[(D0, None)]
    assert (whole.csat_count, whole.csat_average) == (2, 3.0)


def test_a_rating_out_of_range_is_not_counted() -> None:
    logs, contacts = day()
    for n, (iid, rating) in enumerate((("c2", 9), ("c3", "5"))):  # out of range; not a number
        at = 100 + 100 * n
        answered = Log(iid).queued(at).accepted(at + 1, "bob").closed(at + 50, "bob")
        logs[iid] = survey(answered, at + 60, rating, "bob").entries
    rows = {(r.figures.bucket, r.figures.group): r for r in report(
        logs, contacts, start=T0, end=T0 + DAY, by=Bucket.DAY, now=T0 + 30 * DAY, targets=target,
        short_abandon=5.0, fcr_days=7, teams=TEAMS)}
    assert rows[(D0, None)].csat_count == 2


def test_teams_group_by_the_answering_agent_and_the_queue_of_unanswered_work() -> None:
    rows = run(group=ReportGroup.TEAM)
    front, back = rows[(D0, "front")].figures, rows[(D0, "back")].figures
    # front: both parts of t1 (alice, then bob in billing), c1, c2 answered; c3 short and c4
    # abandoned nobody took them, in support, front's queue.
    assert (front.offered, front.answered, front.abandoned, front.short_abandoned) == (5, 4, 1, 1)
    # back: only o1, carol's.
    assert (back.offered, back.answered) == (1, 1)
    assert rows[(D0 + DAY, "front")].figures.answered == 1  # e1, bob


def test_the_selection_narrows_every_figure() -> None:
    rows = run(selection=Selection(teams=frozenset({"back"})))
    whole = rows[(D0, None)]
    assert (whole.figures.offered, whole.fcr_contacts, whole.csat_count) == (1, 1, 0)
    rows = run(selection=Selection(channels=frozenset({"email"})))
    assert set(rows) == {(D0 + DAY, None)}


def test_by_hour_puts_each_figure_in_its_hour() -> None:
    rows = run(by=Bucket.HOUR)
    assert set(rows) == {(T0, None), (T0 + DAY, None)}
    assert rows[(T0, None)].csat_count == 2  # both surveys answered within the first hour


def test_trends_rank_reasons_week_over_week() -> None:
    logs, contacts = day()
    logs["c2"] = tagged(Log("c2").queued(100).accepted(101, "bob"), 102, "campaign:spring-sale").entries
    later = [contact("w1", "zed", 7 * DAY + 5, disposition="resolved"),
             contact("w2", "yan", 7 * DAY + 6, reason="invoice"),
             contact("w3", "xi", 7 * DAY + 7, reason="invoice", disposition="billing-question")]
    found = trends(logs, contacts + later, start=T0, end=T0 + 14 * DAY, top=3)
    week0 = T0 - (T0 - 4 * DAY) % (7 * DAY)
    assert found.weeks == [week0, week0 + 7 * DAY, week0 + 14 * DAY]  # T0 is a Friday
    by_reason = {t.reason: t for t in found.rows}
    assert list(by_reason)[:1] == ["disposition:resolved"]  # 4 in all: the top
    assert sum(by_reason["ivr:invoice"].counts) == 3
    assert len(found.rows) == 3  # top 3 only
    full = {t.reason: t for t in trends(logs, contacts + later, start=T0, end=T0 + 14 * DAY, top=10).rows}
    assert sum(full["campaign:spring-sale"].counts) == 1


def test_trends_change_is_the_last_week_minus_the_one_before() -> None:
    contacts = [contact("a", "p", 0, disposition="refund"), contact("b", "q", 7 * DAY, disposition="refund"),
                contact("c", "r", 7 * DAY + 1, disposition="refund")]
    found = trends({}, contacts, start=T0, end=T0 + 8 * DAY, top=5)
    (row,) = found.rows
    assert row.counts[-2:] == (1, 2) and row.change == 1


def test_a_journey_lists_every_channel_with_its_outcome() -> None:
    logs, contacts = day()
    ann = [c for c in contacts if c.customer_id == "ann"]
    steps = journey(ann, logs, fcr_days=7, now=T0 + 30 * DAY)
    assert [(s.interaction_id, s.channel, s.outcome) for s in steps] == \
        [("c1", "chat", "closed"), ("e1", "email", "closed")]
    first, second = steps
    assert first.first_contact_resolved is False and first.repeated_by == "e1"
    assert second.first_contact_resolved is True
    assert first.agents == ("alice",) and first.csat == 2 and first.wait == 10.0
    assert first.handle_time == pytest.approx(80 + 15 + 10 - 5)


def test_a_journey_shows_transfers_and_abandons() -> None:
    logs, contacts = day()
    cid = journey([c for c in contacts if c.customer_id == "cid"], logs, fcr_days=7, now=T0 + DAY)
    assert [s.outcome for s in cid] == ["abandoned", "abandoned"]
    assert cid[0].first_contact_resolved is None  # never answered: not a resolution either way
    (dan,) = journey([c for c in contacts if c.customer_id == "dan"], logs, fcr_days=7, now=T0 + DAY)
    assert dan.agents == ("alice", "bob") and dan.queues == ("support", "billing") and dan.transfers == 1
    assert dan.wait == pytest.approx(2.5 + 4.5)


def test_every_figure_of_a_report_row_has_its_formula_in_the_docs() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "reports.md").read_text(encoding="utf-8")
    missing = [c for c in COLUMNS if c not in ("bucket", "group") and f"`{c}`" not in docs]
    assert missing == []
