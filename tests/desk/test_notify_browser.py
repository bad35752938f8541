"""A new offer tells an agent who is looking elsewhere: a browser notification naming the
customer (when the tab is hidden and notifications are allowed), a tone, and the tab's title.

Headless Chromium shows no notification and plays no sound, so the page's own ``Notification``
and ``AudioContext`` are watched (an init script records what the desk asked of them); what is
asserted is what the agent would have seen and heard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import go_available, launch, log_in, screenshot
from tests.desk.support import desk_center
from tests.security.chat_support import visitor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The tab is in the background, notifications were allowed, and every notification and every
# tone started is written down in window.__seen.
WATCH = """
window.__seen = {notes: [], tones: 0};
class WatchedNotification {
  static permission = 'granted';
  static requestPermission() { return Promise.resolve('granted'); }
  constructor(title, options) { window.__seen.notes.push({title, body: (options || {}).body}); }
  close() {}
}
window.Notification = WatchedNotification;
Object.defineProperty(document, 'hidden', {get: () => true});
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__seen.tones += 1;
  return start.apply(this, args);
};
"""


async def test_a_new_offer_notifies_a_hidden_tab_with_a_tone_and_the_title(tmp_path: Path,
                                                                          chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with desk_center(tmp_path, routing={"offer_timeout": 60}) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await log_in(browser, center.url, "alice")
        await page.context.add_init_script(WATCH)
        await page.reload()
        await go_available(page)
        sock, _ = await visitor(center, name="Nora Notify")
        await sock.send({"type": "message", "body": "hello?"})
        await expect(page.locator("[data-testid=offer]", has_text="Nora Notify")).to_be_visible()
        await expect(page).to_have_title("(1) New offer \u2013 Agent desktop")
        seen: dict[str, Any] = await page.evaluate("window.__seen")
        assert seen["notes"] == [{"title": "New offer", "body": "Nora Notify"}]
        assert seen["tones"] == 1
        await screenshot(page, tmp_path, "offer-notified")
        await browser.close()
        await sock.close()
