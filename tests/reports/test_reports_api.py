"""The reports through the real services and HTTP app on SQLite and PostgreSQL: a generated day of
traffic gives, hour by hour, exactly the figures the live board computed at that hour's end; first
contact resolution across channels, CSAT, trends and a journey as worked out by hand; CSV; scope;
hostile queries refused.
"""

from __future__ import annotations

import csv
import io
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from cti.domain import Channel
from cti.eventlog import EntryKind, LogEntry
from cti.events import CallUpdated
from cti.reporting import queue_targets
from cti.wallboard import ServiceLevelBoard
from desktop_api.auth import issue_token
from tests.eventlog.test_day import SECRET, T0, Day, traffic

HOUR = 3600.0
DAYS = 86_400.0
FIGURE_KEYS = ("offered", "answered", "abandoned", "short_abandoned", "answered_in_target",
               "abandoned_in_target", "service_level", "average_speed_of_answer", "handled", "talk", "hold",
               "wrap_up", "average_handle_time", "transfers", "holds")


async def fetch(day: Day, who: str, path: str) -> tuple[int, str, str]:
    """Status, content type and text (for the CSV answers)."""
    role = day.config.agents[who].role
    token = issue_token(secret=SECRET, agent_id=who, role=role, now=time.time(), ttl=3600)
    response = await day.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status, response.content_type, await response.text()


async def survey(day: Day, interaction_id: str, offset: float, rating: int, agent: str) -> None:
    interaction = await day.context.interaction(interaction_id)
    await day.context.event_log.record([LogEntry(
        interaction_id=interaction_id, kind=EntryKind.SURVEY_ANSWERED, at=T0 + offset,
        channel=interaction.channel.value, queue=interaction.queue, agent_id=None,
        details={"rating": rating, "comment": None, "agent": agent}, key=f"survey.{interaction_id}")])


async def tag(day: Day, interaction_id: str, offset: float, slug: str) -> None:
    interaction = await day.context.interaction(interaction_id)
    await day.context.event_log.record([LogEntry(
        interaction_id=interaction_id, kind=EntryKind.TAGGED, at=T0 + offset,
        channel=interaction.channel.value, queue=interaction.queue, details={"tag": f"campaign:{slug}"},
        key=f"tag.{interaction_id}.{slug}")])


@dataclass
class Generated:
    live: dict[int, Any] = field(default_factory=dict)  # hour -> the board's levels at its end
    ratings: dict[str, list[int]] = field(default_factory=dict)  # agent -> survey ratings


async def handled(day: Day, offset: float, iid: str, rng: random.Random, out: Generated) -> float:
    """Route, accept, maybe hold (voice) or transfer (chat), complete, maybe a survey; the time after."""
    s = day.interactions
    await day.route(offset + 1)
    agent = await day.offered_to(iid)
    t = offset + 1 + rng.randint(1, 40)  # some answers late for the voice target (20 s)
    day.at(t)
    await s.accept(iid, agent)
    interaction = await day.context.interaction(iid)
    if interaction.channel is Channel.VOICE and rng.random() < 0.5:
        for step, what in ((10, "held"), (10 + rng.randint(5, 60), "resumed")):
            day.at(t + step)
            await day.hub.publish(CallUpdated(at=day.clock.now(), interaction_id=iid, agent_id=agent,
                                              what=what))
        await day.recorder.drain()
        t += 80
    elif interaction.channel is Channel.CHAT and rng.random() < 0.3:
        day.at(t + 20)
        await s.transfer(iid, agent, to_queue="billing", to_agent=None, note=None)
        await day.route(t + 21)
        agent = await day.offered_to(iid)
        t += 21 + rng.randint(1, 30)
        day.at(t)
        await s.accept(iid, agent)
    t += rng.randint(30, 300)
    day.at(t)
    if interaction.channel is Channel.VOICE:
        await s.call_ended(iid, why="agent-ended")
        t += rng.randint(5, 30)
        day.at(t)
    await s.complete(iid, agent, disposition=rng.choice(["resolved", "refund", "callback"]), note=None)
    if rng.random() < 0.6:
        rating = rng.randint(1, 5)
        await survey(day, iid, t + 5, rating, agent)
        out.ratings.setdefault(agent, []).append(rating)
        t += 5
    return t


