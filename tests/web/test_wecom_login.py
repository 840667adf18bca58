"""Signing in to the console with WeCom: the real App with the real WecomPlatform against the fake
qyapi (tests/support/fake_qyapi.py), the console on a free port, a plain aiohttp browser.

WeCom's own sign-in page is not run: the test plays it — it reads the state off the redirect and
comes back to the callback with a code the fake qyapi issued, as WeCom does after the member
confirmed (or scanned the QR code)."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from handlers.web.pages import wecom_login
from storage import web_repo
from tests.support.console import base, console_config
from tests.support.fake_qyapi import FakeQyapi
from tests.support.harness import running_app
from tests.support.telegram_harness import free_port
from tests.wecom.conftest import OWNER, wecom_app
from tests.wecom.wire import AGENT, CORP, SECRET, VirtualTime

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
IN_WECOM = ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
            "wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light")


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def qyapi(vt):
    fake = FakeQyapi(CORP, SECRET, clock=vt.monotonic, employees={OWNER, "lisi"})
    await fake.start()
    yield fake
    await fake.stop()


@asynccontextmanager
async def console_with_wecom(db_url, tmp_path, qyapi, vt):
    port = free_port()
    async with wecom_app(db_url, tmp_path, qyapi, vt, extra=console_config(port)) as (app, platform):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield app, base(port), http


async def start(http: aiohttp.ClientSession, site: str, user_agent: str = DESKTOP) -> tuple[str, dict[str, list[str]]]:
    """GET /console/wecom/start: WeCom's sign-in URL (without its query) and the query."""
    async with http.get(f"{site}/console/wecom/start", headers={"User-Agent": user_agent}, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        target = urlsplit(r.headers["Location"])
    return f"{target.scheme}://{target.netloc}{target.path}", {**parse_qs(target.query), "#": [target.fragment]}


async def callback(http: aiohttp.ClientSession, site: str, **query: str) -> tuple[int, str]:
    async with http.get(f"{site}/console/wecom/callback", params=query, allow_redirects=False) as r:
        return r.status, await r.text()


def session_cookie(http: aiohttp.ClientSession) -> str | None:
    found = [c.value for c in http.cookie_jar if c.key == "qz_session"]
    return found[0] if found else None


async def test_a_member_signs_in_with_wecom_once_per_code(db_url, tmp_path, qyapi, vt):
    async with console_with_wecom(db_url, tmp_path, qyapi, vt) as (app, site, http):
        async with http.get(f"{site}/console/") as signed_out:  # the sign-in page offers WeCom
            assert signed_out.status == 401 and 'href="/console/wecom/start"' in await signed_out.text()
        login_page, query = await start(http, site)
        assert login_page == wecom_login.QR_LOGIN_URL  # a desktop browser gets the QR login
        assert query["login_type"] == ["CorpApp"] and query["appid"] == [CORP] and query["agentid"] == [str(AGENT)]
        assert query["redirect_uri"] == [f"{site}/console/wecom/callback"]
        state = query["state"][0]
        assert len(state) >= 32 and state.isalnum()  # WeCom takes a-zA-Z0-9 only
        cookie = [c for c in http.cookie_jar if c.key == wecom_login.STATE_COOKIE]
        assert [c.value for c in cookie] == [state] and cookie[0]["httponly"] and cookie[0]["samesite"] == "Lax"

        code = qyapi.login_code(OWNER)  # zhangsan confirmed on WeCom's page
        status, _ = await callback(http, site, code=code, state=state)
        assert status == 303 and session_cookie(http)
        async with http.get(f"{site}/console/") as page:
            assert page.status == 200
            assert "已登录：zhangsan" in await page.text()
        async with app.sessions() as s:
            rows = await web_repo.sessions_of(s, "wecom:zhangsan", app.clock.now())
        assert [(r.user_key, r.via) for r in rows] == [("wecom:zhangsan", "wecom")]
        asked = qyapi.calls_to("auth/getuserinfo")
        assert [c.query["code"] for c in asked] == [code] and asked[0].query["access_token"] == qyapi.token

        # The same code again (a reload, or someone who saw it): WeCom answers 40029, no session.
        http.cookie_jar.clear()
        _, query = await start(http, site)
        status, text = await callback(http, site, code=code, state=query["state"][0])
        assert status == 403 and "企业微信登录失败" in text and session_cookie(http) is None
        assert [c.errcode for c in qyapi.calls_to("auth/getuserinfo", ok_only=False)] == [0, 40029]


async def test_inside_the_wecom_client_the_oauth_page_is_used(sqlite_url, tmp_path, qyapi, vt):
    async with console_with_wecom(sqlite_url, tmp_path, qyapi, vt) as (app, site, http):
        login_page, query = await start(http, site, IN_WECOM)
        assert login_page == wecom_login.AUTHORIZE_URL
        assert query["appid"] == [CORP] and query["agentid"] == [str(AGENT)] and query["scope"] == ["snsapi_base"]
        assert query["response_type"] == ["code"] and query["#"] == ["wechat_redirect"]
        assert query["redirect_uri"] == [f"{site}/console/wecom/callback"]
        status, _ = await callback(http, site, code=qyapi.login_code("lisi"), state=query["state"][0])
        assert status == 303
        async with http.get(f"{site}/console/") as page:
            assert "已登录：lisi" in await page.text()


async def test_a_callback_this_browser_did_not_start_is_refused_before_wecom_is_asked(sqlite_url, tmp_path, qyapi, vt):
    async with console_with_wecom(sqlite_url, tmp_path, qyapi, vt) as (app, site, http):
        _, query = await start(http, site)
        code = qyapi.login_code(OWNER)
        status, text = await callback(http, site, code=code, state="0" * 32)  # another flow's state
        assert status == 403 and "不是从本浏览器发起的" in text and session_cookie(http) is None
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
            status, _ = await callback(stranger, site, code=code, state=query["state"][0])  # no state cookie
            assert status == 403 and session_cookie(stranger) is None
        assert qyapi.calls_to("auth/getuserinfo", ok_only=False) == []


async def test_someone_outside_the_company_is_refused(sqlite_url, tmp_path, qyapi, vt):
    async with console_with_wecom(sqlite_url, tmp_path, qyapi, vt) as (app, site, http):
        for code in (qyapi.login_code(openid="oOutsider000001"),
                     qyapi.login_code(openid="oCustomer000001", external_userid="wmCustomerAAAAAAAAAAAAAAAAAAAAAA1")):
            _, query = await start(http, site)
            status, text = await callback(http, site, code=code, state=query["state"][0])
            assert status == 403 and "不是本企业的成员" in text and session_cookie(http) is None
        assert [c.errcode for c in qyapi.calls_to("auth/getuserinfo")] == [0, 0]  # WeCom answered, with no userid


async def test_a_code_older_than_five_minutes_is_refused(sqlite_url, tmp_path, qyapi, vt):
    async with console_with_wecom(sqlite_url, tmp_path, qyapi, vt) as (app, site, http):
        _, query = await start(http, site)
        code = qyapi.login_code(OWNER)
        vt.now += 301
        status, text = await callback(http, site, code=code, state=query["state"][0])
        assert status == 403 and session_cookie(http) is None
        assert [c.errcode for c in qyapi.calls_to("auth/getuserinfo", ok_only=False)] == [40029]


async def test_failed_wecom_sign_ins_count_toward_the_limit(sqlite_url, tmp_path, qyapi, vt):
    async with console_with_wecom(sqlite_url, tmp_path, qyapi, vt) as (app, site, http):
        for _ in range(11):
            status, _ = await callback(http, site, code="guess", state="guess")
            assert status == 403
        _, query = await start(http, site)
        status, text = await callback(http, site, code=qyapi.login_code(OWNER), state=query["state"][0])
        assert status == 429 and "尝试次数过多" in text and session_cookie(http) is None


async def test_wecom_unreachable_says_so_and_logs_neither_token_nor_code(sqlite_url, tmp_path, qyapi, vt, caplog):
    async with console_with_wecom(sqlite_url, tmp_path, qyapi, vt) as (app, site, http):
        _, query = await start(http, site)
        status, _ = await callback(http, site, code=qyapi.login_code(OWNER), state=query["state"][0])
        assert status == 303  # the token is fetched
        http.cookie_jar.clear()
        _, query = await start(http, site)
        code = qyapi.login_code("lisi")
        await qyapi.stop()
        with caplog.at_level(logging.WARNING, logger="handlers.web.pages.wecom_login"):
            started = time.monotonic()
            status, text = await callback(http, site, code=code, state=query["state"][0])
        assert status == 503 and "暂时无法向企业微信核实身份" in text and session_cookie(http) is None
        assert time.monotonic() - started < 10
        logged = [r.getMessage() for r in caplog.records if r.name == "handlers.web.pages.wecom_login"]
        assert logged and "unreachable" in logged[-1]
        assert all(qyapi.token not in m and code not in m for m in logged)


async def test_without_wecom_the_pages_say_it_is_not_enabled(sqlite_url, tmp_path):
    port = free_port()
    async with running_app(sqlite_url, str(tmp_path), console_config(port)):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{base(port)}/console/wecom/start", allow_redirects=False) as r:
                assert r.status == 404 and "未启用企业微信" in await r.text()
            status, text = await callback(http, base(port), code="x", state="y")
            assert status == 403 and session_cookie(http) is None
