"""The chat widget in Chromium under "script-src 'self'": it works, keeps its session secret, and
a browser that only knows the visitor id gets an empty chat, not the transcript."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest

from cti.domain import Identity, IdentityKind
from tests.adapters.center import running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.peers import SmtpSink, free_port
from tests.conftest import CHROMIUM_ARGS
from tests.security.chat_support import take_offer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# What the server's own header will say; set here so the page is tested with it whatever serves it.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'")
SITE_SECRET = "shop-widget-secret-0123456789abcdefghijklmnop"
SITES = {"identity": {"sites": {"shop": {"secret": SITE_SECRET}}}}


async def launch(pw: Any, chromium: str) -> Any:
    # A page whose response the test fulfils has no address, so Chromium's local network access
    # check takes it for a public site and blocks its socket to loopback: that check is off here.
    return await pw.chromium.launch(executable_path=chromium,
                                    args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"])


async def widget_context(browser: Any, *, storage: dict[str, str] | None = None) -> Any:
    """One visitor's browser; every /chat page gets the CSP header and reports its violations."""
    context = await browser.new_context()

    async def with_csp(route: Any) -> None:
        response = await route.fetch()
        await route.fulfill(response=response,
                            headers={**response.headers, "content-security-policy": CSP})

    await context.route("**/chat", with_csp)
    await context.route("**/chat#*", with_csp)
    await context.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        + "".join(f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)});"
                  for k, v in (storage or {}).items()))
    return context


async def new_page(context: Any) -> Any:
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return page


async def test_the_widget_runs_under_csp_and_resumes_only_with_its_secret(tmp_path: Path,
                                                                           chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    grace = {"queue": "support", "reconnect_grace": 60}
    async with running_center(tmp_path, {}, chat=grace) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        alice = await center.agent_socket("alice")
        context = await widget_context(browser)
        page = await new_page(context)
        await page.goto(f"{center.url}/chat")
        await page.fill("#chat-name", "Cleo Csp")
        await page.click("#chat-start")
        await page.fill("#chat-input", "Does this work with a strict policy?")
        await page.click("#chat-send")
        await expect(page.locator("[data-testid=chat-message][data-sender=customer]")).to_have_count(1)
        offer = await take_offer(alice)
        ack = await alice.command({"type": "reply", "interaction_id": offer["interaction_id"],
                                   "body": "It does."})
        assert ack["type"] == "ack", ack
        agent_said = page.locator("[data-testid=chat-message][data-sender=agent]")
        await expect(agent_said).to_contain_text("It does.")

        stored = await page.evaluate("({...localStorage})")
        assert stored["cti.chat.visitor_id"] and len(stored["cti.chat.session_secret"]) >= 43

        # A reload continues the conversation: the browser presents its secret.
        await page.reload()
        await expect(page.locator("#chat-status")).to_contain_text("Welcome back")
        await expect(page.locator("[data-testid=chat-message]")).to_have_count(2)
        assert await page.evaluate("window.__csp") == []

        # Another browser with the visitor id (as an agent could read it) but no or a wrong secret:
        # the form for a new chat, never the transcript.
        for secret in (None, "a" * 43):
            storage = {"cti.chat.visitor_id": stored["cti.chat.visitor_id"]}
            if secret:
                storage["cti.chat.session_secret"] = secret
            thief = await new_page(await widget_context(browser, storage=storage))
            await thief.goto(f"{center.url}/chat")
            await expect(thief.locator("#chat-name")).to_be_visible()
            await expect(thief.locator("[data-testid=chat-message]")).to_have_count(0)
            await thief.context.close()
        await alice.close()
        await browser.close()


async def test_a_site_signed_visitor_and_a_forged_one(tmp_path: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    good = hmac.new(SITE_SECRET.encode(), b"u-77", hashlib.sha256).hexdigest()
    async with running_center(tmp_path, {}, **SITES) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        alice = await center.agent_socket("alice")

        page = await new_page(await widget_context(browser))
        await page.goto(f"{center.url}/chat#site=shop&identifier=u-77&identifier_hash={good}")
        assert "identifier" not in page.url  # taken out of the address once read
        await page.fill("#chat-name", "Sita Signed")
        await page.click("#chat-start")
        await page.fill("#chat-input", "signed in on the shop")
        await page.click("#chat-send")
        offer = await take_offer(alice)
        kinds = {(i["kind"], i["value"]) for i in offer["screen_pop"]["customer"]["identities"]}
        assert ("site", "shop:u-77") in kinds

        forged = await new_page(await widget_context(browser))
        await forged.goto(f"{center.url}/chat#site=shop&identifier=u-78&identifier_hash={good}")
        await forged.fill("#chat-name", "Fred Forged")
        await forged.click("#chat-start")
        error = forged.locator("[data-testid=chat-error]")
        await expect(error).to_have_attribute("data-error-id", "bad-identity-signature")
        await expect(forged.locator("#chat-pane")).to_be_hidden()
        assert await page.evaluate("window.__csp") == [] and await forged.evaluate("window.__csp") == []
        await alice.close()
        await browser.close()


async def test_the_visitor_verifies_the_typed_address_in_the_widget(tmp_path: Path,
                                                                    chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    sink = SmtpSink()
    await sink.start()
    channels = email_channel(tmp_path, smtp_port=free_port(), relay_port=sink.port, acknowledge=False)
    try:
        async with running_center(tmp_path, channels) as center, async_playwright() as pw:
            known = await center.services.context.resolve_customer(
                [Identity(IdentityKind.EMAIL, "vera@example.org")], display_name="Vera", actor="test",
                reason="seed")
            browser = await launch(pw, chromium)
            alice = await center.agent_socket("alice")
            page = await new_page(await widget_context(browser))
            await page.goto(f"{center.url}/chat")
            await page.fill("#chat-name", "Vera")
            await page.fill("#chat-email", "vera@example.org")
            await page.click("#chat-start")
            await expect(page.locator("#chat-verify")).to_be_hidden()  # no conversation yet
            await page.fill("#chat-input", "my last order?")
            await page.click("#chat-send")
            offer = await take_offer(alice)
            assert offer["screen_pop"]["customer"]["id"] != known.id

            await page.get_by_role("button", name="Verify my e-mail").click()
            code_box = page.get_by_label("Code we sent to your e-mail")
            await expect(code_box).to_be_focused()
            [sent] = await sink.wait_for(1)
            body = sent.message.get_body(preferencelist=("plain",))
            assert body is not None
            found = re.search(r"\b(\d{6})\b", str(body.get_content()))
            assert found
            await code_box.fill("000000" if found.group(1) != "000000" else "111111")
            await page.get_by_role("button", name="Confirm").click()
            await expect(page.locator("[data-testid=chat-error]")).to_have_attribute("data-error-id",
                                                                                     "code-wrong")
            await code_box.fill(found.group(1))
            await page.get_by_role("button", name="Confirm").click()
            await expect(page.locator("#chat-verified")).to_have_text("Thank you: your e-mail is verified.")
            await expect(page.locator("#chat-verify-email")).to_be_hidden()
            interaction_id = offer["interaction_id"]
            status, now = await center.api("alice", "GET", f"/api/interactions/{interaction_id}")
            assert status == 200
            status, customer = await center.api("sam", "GET", f"/api/customers/{now['customer_id']}")
            assert status == 200 and customer["id"] == known.id, customer
            assert await page.evaluate("window.__csp") == []
            await alice.close()
            await browser.close()
    finally:
        await sink.aclose()
