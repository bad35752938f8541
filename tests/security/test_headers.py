"""Security headers on every page and API answer; the pages run under the policy unchanged.

The policy forbids inline script, framing (except the chat page, for the sites configured in
``traffic.chat_frame_ancestors``), MIME sniffing and referrers. Chromium loads the agent desktop,
the supervisor board and the chat widget, logs in and connects their sockets, and must report no
policy violation.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.browser import launch
from tests.server_process import FIXTURES, RunningServer, run_server
from tests.waiting import until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMBEDDER = "https://shop.example.com"
STRICT = {
    "default-src": "'self'", "script-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
    "frame-ancestors": "'none'", "connect-src": "'self'",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("srv")
    config = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    config["traffic"] = {**(config.get("traffic") or {}), "chat_frame_ancestors": [EMBEDDER]}
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with run_server(tmp, config=path) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def policy(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value.strip()
    return out


async def test_every_response_carries_the_headers(srv: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{srv.url}/api/login", json={"agent_id": "alice", "password": "alice"}) as r:
        token = (await r.json())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for path, status in (("/", 200), ("/agent", 200), ("/supervisor", 200), ("/assets/js/agent/main.js", 200),
                         ("/assets/desk.css", 200), ("/api/me", 200), ("/api/openapi.json", 200),
                         ("/healthz", 200), ("/api/customers/cus-nope", 404), ("/no/such/page", 404),
                         ("/api/me?x=%00", 400)):
        async with http.get(f"{srv.url}{path}", headers=auth) as r:
            assert r.status == status, path
            csp = policy(r.headers["Content-Security-Policy"])
            for directive, value in STRICT.items():
                assert csp[directive] == value, (path, directive)
            assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
            assert r.headers["X-Content-Type-Options"] == "nosniff", path
            assert r.headers["Referrer-Policy"] == "no-referrer", path
            assert r.headers["X-Frame-Options"] == "DENY", path
    # The chat page may be framed by the configured site only.
    async with http.get(f"{srv.url}/chat") as r:
        csp = policy(r.headers["Content-Security-Policy"])
        assert csp["frame-ancestors"] == EMBEDDER
        assert csp["default-src"] == "'self'" and csp["object-src"] == "'none'"
        assert "'unsafe-inline'" not in csp["script-src"]
        assert "X-Frame-Options" not in r.headers
        assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_frame_ancestors_setting_refuses_what_could_break_the_header(tmp_path: Path) -> None:
    from cti.config import parse_config

    base = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    for bad in (["https://a.example; script-src *"], ["'none'", EMBEDDER], ["javascript:"], []):
        with pytest.raises(ValueError, match="chat_frame_ancestors"):
            parse_config({**base, "traffic": {"chat_frame_ancestors": bad}})
    assert parse_config(base).traffic.chat_frame_ancestors == ("'none'",)


VIOLATIONS = """() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation',
    e => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
}"""


async def watched_page(browser: Any) -> tuple[Any, list[str]]:
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.add_init_script(f"({VIOLATIONS})()")
    return page, errors


async def violations(page: Any) -> list[str]:
    found: list[str] = await page.evaluate("window.__cspViolations")
    return found


async def test_pages_run_under_the_policy_without_violations(srv: RunningServer, chromium: str) -> None:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await launch(pw, chromium)
        try:
            # The agent desktop and the supervisor board: log in, sockets connected.
            for path, who in (("/agent", "alice"), ("/supervisor", "sam")):
                page, errors = await watched_page(browser)
                await page.goto(f"{srv.url}{path}")
                await page.fill("#login-agent", who)
                await page.fill("#login-password", who)
                await page.click("#login-submit")
                await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
                assert await violations(page) == [], path
                assert [e for e in errors if "Content Security Policy" in e] == [], path

            # The chat widget: it starts a conversation over its socket.
            page, errors = await watched_page(browser)
            await page.goto(f"{srv.url}/chat")
            await page.fill("#chat-name", "Nora Quinn")
            await page.click("#chat-start")
            await page.fill("#chat-input", "hello")
            await page.click("#chat-send")
            await expect(page.locator("[data-testid=chat-message][data-sender=customer]")).to_have_count(1)
            assert await violations(page) == []
            assert [e for e in errors if "Content Security Policy" in e] == []

            # The watch works: an injected inline script is blocked and reported.
            with contextlib.suppress(PlaywrightError):  # Playwright may report the block itself
                await page.add_script_tag(content="window.__injected = 1")
            await until(lambda: violations(page), what="the injected script's violation report")
            assert await page.evaluate("window.__injected === undefined")
        finally:
            await browser.close()
