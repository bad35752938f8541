"""The reports page in Chromium against the real server process: a supervisor logs in, sees the
week's figures with a chart, the trends, and a customer's journey across chat and voice; the page
runs under the strict Content-Security-Policy (no error in the console) and saves a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.clock import SystemClock, UuidIds
from cti.domain import Channel, Direction, Identity, IdentityKind, Interaction, InteractionState
from cti.eventlog import EntryKind, LogEntry
from tests.browser import launch
from tests.server_process import run_server_async

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAY = 86_400.0


async def seed(db_url: str) -> str:
    """Ann chatted three days ago (tagged for a campaign) and called back the next day: her chat
    was not resolved at first contact. Ben's chat was abandoned after 40 s."""
    await upgrade_async(db_url)
    store = SqlContextStore(url=db_url, clock=SystemClock(), ids=UuidIds())
    await store.start()
    try:
        now = SystemClock().now()
        ann = await store.resolve_customer([Identity(IdentityKind.EMAIL, "ann@example.com")],
                                           display_name="Ann Lee", actor="test", reason="seed")
        ben = await store.resolve_customer([Identity(IdentityKind.EMAIL, "ben@example.com")],
                                           display_name="Ben Ode", actor="test", reason="seed")

        async def contact(iid: str, customer: str, channel: Channel, at: float, steps: list[tuple[Any, ...]],
                          disposition: str | None) -> None:
            agent = next((s[2] for s in steps if s[0] is EntryKind.CLOSED), None)
            await store.save_interaction(Interaction(
                id=iid, channel=channel, direction=Direction.INBOUND, customer_id=customer, queue="support",
                state=InteractionState.CLOSED, arrived_at=at, ended_at=at + steps[-1][1], agent_id=agent,
                disposition=disposition))
            await store.event_log.record([
                LogEntry(interaction_id=iid, kind=kind, at=at + offset, channel=channel.value,
                         queue="support", agent_id=who, details=details, key=f"seed.{n}")
                for n, (kind, offset, who, details) in enumerate(steps)])

        await contact("chat-1", ann.id, Channel.CHAT, now - 3 * DAY, [
            (EntryKind.QUEUED, 0, None, {"why": "arrival"}),
            (EntryKind.TAGGED, 1, None, {"tag": "campaign:spring"}),
            (EntryKind.ACCEPTED, 12, "alice", {}), (EntryKind.WRAP_UP, 300, "alice", {}),
            (EntryKind.CLOSED, 330, "alice", {})], "refund")
        await contact("call-1", ann.id, Channel.VOICE, now - 2 * DAY, [
            (EntryKind.QUEUED, 0, None, {"why": "arrival"}), (EntryKind.ACCEPTED, 8, "bob", {}),
            (EntryKind.HELD, 60, "bob", {}), (EntryKind.RESUMED, 90, "bob", {}),
            (EntryKind.WRAP_UP, 200, "bob", {}), (EntryKind.CLOSED, 220, "bob", {}),
            (EntryKind.SURVEY_ANSWERED, 300, None, {"rating": 4, "comment": None, "agent": "bob"})], "refund")
        await contact("chat-2", ben.id, Channel.CHAT, now - 1 * DAY, [
            (EntryKind.QUEUED, 0, None, {"why": "arrival"}), (EntryKind.ABANDONED, 40, None, {})], None)
        return ann.id
    finally:
        await store.aclose()


async def test_a_supervisor_reads_the_reports_page(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    ann = await seed(db_url)
    async with run_server_async(tmp_path, db_url=db_url) as srv, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await (await browser.new_context(viewport={"width": 1400, "height": 1800})).new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        # An agent is turned away; the supervisor gets in.
        await page.goto(f"{srv.url}/reports")
        for who in ("alice", "sam"):
            await page.fill("#login-agent", who)
            await page.fill("#login-password", who)
            await page.click("#login-submit")
            if who == "alice":
                await expect(page.locator("#login-error")).to_contain_text("supervisors and admins")
        await expect(page.locator("[data-testid=who]")).to_have_text("Sam Okafor")

        # The last seven days by day, all together: one contact a day (the abandon after 40 s too).
        rows = page.locator("[data-testid=figures-row]")
        await expect(rows).to_have_count(3)
        for n in range(3):
            await expect(rows.nth(n).locator("td").nth(2)).to_have_text("1")  # offered
        await page.select_option("#f-group", "channel")
        await page.click("#f-show")
        chat_rows = page.locator("[data-testid=figures-row][data-group=chat]")
        await expect(chat_rows).to_have_count(2)
        voice = page.locator("[data-testid=figures-row][data-group=voice]")
        await expect(voice.locator("[data-testid=csat]")).to_have_text("4.00 (1)")
        await expect(voice.locator("td").nth(10)).to_have_text("1")  # one hold
        # Ann's chat was followed by her call the next day: not resolved at first contact.
        await expect(chat_rows.first.locator("[data-testid=fcr]")).to_have_text("0.0 % of 1")
        chart = page.locator("[data-testid=figures-chart]")
        await expect(chart).to_have_attribute("data-series", "2")
        await expect(chart.locator("canvas")).to_have_count(1)

        # The same rows as a CSV file, fetched with the session's token.
        async with page.expect_download() as download_info:
            await page.click("#f-csv")
        download = await download_info.value
        saved = tmp_path / "report.csv"
        await download.save_as(saved)
        header, *lines = saved.read_text(encoding="utf-8").splitlines()
        assert header.startswith("bucket_start,bucket,group,offered,") and len(lines) == 3

        # Trends: the refund disposition twice, the campaign tag once.
        await expect(page.locator("[data-testid=trend]").first).to_have_attribute("data-reason",
                                                                                  "disposition:refund")
        await expect(page.locator("[data-testid=trend][data-reason='campaign:spring']")).to_have_count(1)
        await expect(page.locator("[data-testid=trends-chart] canvas")).to_have_count(1)

        # The journey: chat, then voice, with their outcomes.
        await page.fill("#j-customer", ann)
        await page.click("#j-show")
        steps = page.locator("[data-testid=journey-step]")
        await expect(steps).to_have_count(2)
        await expect(steps.nth(0)).to_have_attribute("data-channel", "chat")
        await expect(steps.nth(0).locator("[data-testid=fcr]")).to_have_text("no (came back: call-1)")
        await expect(steps.nth(1)).to_have_attribute("data-channel", "voice")
        # The call's seven days are not over, and Ann has not come back: not known yet.
        await expect(steps.nth(1).locator("[data-testid=fcr]")).to_have_text("\u2013")
        await expect(steps.nth(1)).to_have_attribute("data-outcome", "closed")
        await expect(page.locator("[data-testid=formulas]")).to_contain_text("first-contact")

        # A hostile range is refused with its reason on the page.
        await page.select_option("#f-by", "hour")
        await page.fill("#f-from", "2020-01-01T00:00")
        await page.click("#f-show")
        refused = page.locator("[data-testid=error]").first
        await expect(refused).to_have_attribute("data-error-id", "bad-query")

        await page.screenshot(path=str(tmp_path / "reports.png"), full_page=True)
        assert (tmp_path / "reports.png").stat().st_size > 10_000
        # The 400 of the hostile range is logged by the browser; nothing was refused by the policy.
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
        assert not [p for p in problems if "400" not in p and "403" not in p and "401" not in p], problems
        await browser.close()