async def generated_day(day: Day) -> Generated:
    """24 hours, three or four contacts an hour on chat and voice from six customers: answered,
    held, transferred, missed, short and long abandons; every contact ends within its hour, and the
    board is asked at each hour's end, as a supervisor's screen would show it."""
    rng = random.Random(13)
    out = Generated()
    board = ServiceLevelBoard(log=day.context.event_log, hub=day.hub, targets=queue_targets(day.config))
    people = ["ann", "ben", "cid", "dee", "eve", "fay"]
    for hour in range(24):
        t = hour * HOUR + 1
        for _ in range(rng.randint(3, 4)):
            channel = rng.choice([Channel.CHAT, Channel.VOICE])
            iid = await day.arrive(t, rng.choice(people), channel)
            fate = rng.random()
            if fate < 0.12:  # left within the short-abandon threshold (5 s) or well after it
                day.at(t + rng.choice([3, 45]))
                await day.interactions.customer_left(iid)
                t += 60
            elif fate < 0.22:  # the first offer is missed (20 s), the second one taken
                await day.route(t + 1)
                missed = await day.offered_to(iid)
                await day.route(t + 22)  # the missed agent is set away: back to work
                await day.agents.set_state(missed, "available", reason=None, actor_id=missed)
                t = await handled(day, t + 22, iid, rng, out) + 10
            else:
                t = await handled(day, t, iid, rng, out) + 10
            assert t < (hour + 1) * HOUR - 60, "the hour's traffic must end within the hour"
        day.at((hour + 1) * HOUR - 0.5)
        out.live[hour] = await board.compute(T0 + hour * HOUR, day.clock.now())
    day.at(24 * HOUR + 60)
    return out


async def test_a_generated_day_reports_exactly_what_the_board_showed_live(day: Day) -> None:
    generated = await generated_day(day)
    checked = 0
    for hour, live in generated.live.items():
        start = T0 + hour * HOUR
        for channel in ("chat", "voice"):
            status, body = await day.get(
                "admin", f"/api/reports/figures?from={start}&to={start + HOUR}&group=queue&channel={channel}")
            assert status == 200, body
            report = {r["group"]: r for r in body["rows"] if r["offered"] or r["short_abandoned"]}
            shown = {q: levels[channel] for q, levels in live.items() if channel in levels}
            assert set(shown) == set(report), (hour, channel)
            for queue, level in shown.items():
                row = report[queue]
                assert (level["level"], level["average_answer"]) == \
                    (row["service_level"], row["average_speed_of_answer"])
                for key in ("answered", "answered_in_target", "abandoned", "abandoned_in_target"):
                    assert level[key] == row[key], (hour, channel, queue, key)
                checked += 1
    assert checked >= 30

    # The day in one row: the same as /api/figures, and the ratings as they were given.
    whole = f"from={T0}&to={T0 + DAYS}&by=week"  # Friday 08:00 to Saturday 08:00: one week
    status, report_body = await day.get("admin", f"/api/reports/figures?{whole}")
    status2, figures_body = await day.get("admin", f"/api/figures?{whole}")
    assert status == status2 == 200
    (row,), (figures_row,) = report_body["rows"], figures_body["rows"]
    assert {k: row[k] for k in FIGURE_KEYS} == {k: figures_row[k] for k in FIGURE_KEYS}
    assert row["transfers"] and row["holds"] and row["short_abandoned"] and row["abandoned"]
    every = [r for rs in generated.ratings.values() for r in rs]
    assert (row["csat_count"], row["csat_average"]) == (len(every), pytest.approx(sum(every) / len(every)))
    status, body = await day.get("admin", f"/api/reports/figures?{whole}&group=agent")
    per_agent = {r["group"]: r for r in body["rows"]}
    for agent, ratings in generated.ratings.items():
        assert per_agent[agent]["csat_count"] == len(ratings)


