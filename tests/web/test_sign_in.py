"""Ways into the web console and their refusals, over HTTP: the DMed link (never posted in the
group, rate-limited), `qunzhu web link` for an operator, Telegram Mini App initData (HMAC and age
checked), sign-out and revoked sessions."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from tests.support.console import base, console_config, dm_texts, sign_in_link, signed_in
from tests.support.telegram_harness import free_port, running_telegram_app

ROOT = Path(__file__).resolve().parents[2]


def init_data(token: str, user: dict, *, auth_date: int | None = None, tamper: bool = False) -> str:
    """initData as Telegram signs it for a Mini App (core.telegram.org/bots/webapps)."""
    fields = {"auth_date": str(auth_date or int(time.time())), "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
              "user": json.dumps(user, separators=(",", ":"))}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if tamper:
        fields["user"] = fields["user"].replace(str(user["id"]), "1")
    return urlencode(fields)


async def test_the_link_goes_by_dm_only_and_a_blocked_dm_leaves_no_link_in_the_group(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), console_config(port) | {"defaults": {"language": "en"}}) as h:
        alice, carol = h.user("alice"), h.user("carol")
        h.set_admins(alice, carol)
        url = await sign_in_link(h, alice)
        assert url.startswith(f"{base(port)}/console/login/")
        assert h.bot_texts()[-1] == "I sent you a sign-in link by DM."
        h.fake.block_dms(carol["id"])
        await h.command(carol, "/console")
        assert "Open a private chat with" in h.bot_texts()[-1]
        assert all("/console/login/" not in text for text in h.bot_texts())
        # Asked for privately, the link comes in that chat with no note anywhere else.
        before = len(h.bot_texts())
        await h.dm(alice, "/console")
        assert "/console/login/" in dm_texts(h, alice)[-1] and len(h.bot_texts()) == before


async def test_links_are_rate_limited_per_user(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port) | {"defaults": {"language": "en"}}) as h:
        alice = h.user("alice")
        for _ in range(5):
            await sign_in_link(h, alice)
        await h.command(alice, "/console")
        assert h.bot_texts()[-1].startswith("Too many sign-in links")
        h.app.clock.advance(minutes=11)
        await sign_in_link(h, alice)


async def test_an_operator_signs_in_with_a_printed_link_and_sees_every_group(sqlite_url, tmp_path):
    port = free_port()
    config = console_config(port, operators=["telegram:900"])
    async with running_telegram_app(sqlite_url, str(tmp_path), config) as h:
        alice = h.user("alice")
        await h.send_text(alice, "hi")
        await h.send_text(alice, "hi", chat=h.group(-1001000000055, "Second group"))
        path = tmp_path / "qunzhu.toml"
        path.write_text(f'[database]\nurl = "{sqlite_url}"\n[web]\npublic_url = "{base(port)}"\n', encoding="utf-8")
        printed = subprocess.run([sys.executable, "-m", "bot.cli", "web", "link", "-c", str(path), "--user", "telegram:900"],
                                 capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert printed.returncode == 0, printed.stderr
        url = printed.stdout.strip()
        assert url.startswith(f"{base(port)}/console/login/")
        async with signed_in(url) as http:
            async with http.get(f"{base(port)}/console/") as page:
                html = await page.text()
        assert "Test group" in html and "Second group" in html and "（运营者）" in html
        bad = subprocess.run([sys.executable, "-m", "bot.cli", "web", "link", "-c", str(path), "--user", "900"],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert bad.returncode == 2 and "--user" in bad.stderr


async def test_telegram_mini_app_init_data_is_checked(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port) | {"defaults": {"language": "en"}}) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        await h.send_text(alice, "hi")
        token = h.app.config.telegram.token
        user = {"id": alice["id"], "first_name": "alice"}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for data, why in ((init_data(token, user, tamper=True), "hash"),
                              (init_data("123:another-bot", user), "hash"),
                              (init_data(token, user, auth_date=int(time.time()) - 2 * 86400), "old")):
                async with http.post(f"{base(port)}/console/webapp?lang=en", data={"init_data": data}) as refused:
                    assert refused.status == 403
                    assert why in await refused.text()
            async with http.post(f"{base(port)}/console/webapp", data={"init_data": init_data(token, user)}) as ok:
                assert ok.status == 200 and str(ok.url).endswith("/console/")
                assert "Test group" in await ok.text()


async def test_signing_out_ends_the_session_everywhere_it_is_used(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port)) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        url = await sign_in_link(h, alice)
        async with signed_in(url) as http:
            cookie = {c.key: c.value for c in http.cookie_jar}["qz_session"]
            async with http.get(f"{base(port)}/console/") as page:
                csrf = (await page.text()).split('name="csrf" value="')[1].split('"')[0]
            async with http.post(f"{base(port)}/console/logout", data={"csrf": csrf}) as out:
                assert out.status == 200
        async with aiohttp.ClientSession(cookies={"qz_session": cookie}) as stolen:
            async with stolen.get(f"{base(port)}/console/") as page:
                assert page.status == 401, "a signed-out session's cookie must open nothing"


async def test_another_site_cannot_sign_a_browser_in_or_post_a_form(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port)) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        url = await sign_in_link(h, alice)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(url, headers={"Origin": "https://evil.example"}) as forged:
                assert forged.status == 403
                assert not any(c.key == "qz_session" for c in http.cookie_jar)
        async with signed_in(url) as http:  # the link was not used up by the forged post
            async with http.get(f"{base(port)}/console/sessions") as page:
                csrf = (await page.text()).split('name="csrf" value="')[1].split('"')[0]
            async with http.post(f"{base(port)}/console/logout", data={"csrf": csrf},
                                 headers={"Origin": "https://evil.example"}) as forged:
                assert forged.status == 403
            async with http.get(f"{base(port)}/console/") as still:
                assert still.status == 200, "a forged post with a stolen token still changes nothing"


async def test_ended_links_and_sessions_are_forgotten_at_a_tick(sqlite_url, tmp_path):
    from sqlalchemy import func, select

    from storage.web_models import WebLoginLink, WebSession

    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port)) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        used = await sign_in_link(h, alice)
        await sign_in_link(h, alice)  # never opened
        async with signed_in(used):
            pass

        async def counts():
            async with h.app.sessions() as session:
                return (await session.scalar(select(func.count()).select_from(WebLoginLink)),
                        await session.scalar(select(func.count()).select_from(WebSession)))

        await h.tick()
        assert await counts() == (2, 1), "live links and sessions stay"
        h.app.clock.advance(days=9)  # past the links' expiry and the 7-day session, plus a day
        await h.tick()
        assert await counts() == (0, 0)
