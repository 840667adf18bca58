"""A fake qyapi.weixin.qq.com over real HTTP (aiohttp), for the WeCom adapter's outgoing calls.

It keeps just enough state to answer like WeCom does: the access token (gettoken; every other call
must carry it), app-created group chats (appchat/get, send, update), customer groups
(externalcontact/groupchat/get), employees (message/send reports the others as invaliduser), the
one-time welcome codes (send_welcome_msg), group robots (webhook/send, with WeCom's 20 messages a
minute per robot enforced: errcode 45009 beyond it) and 智能机器人 response URLs. Every request is
recorded with the time on the clock it was given, so tests assert what the bot sent and when.
Errors can be queued per endpoint (`fail_next`), answers delayed (`delay_next`, seconds: the request
arrives and is recorded, the answer comes late — a client timeout after the request left), and the
token broken (`token_refused = 42001`: every call answers that errcode, as WeCom does when it keeps
refusing tokens, until it is set back to None).

As strict as WeCom where it matters to Qunzhu:
- externalcontact/groupchat/get leaves `name` out of member_list unless need_name=1 (document 92707).
- message/send and appchat/send texts are limited to 2,048 UTF-8 bytes (documents 90236, 90248:
  "最长不超过2048个字节"). Real WeCom silently *truncates* a longer message/send text (observed in
  jxxghp/MoviePilot#2550: "只发送前2048字节，多余的直接丢弃") and refuses bigger bodies with errcode
  45002 "content size out of limit" (apache/dolphinscheduler#621). The fake refuses anything over
  2,048 bytes with 45002, so a lost tail can never pass a test unnoticed. appchat/send: same backend
  and documented limit; the same 45002 is assumed (not observed).
- group robot text is limited to 2,048 bytes (document 91770) and markdown to 4,096; WeCom answers
  errcode 40058 "markdown.content exceed max length 4096. invalid Request Parameter" (observed in
  RayWangQvQ/BiliBiliTool#569, dromara/domain-admin#82) and "text.content exceed max length …" for
  text (observed with 5120 in the message; the documented 2,048 is what the fake enforces).
- web sign-in (auth/getuserinfo, documents 91023 / 98176): `login_code(...)` is what WeCom puts on
  the OAuth redirect once someone signed in; it works once and for 5 minutes on the fake's clock,
  then (and for a code WeCom never gave) errcode 40029 "invalid code". A member gets `userid`, an
  outsider only `openid`, an external contact `openid` and `external_userid`.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    path: str  # e.g. "appchat/send", "webhook/send"
    query: dict[str, str]
    body: Any
    at: float
    errcode: int = 0


@dataclass
class FakeQyapi:
    corp_id: str
    secret: str
    clock: Callable[[], float] = time.monotonic
    employees: set[str] = field(default_factory=set)
    app_chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    robots: set[str] = field(default_factory=set)
    welcome_codes: set[str] = field(default_factory=set)
    robot_per_minute: int = 20

    def __post_init__(self):
        self.calls: list[Call] = []
        self.fail_next: dict[str, list[int]] = {}
        self.delay_next: dict[str, list[float]] = {}
        self.token_refused: int | None = None  # 42001 / 40014: every call with a token answers this
        self.tokens_issued = 0
        self.token = "FAKE-TOKEN-1"
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.used_welcome_codes: set[str] = set()
        self.login_codes: dict[str, tuple[dict[str, str], float]] = {}  # code → (who, when WeCom gave it)

    # --- server ------------------------------------------------------------------------------
    async def start(self) -> "FakeQyapi":
        app = web.Application()
        app.router.add_route("*", "/cgi-bin/{path:.*}", self._handle)
        app.router.add_post("/aibot/response/{id}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/aibot/response/{name}"

    # --- what tests read ---------------------------------------------------------------------
    def calls_to(self, path: str, *, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.path == path and (c.errcode == 0 or not ok_only)]

    def robot_messages(self, key: str) -> list[Call]:
        return [c for c in self.calls_to("webhook/send") if c.query.get("key") == key]

    def login_code(self, userid: str | None = None, *, openid: str | None = None, external_userid: str | None = None) -> str:
        """The code WeCom's OAuth redirect carries after someone signed in: a member (`userid`) or,
        without one, an outsider (`openid`, and `external_userid` for a company's external contact)."""
        who = {"userid": userid} if userid else {"openid": openid or f"oFake{secrets.token_hex(8)}"}
        if external_userid and not userid:
            who["external_userid"] = external_userid
        code = secrets.token_urlsafe(32)
        self.login_codes[code] = (who, self.clock())
        return code

    def group(self, chat_id: str, *, owner: str, name: str = "", admins: list[str] = (), members: list[dict] = ()) -> None:
        self.groups[chat_id] = {
            "chat_id": chat_id,
            "name": name or chat_id,
            "owner": owner,
            "create_time": 1700000000,
            "member_list": [dict(m) for m in members],
            "admin_list": [{"userid": a} for a in admins],
        }

    # --- handlers ----------------------------------------------------------------------------
    def _answer(self, call: Call, payload: dict[str, Any]) -> web.Response:
        call.errcode = int(payload.get("errcode", 0))
        if call.errcode and "errmsg" not in payload:
            payload["errmsg"] = f"fake error {call.errcode}"
        payload.setdefault("errmsg", "ok")
        return web.json_response(payload)

    async def _response_url(self, request: web.Request) -> web.Response:
        call = Call("aibot/response", {"id": request.match_info["id"]}, await request.json(), self.clock())
        self.calls.append(call)
        return self._answer(call, {"errcode": 0})

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        query = dict(request.query)
        body: Any = None
        if request.method == "POST":
            if request.content_type == "multipart/form-data":
                body = {}
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    body[part.name] = await part.read()
            else:
                raw = await request.read()
                import json

                body = json.loads(raw.decode("utf-8")) if raw else None
        call = Call(path, query, body, self.clock())
        self.calls.append(call)

        if path == "gettoken":
            if query.get("corpid") != self.corp_id or query.get("corpsecret") != self.secret:
                return self._answer(call, {"errcode": 40001, "errmsg": "invalid credential"})
            self.tokens_issued += 1
            return self._answer(call, {"errcode": 0, "access_token": self.token, "expires_in": 7200})
        delays = self.delay_next.get(path)
        if delays:
            await asyncio.sleep(delays.pop(0))
        if self.token_refused is not None and path != "webhook/send":
            message = {42001: "access_token expired", 40014: "invalid access_token"}.get(self.token_refused, "token refused")
            return self._answer(call, {"errcode": self.token_refused, "errmsg": message})
        queued = self.fail_next.get(path)
        if queued:
            return self._answer(call, {"errcode": queued.pop(0)})
        if path == "webhook/send":
            return self._webhook(call)
        if query.get("access_token") != self.token:
            return self._answer(call, {"errcode": 40014, "errmsg": "invalid access_token"})
        handler = {
            "appchat/get": self._appchat_get,
            "appchat/send": self._appchat_send,
            "appchat/update": self._appchat_update,
            "message/send": self._message_send,
            "externalcontact/groupchat/get": self._groupchat_get,
            "externalcontact/send_welcome_msg": self._send_welcome_msg,
            "media/upload": self._media_upload,
            "auth/getuserinfo": self._auth_getuserinfo,
        }.get(path)
        if handler is None:
            return self._answer(call, {"errcode": 40099, "errmsg": f"fake qyapi does not know {path}"})
        return self._answer(call, handler(call))

    def _appchat_get(self, call: Call) -> dict[str, Any]:
        chat = self.app_chats.get(call.query.get("chatid", ""))
        if chat is None:
            return {"errcode": 86003, "errmsg": "chat not exist"}
        return {"errcode": 0, "chat_info": {"chatid": call.query["chatid"], **chat}}

    def _appchat_send(self, call: Call) -> dict[str, Any]:
        if call.body.get("chatid") not in self.app_chats:
            return {"errcode": 86003, "errmsg": "chat not exist"}
        if _too_long(call.body, "text", TEXT_LIMIT):
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        return {"errcode": 0}

    def _appchat_update(self, call: Call) -> dict[str, Any]:
        chat = self.app_chats.get(call.body.get("chatid"))
        if chat is None:
            return {"errcode": 86003, "errmsg": "chat not exist"}
        gone = set(call.body.get("del_user_list") or [])
        chat["userlist"] = [u for u in chat.get("userlist", []) if u not in gone]
        chat["userlist"] += [u for u in call.body.get("add_user_list") or [] if u not in chat["userlist"]]
        return {"errcode": 0}

    def _message_send(self, call: Call) -> dict[str, Any]:
        to = [u for u in str(call.body.get("touser", "")).split("|") if u]
        invalid = [u for u in to if u not in self.employees]
        if to and len(invalid) == len(to):
            return {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        if _too_long(call.body, "text", TEXT_LIMIT):
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        return {"errcode": 0, "invaliduser": "|".join(invalid), "msgid": f"msg{next(self._ids)}"}

    def _groupchat_get(self, call: Call) -> dict[str, Any]:
        group = self.groups.get(call.body.get("chat_id"))
        if group is None:
            return {"errcode": 40050, "errmsg": "chatid not exist"}
        if str(call.body.get("need_name", "0")) != "1":
            # Without need_name=1 WeCom returns member_list without the members' names.
            group = {**group, "member_list": [{k: v for k, v in m.items() if k != "name"} for m in group["member_list"]]}
        return {"errcode": 0, "group_chat": group}

    def _media_upload(self, call: Call) -> dict[str, Any]:
        if call.query.get("type") != "image" or not (call.body or {}).get("media"):
            return {"errcode": 40004, "errmsg": "invalid media type"}
        return {"errcode": 0, "type": "image", "media_id": f"MEDIA{next(self._ids)}", "created_at": "1700000000"}

    def _auth_getuserinfo(self, call: Call) -> dict[str, Any]:
        code = call.query.get("code")
        if not code:
            return {"errcode": 41008, "errmsg": "missing oauth code"}
        given = self.login_codes.pop(code, None)  # once, used or not
        if given is None or self.clock() - given[1] > LOGIN_CODE_SECONDS:
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"errcode": 0, **given[0]}

    def _send_welcome_msg(self, call: Call) -> dict[str, Any]:
        code = call.body.get("welcome_code")
        if code in self.used_welcome_codes:
            return {"errcode": 41051, "errmsg": "externaluser has started chatting"}
        if code not in self.welcome_codes:
            return {"errcode": 41096, "errmsg": "invalid welcome_code"}
        self.used_welcome_codes.add(code)
        return {"errcode": 0}

    def _webhook(self, call: Call) -> web.Response:
        key = call.query.get("key")
        if key not in self.robots:
            return self._answer(call, {"errcode": 93000, "errmsg": "invalid webhook url"})
        recent = [c for c in self.robot_messages(key) if c is not call and c.at > call.at - 60.0]
        if len(recent) >= self.robot_per_minute:
            return self._answer(call, {"errcode": 45009, "errmsg": "api freq out of limit"})
        for msgtype, limit in (("text", TEXT_LIMIT), ("markdown", MARKDOWN_LIMIT)):
            if _too_long(call.body, msgtype, limit):
                return self._answer(call, {"errcode": 40058, "errmsg": f"{msgtype}.content exceed max length {limit}. invalid Request Parameter"})
        mentioned = (call.body.get("text") or {}).get("mentioned_list") if isinstance(call.body, dict) else None
        if mentioned is not None and not (isinstance(mentioned, list) and all(isinstance(u, str) for u in mentioned)):
            return self._answer(call, {"errcode": 40058, "errmsg": "mentioned_list must be a list of userids. invalid Request Parameter"})
        return self._answer(call, {"errcode": 0})


TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
LOGIN_CODE_SECONDS = 300  # a sign-in code is valid 5 minutes (document 91023)


def _too_long(body: Any, msgtype: str, limit: int) -> bool:
    if not isinstance(body, dict) or body.get("msgtype") != msgtype:
        return False
    content = str((body.get(msgtype) or {}).get("content") or "")
    return len(content.encode("utf-8")) > limit
