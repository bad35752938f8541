"""A burst of 1,000 events at the supervisor board, measured in the page: shared by the test
(tests/frontend/test_board_burst.py, which checks the batching) and the benchmark
(``python -m bench board_burst``, which prints the timings). A team of 60 agents is on the board.

The events are published on the in-process server's hub in one go, so they reach the board's
real socket back to back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cti.events import AgentStateChanged, DomainEvent, InteractionAccepted, InteractionQueued
from tests.adapters.center import AGENTS, Center

BURST = 1000
TEAM = [{"id": f"agent{n:02d}", "name": f"Agent {n:02d}", "team": "support", "password": f"agent{n:02d}",
         "skills": {"english": 5}, "capacity": {"chat": 3, "voice": 1}} for n in range(57)]
STATES = ["available", "away", "busy", "offline"]
# The center's options for a burst: the board's socket queue holds the whole burst (this
# measures drawing, not the lag path).
CENTER: dict[str, Any] = {"offer_timeout": 20, "agents": [*AGENTS, *TEAM],
                          "traffic": {"socket_queue_size": 2 * BURST}}

# Installed before the page's own code: long tasks, long animation frames (the browser's own
# account of a frame over 50 ms: how long its scripts ran, of which forced style and layout, and
# how long its rendering took; the rest is the wait for the thread, between short tasks or for the
# CPU), and the longest gap between two frames while ``__frames.watch`` is on.
WATCH = """
window.__frames = {watch: false, maxGap: 0, long: [], loaf: []};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (window.__frames.watch) window.__frames.long.push(entry.duration);
}).observe({type: 'longtask', buffered: true});
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (!window.__frames.watch) continue;
    const scripts = e.scripts.map((s) => ({what: `${s.invoker} ${s.sourceFunctionName || ''}`.trim(),
                                           duration: s.duration, layout: s.forcedStyleAndLayoutDuration}));
    window.__frames.loaf.push({duration: e.duration, render: e.startTime + e.duration - e.renderStart,
      script: scripts.reduce((sum, s) => sum + s.duration, 0),
      layout: scripts.reduce((sum, s) => sum + s.layout, 0), scripts});
  }
}).observe({type: 'long-animation-frame', buffered: true});
let last = performance.now();
const tick = (now) => {
  if (window.__frames.watch) window.__frames.maxGap = Math.max(window.__frames.maxGap, now - last);
  last = now;
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


@dataclass(frozen=True, slots=True)
class LongFrame:
    """A long animation frame as the browser accounted for it, in ms."""

    duration: float
    script: float  # the scripts it ran (those over 5 ms: the browser lists no shorter one)
    layout: float  # of which forced style and layout
    render: float  # its rendering: animation frame callbacks, style, layout, paint
    scripts: list[str]  # what ran them: "<invoker> <function>", longest first

    @property
    def waiting(self) -> float:
        """Neither listed script nor rendering: short tasks, or the thread waiting for the CPU."""
        return max(0.0, self.duration - self.script - self.render)

    @classmethod
    def from_page(cls, entry: dict[str, Any]) -> LongFrame:
        scripts = sorted(entry["scripts"], key=lambda s: -float(s["duration"]))
        return cls(duration=entry["duration"], script=entry["script"], layout=entry["layout"],
                   render=entry["render"], scripts=[str(s["what"]) for s in scripts])

    def __str__(self) -> str:
        return (f"{self.duration:.0f} ms: script {self.script:.0f} (forced layout {self.layout:.0f}), "
                f"render {self.render:.0f}, waiting {self.waiting:.0f}: {', '.join(self.scripts) or '-'}")


@dataclass(frozen=True, slots=True)
class BurstFigures:
    elapsed: float  # ms from the first event published to the last one drawn (and a second more)
    longest_frame: float  # ms, the longest gap between two frames
    long_tasks: list[float]  # ms, each task over 50 ms
    draws: list[float]  # ms, each redraw of the board
    agent_requests: int  # agent-detail requests the burst caused
    long_frames: list[LongFrame]  # each animation frame over 50 ms


def burst(round_: int = 0) -> list[DomainEvent]:
    """State changes, work events and queue events about the team, ending with a marker."""
    now = time.time()
    events: list[DomainEvent] = []
    for n in range(BURST - 1):
        agent = str(TEAM[n % len(TEAM)]["id"])
        iid = f"int-burst-{round_}-{n}"
        if n % 3 == 0:
            state = STATES[n % 4]
            events.append(AgentStateChanged(at=now, agent_id=agent, state=state,
                                            reason="break" if state == "away" else None))
        elif n % 3 == 1:
            events.append(InteractionAccepted(at=now, interaction_id=iid, agent_id=agent,
                                              interaction={"id": iid, "queue": "support"}))
        else:
            events.append(InteractionQueued(at=now, interaction={"id": iid, "channel": "chat",
                                                                 "queue": "support"}))
    # Bob's end state differs each round, so each round's end is seen.
    events.append(AgentStateChanged(at=now, agent_id="bob", state=("busy", "away")[round_ % 2],
                                    by=f"burst-end-{round_}"))
    return events


async def open_board(browser: Any, url: str) -> Any:
    """Sam's board at 1366x850, with the frame watch installed, every agent drawn."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1366, "height": 850})
    await context.add_init_script(WATCH)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto(f"{url}/supervisor")
    await page.fill("#login-agent", "sam")
    await page.fill("#login-password", "sam")
    await page.click("#login-submit")
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
    await expect(page.locator("[data-testid=agent-row]")).to_have_count(len(AGENTS) + len(TEAM))
    return page


async def measure(c: Center, page: Any, round_: int = 0) -> BurstFigures:
    """Publish one burst and read what the page measured while it was drawn."""
    asked: list[str] = []

    def on_request(r: Any) -> None:
        if "/api/agents" in r.url:
            asked.append(r.url)

    page.on("request", on_request)
    await page.evaluate("window.__frames.maxGap = 0, window.__frames.long = [], window.__frames.loaf = []")
    started = await page.evaluate("window.__frames.watch = true, performance.now()")
    for event in burst(round_):
        await c.services.hub.publish(event)
    # Waited for with a small function in the page: Playwright's expect() builds an accessibility
    # snapshot of the page while it waits, long tasks of its own that would be counted.
    end, state = f"burst-end-{round_}", ("busy", "away")[round_ % 2]
    await page.wait_for_function(
        f"""() => (document.querySelector('[data-testid=event]') || {{}}).textContent?.includes('{end}')
              && document.querySelector('[data-agent=bob] [data-testid=agent-state]')
                   .dataset.state === '{state}'""",
        polling=250)
    await page.wait_for_timeout(1000)  # the detail requests the burst caused come back
    frames = await page.evaluate("window.__frames.watch = false, window.__frames")
    draws = await page.evaluate(f"""performance.getEntriesByName('board.draw')
        .filter((e) => e.startTime >= {started}).map((e) => e.duration)""")
    elapsed = await page.evaluate("performance.now()") - started
    page.remove_listener("request", on_request)
    return BurstFigures(elapsed=elapsed, longest_frame=frames["maxGap"], long_tasks=list(frames["long"]),
                        draws=list(draws), agent_requests=len(asked),
                        long_frames=[LongFrame.from_page(entry) for entry in frames["loaf"]])
