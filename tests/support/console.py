"""The web console in tests: its config, a sign-in link as the bot DMs it, an aiohttp client signed
in with it, and a real browser (Playwright driving Debian's chromium).

    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), console_config(port)) as h:
        url = await sign_in_link(h, "alice")            # alice sends /console; the DM's link
        async with signed_in(url) as http:               # aiohttp session with the cookie
            await http.get(f"{base(port)}/console/")
        async with browser() as page:                    # a Playwright page in chromium
            await page.goto(url)

The browser tests skip when no chromium is installed, except under CI=true or
QUNZHU_REQUIRE_BROWSER=1 (.ci/run installs Debian's chromium), where they fail. Screenshots go to
test-artifacts/ (QUNZHU_TEST_ARTIFACTS overrides)."""

from __future__ import annotations

import os
import re
import shutil
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def console_config(port: int, **web: Any) -> dict[str, Any]:
    return {"web": {"enabled": True, "port": port, "public_url": base(port), **web}}


def base(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def dm_texts(h, user: dict) -> list[str]:
    return [c.params.get("text", "") for c in h.fake.calls_to("sendMessage") if str(c.params.get("chat_id")) == str(user["id"])]


async def sign_in_link(h, user: str | dict, *, chat: dict | None = None) -> str:
    """`user` asks for a link with /console in the group; the link the bot DMed them."""
    user = h.user(user)
    before = len(dm_texts(h, user))
    await h.command(user, "/console", chat=chat)
    sent = dm_texts(h, user)[before:]
    assert sent, f"the bot DMed {user['first_name']} nothing; it said: {h.bot_texts(chat)[-3:]}"
    found = re.search(r"https?://\S+/console/login/\S+", sent[-1])
    assert found, sent[-1]
    return found.group(0)


@asynccontextmanager
async def signed_in(url: str):
    """An aiohttp client that opened the sign-in link (GET, then the button's POST)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url) as page:
            assert page.status == 200, await page.text()
        async with http.post(url) as signed:
            assert signed.status == 200 and str(signed.url).endswith("/console/"), (signed.status, await signed.text())
        yield http


def csrf_of(html: str) -> dict[str, str]:
    """The hidden csrf and form_id fields of the first form on a page that has them."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    form_id = re.search(r'name="form_id" value="([^"]+)"', html)
    assert csrf, "no csrf field on the page"
    return {"csrf": csrf.group(1), **({"form_id": form_id.group(1)} if form_id else {})}


def chromium_path() -> str | None:
    return os.environ.get("QUNZHU_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def artifacts() -> Path:
    folder = Path(os.environ.get("QUNZHU_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@asynccontextmanager
async def browser(*, locale: str = "zh-CN"):
    """A fresh Playwright page in headless chromium (a new profile each time)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("QUNZHU_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium); .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            context = await chromium.new_context(viewport={"width": 1360, "height": 900}, locale=locale)
            page = await context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            await chromium.close()