async def test_first_contact_resolution_across_channels_trends_and_a_journey(day: Day) -> None:
    s = day.interactions
    chat = await day.arrive(0, "ann", Channel.CHAT)
    await day.route(1)
    day.at(5)
    await s.accept(chat, await day.offered_to(chat))
    day.at(60)
    await s.complete(chat, (await day.context.interaction(chat)).agent_id or "", disposition="refund",
                     note=None)
    await tag(day, chat, 2, "spring-sale")
    # Ann calls two days later about the same thing: the chat was not resolved at first contact.
    call = await day.arrive(2 * DAYS, "ann", Channel.VOICE, **{"ivr.reason": "refund-status"})
    await day.route(2 * DAYS + 1)
    agent = await day.offered_to(call)
    day.at(2 * DAYS + 4)
    await s.accept(call, agent)
    day.at(2 * DAYS + 100)
    await s.call_ended(call, why="agent-ended")
    await s.complete(call, agent, disposition="refund", note=None)
    await survey(day, call, 2 * DAYS + 110, 5, agent)
    # Ben chats once and never comes back.
    ben = await day.arrive(3600, "ben", Channel.CHAT)
    await day.route(3601)
    day.at(3603)
    await s.accept(ben, await day.offered_to(ben))
    day.at(3700)
    await s.complete(ben, (await day.context.interaction(ben)).agent_id or "", disposition="resolved",
                     note=None)
    day.at(30 * DAYS)

    status, body = await day.get("admin", f"/api/reports/figures?from={T0}&to={T0 + DAYS}&by=day")
    assert status == 200, body
    (row,) = body["rows"]
    assert (row["fcr_contacts"], row["fcr_resolved"], row["first_contact_resolution"]) == (2, 1, 0.5)
    status, body = await day.get("admin", f"/api/reports/figures?from={T0}&to={T0 + DAYS}&by=day&fcr_days=1")
    assert body["rows"][0]["fcr_resolved"] == 2  # two days later is outside a 1-day window

    status, body = await day.get("admin", f"/api/reports/trends?from={T0}&to={T0 + 7 * DAYS}")
    assert status == 200, body
    totals = {t["reason"]: t["total"] for t in body["rows"]}
    assert totals == {"disposition:refund": 2, "disposition:resolved": 1, "ivr:refund-status": 1,
                      "campaign:spring-sale": 1}
    assert body["rows"][0]["reason"] == "disposition:refund"

    customer = (await day.context.interaction(chat)).customer_id
    status, body = await day.get("admin", f"/api/reports/journey/{customer}")
    assert status == 200, body
    steps = body["steps"]
    assert [(st["channel"], st["outcome"], st["first_contact_resolved"]) for st in steps] == \
        [("chat", "closed", False), ("voice", "closed", True)]
    assert steps[0]["repeated_by"] == call and steps[1]["csat"] == 5
    assert steps[0]["reasons"] == ["campaign:spring-sale", "disposition:refund"]
    assert steps[1]["reasons"] == ["disposition:refund", "ivr:refund-status"]


