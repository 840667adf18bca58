"""Signing in with WeCom (企业微信): /console/wecom/start sends the browser to WeCom's OAuth — the
网页授权 page inside the WeCom client, the QR login (扫码登录) in any other browser — and WeCom
sends it back to /console/wecom/callback with a one-time `code`; the adapter turns that into the
member's userid (auth/getuserinfo) and a session opens for "wecom:<userid>". Outsiders (an openid
or external_userid, no userid) are refused.

The `state` is random and also kept in a short-lived cookie of this browser, so a callback that
this browser did not start (someone else's code pushed on it: login CSRF) is refused before WeCom
is asked. In the WeCom admin console the app needs its sign-in domain set (网页授权及JS-SDK 可信域名,
and 企业微信授权登录 for the QR login) to the host of [web] public_url; /console/wecom/start can
be the app's home page (应用主页)."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote, urlencode

from aiohttp import web

from bot.i18n import register
from bot.platform import ActionFailed
from handlers.web import links
from handlers.web.server import WebConsole, public

log = logging.getLogger(__name__)

# WeCom's sign-in pages (module attributes so a test or a private deployment can point elsewhere).
AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"  # inside the WeCom client
QR_LOGIN_URL = "https://login.work.weixin.qq.com/wwlogin/sso/login"  # a desktop browser
STATE_COOKIE = "qz_wecom_state"
STATE_PATH = "/console/wecom/"
# Time to scan the QR code and confirm; WeCom's code itself lasts 5 minutes after that.
STATE_SECONDS = 600

register({
    "web.wecom_login.disabled": {"zh-CN": "本机器人未启用企业微信（[wecom]）。", "en": "WeCom is not enabled for this bot ([wecom])."},
    "web.wecom_login.state": {
        "zh-CN": "登录请求已过期或不是从本浏览器发起的，请重新登录。",
        "en": "This sign-in has expired or was not started in this browser; please sign in again.",
    },
    "web.wecom_login.no_code": {"zh-CN": "企业微信未返回登录码（可能取消了授权）。", "en": "WeCom returned no sign-in code (was it cancelled?)."},
    "web.wecom_login.refused": {
        "zh-CN": "企业微信未确认你的身份：登录码无效、已使用或已过期，或你不是本企业的成员。请重新登录。",
        "en": "WeCom did not confirm who you are: the sign-in code is invalid, used or expired, or you are not a member "
        "of the company. Please sign in again.",
    },
    "web.wecom_login.unavailable": {
        "zh-CN": "暂时无法向企业微信核实身份，请稍后重试。",
        "en": "WeCom cannot be asked who you are right now; try again shortly.",
    },
})


class _Refused(Exception):
    """A callback that opens no session; the text key says why. `guess`: it counts toward the
    sign-in limit (WeCom being unreachable is nobody's guess)."""

    def __init__(self, key: str, status: int = 403, *, guess: bool = True):
        self.key, self.status, self.guess = key, status, guess


def authorize_url(cfg, redirect_uri: str, state: str, *, in_wecom: bool) -> str:
    """Where WeCom signs the browser in (`cfg`: the [wecom] section)."""
    if in_wecom:
        query = {"appid": cfg.corp_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "snsapi_base",
                 "state": state, "agentid": cfg.agent_id}
        return f"{AUTHORIZE_URL}?{urlencode(query, quote_via=quote)}#wechat_redirect"
    query = {"login_type": "CorpApp", "appid": cfg.corp_id, "agentid": cfg.agent_id, "redirect_uri": redirect_uri,
             "state": state}
    return f"{QR_LOGIN_URL}?{urlencode(query, quote_via=quote)}"


def routes(console: WebConsole) -> list[web.RouteDef]:
    def wecom():
        return console.app.platforms.get("wecom")

    @public
    async def start(request: web.Request) -> web.StreamResponse:
        if wecom() is None or console.app.config.wecom is None:
            return console.refuse(request, "web.login.wecom_bad", 404, reason=console.text(request, "web.wecom_login.disabled"))
        state = secrets.token_hex(16)  # WeCom takes a-zA-Z0-9, up to 128 bytes
        in_wecom = "wxwork" in request.headers.get("User-Agent", "").lower()
        target = authorize_url(console.app.config.wecom, f"{console.cfg.public_url}/console/wecom/callback", state,
                               in_wecom=in_wecom)
        response = web.Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})
        response.set_cookie(STATE_COOKIE, state, max_age=STATE_SECONDS, httponly=True, samesite="Lax",
                            secure=console.secure_cookie, path=STATE_PATH)
        return response

    @public
    async def callback(request: web.Request) -> web.StreamResponse:
        if console.sign_in_blocked(request):
            return console.refuse(request, "web.login.too_many", 429)
        try:
            userid = await _member(request)
        except _Refused as refused:
            if refused.guess:
                console.sign_in_failed(request)
            response = console.refuse(request, "web.login.wecom_bad", refused.status, reason=console.text(request, refused.key))
        else:
            log.info("web: wecom:%s signed in with WeCom", userid)
            response = await console.start_session(request, user_key=f"wecom:{userid}", user_name=userid, via="wecom")
        response.del_cookie(STATE_COOKIE, path=STATE_PATH)  # a state serves one callback
        return response

    async def _member(request: web.Request) -> str:
        if not links.same(request.query.get("state"), request.cookies.get(STATE_COOKIE)):
            log.info("web: a WeCom sign-in callback without this browser's state was refused")
            raise _Refused("web.wecom_login.state")
        platform = wecom()
        if platform is None:
            raise _Refused("web.wecom_login.disabled")
        code = request.query.get("code")
        if not code:
            raise _Refused("web.wecom_login.no_code")
        try:
            return await platform.user_of_login_code(code)
        except ActionFailed as exc:
            log.warning("web: WeCom sign-in refused: %s", exc.detail)
            if exc.reason == "not_found":
                raise _Refused("web.wecom_login.refused") from None
            raise _Refused("web.wecom_login.unavailable", 503, guess=False) from None

    return [
        web.get("/wecom/start", start),
        web.get("/wecom/callback", callback),
    ]