async def test_reports_come_as_csv_too(day: Day) -> None:
    await traffic(day)
    query = f"from={T0}&to={T0 + 7200}&group=queue&format=csv"
    status, kind, text = await fetch(day, "admin", f"/api/reports/figures?{query}")
    assert (status, kind) == (200, "text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    support = next(r for r in rows if r["group"] == "support" and r["bucket_start"] == "2027-01-15T08:00:00Z")
    assert (support["offered"], support["answered"], support["abandoned"]) == ("3", "2", "1")
    status, kind, text = await fetch(day, "admin", f"/api/reports/trends?from={T0}&to={T0 + 7200}&format=csv")
    assert (status, kind) == (200, "text/csv")
    header, *lines = list(csv.reader(io.StringIO(text)))
    assert header[0] == "reason" and header[-1] == "change" and ["disposition:resolved", "3", "3"] in lines


async def test_a_reason_that_looks_like_a_formula_is_not_one_in_csv(day: Day) -> None:
    iid = await day.arrive(0, "mal", Channel.CHAT)
    interaction = await day.context.interaction(iid)
    await day.context.event_log.record([LogEntry(
        interaction_id=iid, kind=EntryKind.TAGGED, at=T0 + 1, channel="chat", queue=interaction.queue,
        details={"tag": "=1+2"}, key="tag.evil")])
    status, _, text = await fetch(day, "admin", f"/api/reports/trends?from={T0}&to={T0 + 60}&format=csv")
    assert status == 200
    assert [row[0] for row in csv.reader(io.StringIO(text))][1:] == ["'=1+2"]


async def test_agents_are_refused_and_supervisors_see_their_teams(day: Day) -> None:
    ids = await traffic(day)
    rng = f"from={T0}&to={T0 + DAYS}"
    customer = (await day.context.interaction(ids["missed"])).customer_id
    for path in (f"/api/reports/figures?{rng}", f"/api/reports/trends?{rng}",
                 f"/api/reports/journey/{customer}"):
        status, body = await day.get("alice", path)
        assert status == 403, body
    status, body = await day.get("sam", f"/api/reports/figures?{rng}&group=queue")
    assert status == 200 and {r["group"] for r in body["rows"]} == {"support"}
    status, body = await day.get("sue", f"/api/reports/figures?{rng}&group=team")
    assert status == 200 and {r["group"] for r in body["rows"]} == {"billing"}
    for query, error in (("queue=billing", "not-your-queue"), ("agent=carol", "not-your-team"),
                         ("team=billing", "not-your-team")):
        status, body = await day.get("sam", f"/api/reports/figures?{rng}&{query}")
        assert (status, body["error_id"]) == (403, error)
    # Trends: sam sees the support contacts only; the transferred one ended in billing with carol.
    status, body = await day.get("sam", f"/api/reports/trends?{rng}")
    assert status == 200 and sum(t["total"] for t in body["rows"]) == 2  # missed and held: resolved
    # A customer sam cannot read (only ever in billing, with carol) is no customer at all.
    zoe = await day.arrive(9000, "zoe", queue="billing")
    await day.route(9001)
    day.at(9002)
    await day.interactions.accept(zoe, await day.offered_to(zoe))
    other = (await day.context.interaction(zoe)).customer_id
    status, body = await day.get("sam", f"/api/reports/journey/{other}")
    assert (status, body["error_id"]) == (404, "customer-not-found")
    assert (await day.get("sue", f"/api/reports/journey/{other}"))[0] == 200


@pytest.mark.parametrize("path", [
    "/api/reports/figures?from=1800000000&to=1810000000",  # over 93 days
    "/api/reports/figures?from=1800000000&to=1805000000&by=hour",  # 1389 hours > 1000 buckets
    "/api/reports/figures?from=1800000000&to=1800003600&group=floor",
    "/api/reports/figures?from=1800000000&to=1800003600&fcr_days=365",
    "/api/reports/figures?from=1800000000&to=1800003600&format=xlsx",
    "/api/reports/figures?from=1800000000&to=1800003600&team=%20",  # not an id
    "/api/reports/trends?from=1800000000&to=1800003600&top=5000",
    "/api/reports/trends?from=1800003600&to=1800000000",
    "/api/reports/trends?from=1800000000&to=1800003600&color=red",
    "/api/reports/journey/someone?limit=100000",
])
async def test_hostile_queries_are_refused_with_their_reason(day: Day, path: str) -> None:
    status, body = await day.get("admin", path)
    assert (status, body["error_id"]) == (400, "bad-query"), body
    assert body["details"]["problems"]


async def test_a_report_a_month_long_by_day_is_allowed(day: Day) -> None:
    await traffic(day)
    status, body = await day.get("admin", f"/api/reports/figures?from={T0}&to={T0 + 31 * DAYS}&by=day")
    assert status == 200 and body["rows"][0]["offered"] == 5
    assert math.isclose(body["rows"][0]["bucket"], T0 - T0 % DAYS)
