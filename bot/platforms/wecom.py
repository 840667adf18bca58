"""WeChat Work (企业微信, WeCom): the callback server, events in, API calls out — and honest about
what WeCom's official server APIs allow (see the WeCom table in DESIGN.md and the README).

Chats, as Qunzhu sees them (`ChatRef("wecom", id)`):
- a group the app created (appchat): id = its chatid. Qunzhu posts with appchat/send and can remove
  members (appchat/update del_user_list). WeCom pushes no messages or joins from these groups.
- a customer group (客户群): id = its chat_id (wr…). Joins and leaves come from the
  `change_external_chat` callback (the adapter diffs externalcontact/groupchat/get against the member
  list it saw last). Qunzhu posts through the group's robot (`[wecom] robots`); it cannot remove
  anyone: the owner (an employee) is who `admin_ids` names, so the admins' DM goes to them.
- `user:<userid>`: an employee's conversation with the app (message/send).
- `contacts:<userid>`: an employee's new external contacts. A customer adding the employee is a
  MemberJoined here, and a send() while that event is being handled is the welcome message
  (send_welcome_msg with WeCom's one-time WelcomeCode, valid 20 s).

Group messages reach Qunzhu only where WeCom delivers them: the 智能机器人 (intelligent bot)
callback for messages that @ the bot, and the message archive (会话内容存档) for licensed
operators (bot/platforms/wecom_archive.py).

wechatpy is synchronous: every call runs in a thread (asyncio.to_thread). Robot webhooks go out
over aiohttp. All sends are paced (bot/pacing.py): per robot (20/min) and per app-message
recipient; a message over the limit is queued in order instead of holding the handler (and its
database transaction) for a minute. Errcode 45009 (too frequent) is waited out and retried,
never dropped.

Every verified callback is stored in the durable intake (bot/intake.py) before it is answered: a
redelivery is answered "success" and dropped there, a database that cannot store it is answered 503
(WeCom sends it again), and what a previous run stored but did not finish is handled at start.

Sends have no idempotency key: `bot.wire.mark()` is awaited right before each request leaves (after
the pacing wait), and a timeout once it has left is ActionUncertain — never retried blindly. Texts
over WeCom's 2,048-byte limit are split into several messages. An access token WeCom keeps refusing
(42001/40014) is refreshed at most once per call, with a capped backoff between refreshes, and the
admins are told once.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import io
import itertools
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import xmltodict
from aiohttp import ClientConnectorError, ClientError, ClientSession, ClientTimeout, web
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.work import WeChatClient
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.exceptions import InvalidCorpIdException
from wechatpy.work.parser import parse_message

from bot import wire
from bot.events import (
    ChatRef,
    CommandInvoked,
    Event,
    Media,
    MemberJoined,
    MemberLeft,
    MessageReceived,
    UserRef,
    parse_command,
)
from bot.i18n import register, t
from bot.intake import InboxItem, IntakeUnavailable
from bot import metrics
from bot.pacing import RateLimiter
from bot.platform import ActionFailed, ActionUncertain, BasePlatform, Buttons, Capability, CapabilityMissing, SentMessage
from bot.member_lists import MemberInfo

if TYPE_CHECKING:
    from bot.config import WecomSection
    from bot.member_lists import MemberLists
    from bot.ports import EventSink
    from bot.wecom_state import WecomState

log = logging.getLogger(__name__)

PLATFORM = "wecom"
DM_PREFIX = "user:"
CONTACTS_PREFIX = "contacts:"
WELCOME_WINDOW = timedelta(seconds=20)  # WeCom: send_welcome_msg within 20 s of the callback
RESPONSE_URL_TTL = timedelta(hours=1)  # WeCom: a 智能机器人 response_url works once, within 1 h
RATE_LIMITED = {45009, 45033, 45047}  # too frequent / too many concurrent / quota
NO_RIGHTS = {48002, 48001, 60011, 60020, 301002, 41054, 84061, 86004, 86008}
NOT_FOUND = {40003, 46004, 60111, 60123, 86001, 86003, 40050, 40096, 90500, 701008}
DM_BLOCKED = {41051, 41096, 41097, 81013}  # welcome code used/invalid; recipient not reachable
LEADING_MENTION = re.compile(r"^\s*@\S+\s*")
# access_token missing / invalid / expired: refresh the token (at most once per call) and try again.
TOKEN_ERRORS = {41001, 40014, 42001}
TOKEN_BACKOFF_FIRST = 2.0  # seconds before a second refresh while WeCom keeps refusing tokens ...
TOKEN_BACKOFF_MAX = 300.0  # ... doubling up to this
# Text limits, in UTF-8 bytes (developer.work.weixin.qq.com document 90236 message/send, 90248
# appchat/send, 91770 group robot: "最长不超过2048个字节"; robot markdown 4096 bytes).
TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
MENTION_NAME_MAX = 32  # longest display name looked up after an "@"

register({
    "wecom.token_refused": {
        "zh-CN": "⚠️ 企业微信一直拒绝 Qunzhu 的 access_token（错误码 {code}），消息暂时发不出去。请检查应用的 Secret 与企业可信IP；恢复后会自动继续。",
        "en": "⚠️ WeCom keeps refusing Qunzhu's access token (errcode {code}), so messages cannot be sent for now. "
        "Please check the app's Secret and trusted IPs; Qunzhu carries on by itself once WeCom accepts it again.",
    },
    "wecom.token_back": {
        "zh-CN": "✅ 企业微信已重新接受 Qunzhu 的 access_token，消息恢复发送。",
        "en": "✅ WeCom accepts Qunzhu's access token again; messages are going out.",
    },
})


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes: whole lines where they fit, a line longer
    than `limit` cut between characters (never inside a UTF-8 sequence)."""
    if len(text.encode("utf-8")) <= limit:
        return [text]
    pieces: list[str] = []
    current, size = "", 0
    for line in text.splitlines(keepends=True):
        n = len(line.encode("utf-8"))
        if size + n <= limit:
            current, size = current + line, size + n
            continue
        if current:
            pieces.append(current)
            current, size = "", 0
        if n <= limit:
            current, size = line, n
            continue
        for ch in line:  # one line longer than the limit: cut it between characters
            w = len(ch.encode("utf-8"))
            if size + w > limit:
                pieces.append(current)
                current, size = "", 0
            current, size = current + ch, size + w
    if current:
        pieces.append(current)
    # A piece that is only the line break between two others says nothing.
    return [p.rstrip("\r\n") or p for p in pieces if p.strip("\r\n")] or [text[:1]]


class QyapiClient(WeChatClient):
    """wechatpy's WeCom client with both its API base URL and its access-token URL configurable
    (private deployments and tests use another host)."""

    def __init__(self, corp_id: str, secret: str, *, api_base_url: str, timeout: float):
        # auto_retry=False: wechatpy would refresh the token and call itself again for as long as
        # WeCom answers 42001/40014 (unbounded recursion); WecomPlatform._api refreshes instead.
        super().__init__(corp_id, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base_url

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )


@dataclass
class ChatInfo:
    kind: str  # app | customer | dm | contacts | unknown
    name: str | None = None
    owner: str | None = None
    admins: set[str] = field(default_factory=set)
    fetched_at: datetime | None = None


def dm_chat(userid: str) -> ChatRef:
    return ChatRef(PLATFORM, DM_PREFIX + userid, private=True)


def contacts_chat(userid: str) -> ChatRef:
    """kind="contacts": not a group — a customer who adds the employee gets a welcome, no questionnaire."""
    return ChatRef(PLATFORM, CONTACTS_PREFIX + userid, kind="contacts")


def is_external(userid: str) -> bool:
    """External contacts' ids (wm…/wo…) — the app cannot message them with message/send."""
    return userid.startswith(("wm", "wo")) and len(userid) >= 28


def _without_query(exc: BaseException) -> str:
    """The error's text without the URLs' query strings: they carry the access token (and login
    codes), and the text travels on in ActionFailed — into audit notes the console shows."""
    return re.sub(r"\?[^\s'\")]*", "?…", str(exc))


def _failure(exc: WeChatClientException, what: str, right: str | None = None) -> ActionFailed:
    code = exc.errcode
    detail = f"{what}: WeCom errcode {code} ({exc.errmsg})" if code is not None else f"{what}: HTTP error {exc}"
    if code in NO_RIGHTS:
        return ActionFailed("no_rights", detail, right=right or "the app's API permissions in the WeCom admin console")
    if code in NOT_FOUND:
        return ActionFailed("not_found", detail)
    if code in DM_BLOCKED:
        return ActionFailed("dm_blocked", detail)
    return ActionFailed("other", detail)


def _may_have_arrived(exc: requests.RequestException) -> bool:
    """Whether a failed request may have reached WeCom: a read timeout or a connection dropped
    after it was sent — not a refused or timed-out connect (nothing left then)."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return False
    if isinstance(exc, requests.ReadTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        import urllib3.exceptions as u3

        # urllib3 wraps a connect failure in NewConnectionError (inside MaxRetryError);
        # "Connection aborted" (ProtocolError) comes after the request was written.
        if isinstance(reason, u3.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, u3.ProtocolError)
    return isinstance(exc, requests.exceptions.ChunkedEncodingError)


class WecomPlatform(BasePlatform):
    name = PLATFORM
    # What works in every chat. KICK works only in groups the app created, so it is not here:
    # can_in(chat, KICK) answers per chat. No DELETE (WeCom cannot delete another person's
    # message), no RESTRICT (no mute), no BAN, no BUTTONS, no EDIT, no REPLY threading.
    capabilities = Capability.SEND | Capability.DM | Capability.ADMIN_LIST | Capability.SEND_PHOTO

    def __init__(
        self,
        cfg: "WecomSection",
        sink: "EventSink",
        *,
        member_lists: "MemberLists",
        state: "WecomState",
        resolve_path: Callable[[str], Path],
        monotonic: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        archive_source=None,
    ):
        self.cfg = cfg
        self.sink = sink
        self.member_lists = member_lists
        self.state = state
        self._resolve_path = resolve_path  # archive keys relative to the config file
        self._sleep = sleep or asyncio.sleep
        monotonic = monotonic or time.monotonic
        self._monotonic = monotonic
        self.client = QyapiClient(cfg.corp_id, cfg.secret, api_base_url=cfg.api_base_url, timeout=cfg.http_timeout)
        try:
            self.crypto = WeChatCrypto(cfg.token, cfg.encoding_aes_key, cfg.corp_id)
            self.aibot_crypto = (
                WeChatCrypto(cfg.aibot_token, cfg.aibot_encoding_aes_key, "") if cfg.aibot_token else None
            )
        except (AssertionError, ValueError) as exc:
            raise ValueError(f"[wecom] encoding_aes_key / aibot_encoding_aes_key: not a valid EncodingAESKey ({exc})") from None
        self.robot_pace = RateLimiter(cfg.robot_per_minute, 60.0, monotonic=monotonic, sleep=sleep, platform=PLATFORM)
        self.app_pace = RateLimiter(cfg.app_per_minute, 60.0, monotonic=monotonic, sleep=sleep, platform=PLATFORM)
        # The access token: how often WeCom refused it in a row, when the next refresh may be tried,
        # a generation count (a call that failed with an older token just retries), whom we told.
        self._token_lock = asyncio.Lock()
        self._token_gen = 0
        self._token_refreshes = 0
        self._token_retry_at = 0.0
        self._token_reported = False
        self._token_chats: dict[str, ChatRef] = {}
        # Whom a mention names: "@<display>" → userid, so a robot post notifies them (mentioned_list).
        self._mentions: OrderedDict[str, str] = OrderedDict()
        self._by_name: dict[str, str] | None = None
        self._tasks: set[asyncio.Task] = set()
        self._chains: dict[str, asyncio.Task] = {}
        self._handling = asyncio.Semaphore(cfg.concurrent_callbacks)
        self._info: dict[str, ChatInfo] = {cid: ChatInfo("app") for cid in cfg.app_chats}
        self._names: dict[str, str] = {}  # display names of group members, from groupchat/get
        self._locks: dict[str, asyncio.Lock] = {}
        self._welcome: dict[str, tuple[str, datetime]] = {}
        self._response_urls: dict[str, tuple[str, datetime]] = {}
        self._ids = itertools.count(1)
        self._http: ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self._archive_source = archive_source
        self._archive_decoder = None
        self._archive_task: asyncio.Task | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        for row in await self.state.chats():
            if row.chat_id in self.cfg.app_chats:
                continue
            self._info[row.chat_id] = ChatInfo(row.kind, row.name, row.owner, row.admins, row.refreshed_at)
        self._names.update(await self.member_lists.names())
        if self.cfg.archive_source or self._archive_source is not None:
            from bot.platforms.wecom_archive import ArchiveDecoder, load_source

            if self._archive_source is None:
                self._archive_source = load_source(self.cfg.archive_source, self.cfg.archive_options)
            self._archive_decoder = ArchiveDecoder.from_files(self.cfg.archive_private_keys, self._resolve_path)
        self._http = ClientSession(timeout=ClientTimeout(total=self.cfg.http_timeout))
        web_app = web.Application(client_max_size=2 * 1024 * 1024)
        web_app.router.add_get(self.cfg.path, self._verify_url)
        web_app.router.add_post(self.cfg.path, self._callback)
        if self.aibot_crypto is not None:
            web_app.router.add_get(self.cfg.aibot_path, self._aibot_verify_url)
            web_app.router.add_post(self.cfg.aibot_path, self._aibot_callback)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        # What a previous run received and did not finish goes first, in the order it came.
        for entry in await self.sink.intake.pending(PLATFORM):
            self._spawn(self._process(entry, fresh=False), order=self._order_of(entry.payload))
        site = web.TCPSite(self._runner, self.cfg.listen, self.cfg.port)
        await site.start()
        self.port = self._runner.addresses[0][1] if self.cfg.port == 0 else self.cfg.port
        if self._archive_decoder is not None and self.cfg.archive_poll_seconds > 0:
            self._archive_task = asyncio.create_task(self._archive_loop())
        log.info("WeCom callback server on %s:%s%s", self.cfg.listen, self.port, self.cfg.path)

    @property
    def not_ready(self) -> str | None:
        return None if self._runner is not None and self.port is not None else "the callback server is not listening"

    async def stop(self) -> None:
        if self._archive_task is not None:
            self._archive_task.cancel()
            await asyncio.gather(self._archive_task, return_exceptions=True)
            self._archive_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.drain(timeout=10)
        if self._tasks:
            log.warning("WeCom: %d callbacks or queued messages were still waiting at shutdown and are dropped", len(self._tasks))
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def callback_url(self) -> str:
        host = "127.0.0.1" if self.cfg.listen in ("0.0.0.0", "::") else self.cfg.listen
        return f"http://{host}:{self.port}{self.cfg.path}"

    @property
    def aibot_url(self) -> str:
        host = "127.0.0.1" if self.cfg.listen in ("0.0.0.0", "::") else self.cfg.listen
        return f"http://{host}:{self.port}{self.cfg.aibot_path}"

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every acknowledged callback has been handled (tests; shutdown)."""
        while self._tasks:
            done, _ = await asyncio.wait(set(self._tasks), timeout=timeout)
            if not done:
                break

    def _spawn(self, coro: Awaitable[Any], order: str | None = None, *, limited: bool = True) -> asyncio.Task:
        """Run `coro` in the background. Tasks with the same `order` key (one chat, one employee,
        one recipient's queued messages) run in the order they were spawned, others concurrently;
        `limited` ones take one of the concurrent_callbacks slots while they run."""
        if order is not None:
            before = self._chains.get(order)
            coro = self._after(before, coro, self._handling if limited else None)
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        if order is not None:
            self._chains[order] = task
            task.add_done_callback(lambda t, k=order: self._chains.pop(k, None) if self._chains.get(k) is t else None)
        return task

    @staticmethod
    async def _after(before: asyncio.Task | None, coro: Awaitable[Any], slots: asyncio.Semaphore | None) -> Any:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        if slots is None:
            return await coro
        async with slots:  # at most concurrent_callbacks handled at once (database writers)
            return await coro

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handling a WeCom callback failed", exc_info=task.exception())

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    # --- what the platform can do, per chat ----------------------------------------------------
    def kind(self, chat_id: str) -> str:
        if chat_id.startswith(DM_PREFIX):
            return "dm"
        if chat_id.startswith(CONTACTS_PREFIX):
            return "contacts"
        if chat_id in self.cfg.app_chats:
            return "app"
        info = self._info.get(chat_id)
        return info.kind if info else "unknown"

    def can_in(self, chat: ChatRef, capability: Capability) -> bool:
        """KICK only in groups the app created; ADMIN_LIST only where there are admins to name;
        SEND only where Qunzhu has a way to post (app chat, DM, robot key, a fresh 智能机器人
        response_url, or a new contact's open welcome window); photos through robots, app chats
        and DMs."""
        kind = self.kind(chat.id)
        here = self.capabilities | (Capability.KICK if kind == "app" else Capability(0))
        if capability & ~here:
            return False
        if Capability.ADMIN_LIST in capability and kind not in ("app", "customer", "contacts"):
            return False
        if Capability.SEND in capability and not self._can_post(chat.id, kind):
            return False
        if Capability.SEND_PHOTO in capability and not (kind in ("dm", "app") or chat.id in self.cfg.robots):
            return False
        return True

    def _can_post(self, chat_id: str, kind: str) -> bool:
        if kind in ("dm", "app"):
            return True
        if kind == "contacts":
            return self._welcome_code(chat_id) is not None
        return chat_id in self.cfg.robots or self._response_url(chat_id, peek=True) is not None

    def mention(self, user: UserRef) -> str:
        """"@name" in the text; a robot post carrying it also names the member in mentioned_list,
        so WeCom notifies them (send() finds the mention again, also after a restart by the
        member names read from groupchat/get)."""
        name = user.display
        self._mentions[name] = user.id
        self._mentions.move_to_end(name)
        while len(self._mentions) > 4096:
            self._mentions.popitem(last=False)
        return f"@{name}"

    def _mentioned(self, text: str) -> list[str]:
        """The userids of the members `text` mentions ("@name"), in order, each once."""
        if "@" not in text:
            return []
        if self._by_name is None:
            by_name: dict[str, str | None] = {}
            for userid, name in self._names.items():
                by_name[name] = None if name in by_name and by_name[name] != userid else userid
            self._by_name = {k: v for k, v in by_name.items() if v}  # ambiguous names name nobody
        found: list[str] = []
        for match in re.finditer("@", text):
            rest = text[match.end(): match.end() + MENTION_NAME_MAX]
            for length in range(len(rest), 0, -1):  # the longest name that fits
                candidate = rest[:length]
                userid = self._mentions.get(candidate) or self._by_name.get(candidate)
                if userid:
                    if userid not in found:
                        found.append(userid)
                    break
        return found

    # --- callback server ---------------------------------------------------------------------
    async def _verify_url(self, request: web.Request) -> web.Response:
        return self._echo(request, self.crypto)

    async def _aibot_verify_url(self, request: web.Request) -> web.Response:
        return self._echo(request, self.aibot_crypto)

    def _echo(self, request: web.Request, crypto: WeChatCrypto) -> web.Response:
        q = request.query
        try:
            echo = crypto.check_signature(
                q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"].replace(" ", "+")
            )
        except KeyError as exc:
            return web.Response(status=400, text=f"missing query parameter {exc.args[0]}")
        except (InvalidSignatureException, InvalidCorpIdException):
            log.warning("WeCom URL verification with a wrong signature or corp id from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        except Exception:
            return web.Response(status=400, text="bad echostr")
        return web.Response(text=echo)

    def _open(self, crypto: WeChatCrypto, encrypted: str | dict, q) -> tuple[int, str]:
        """(status, plaintext or reason)."""
        try:
            return 200, crypto.decrypt_message(encrypted, q["msg_signature"], q["timestamp"], q["nonce"])
        except KeyError as exc:
            return 400, f"missing {exc.args[0]}"
        except InvalidSignatureException:
            return 403, "wrong signature"
        except InvalidCorpIdException:
            if isinstance(encrypted, str) and self._suite_callback(crypto, encrypted):
                return 204, "third-party suite callback"
            return 403, "wrong corp id"
        except Exception as exc:  # malformed XML, bad base64 or padding
            return 400, f"undecodable body ({type(exc).__name__})"

    @staticmethod
    def _suite_callback(crypto: WeChatCrypto, body: str) -> bool:
        """A correctly signed message encrypted for another receive id: a third-party suite's
        callback (its receive id is the SuiteId) when its XML has SuiteId/InfoType."""
        import socket
        import struct

        from wechatpy.crypto import WeChatCipher

        try:
            encrypted = xmltodict.parse(body)["xml"]["Encrypt"]
            plain = WeChatCipher(crypto.key).decrypt(base64.b64decode(encrypted))
            content = plain[16:-plain[-1]]
            length = socket.ntohl(struct.unpack(b"I", content[:4])[0])
            data = xmltodict.parse(content[4:length + 4].decode("utf-8"))["xml"]
            return bool(data.get("SuiteId") or data.get("InfoType"))
        except Exception:
            return False

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.text()
        status, plaintext = self._open(self.crypto, body, request.query)
        if status == 204:
            log.info("WeCom third-party suite callback (encrypted for the suite) ignored")
            return web.Response(text="success")
        if status != 200:
            log.warning("WeCom callback refused (%s) from %s", plaintext, request.remote)
            return web.Response(status=status, text=plaintext)
        try:
            data = xmltodict.parse(plaintext)["xml"]
            if not isinstance(data, dict):
                raise ValueError("empty <xml>")
        except Exception:
            return web.Response(status=400, text="unparseable message")
        if data.get("SuiteId") or data.get("InfoType"):
            # A third-party suite's callback (suite_ticket, create_auth …) on this URL: Qunzhu is a
            # self-built app and has no use for it; a 4xx would only make WeCom send it again.
            log.info("WeCom third-party suite callback %s ignored", data.get("InfoType") or "?")
            return web.Response(text="success")
        return await self._take(self._key_of(data), {"kind": "app", "xml": plaintext}, data)

    @staticmethod
    def _key_of(data: dict[str, Any]) -> str:
        """The intake key: the MsgId of a message; for an event (no MsgId) the fields that make it
        one event — WeCom repeats them unchanged when it delivers it again."""
        msg_id = str(data.get("MsgId") or "").strip()
        if msg_id and msg_id != "0":
            return f"msg:{msg_id}"
        fields = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType", "ChatId",
                  "UpdateDetail", "UserID", "ExternalUserID", "EventKey", "AgentID", "JoinScene", "QuitScene",
                  "MemChangeCnt", "WelcomeCode", "State")
        stable = "|".join(f"{f}={data.get(f) or ''}" for f in fields)
        return "evt:" + hashlib.sha1(stable.encode()).hexdigest()

    async def _take(self, key: str, payload: dict[str, Any], data: dict[str, Any]) -> web.Response:
        """Store, then answer, then handle: the intake's contract (bot/intake.py)."""
        try:
            entry = await self.sink.intake.receive(PLATFORM, key, payload)
        except IntakeUnavailable:
            return web.Response(status=503, text="try again")  # WeCom sends it again
        if entry is not None:
            self._spawn(self._process(entry), order=self._order_of(payload, data))
        return web.Response(text="success" if payload["kind"] == "app" else "")

    def _order_of(self, payload: dict[str, Any], data: dict[str, Any] | None = None) -> str | None:
        """Updates of one chat (or one employee) are handled in the order they came."""
        try:
            if payload.get("kind") == "aibot":
                d = payload.get("data") or {}
                return d.get("chatid") or (d.get("from") or {}).get("userid")
            d = data if data is not None else xmltodict.parse(payload["xml"])["xml"]
            return d.get("ChatId") or d.get("UserID") or d.get("FromUserName")
        except Exception:
            return None

    async def _aibot_callback(self, request: web.Request) -> web.Response:
        try:
            envelope = json.loads(await request.text())
            encrypted = {"Encrypt": envelope["encrypt"]}
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="expected {\"encrypt\": …}")
        status, plaintext = self._open(self.aibot_crypto, encrypted, request.query)
        if status != 200:
            log.warning("WeCom 智能机器人 callback refused (%s) from %s", plaintext, request.remote)
            return web.Response(status=status, text=plaintext)
        try:
            data = json.loads(plaintext)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            return web.Response(status=400, text="unparseable message")
        key = "aibot:" + str(data.get("msgid") or hashlib.sha1(plaintext.encode()).hexdigest())
        return await self._take(key, {"kind": "aibot", "data": data}, data)

    async def _process(self, entry: InboxItem, *, fresh: bool = True) -> None:
        """Translate a stored update into events and hand them to the intake. `fresh`: received
        just now (False: left by a previous run — its WelcomeCode, valid 20 s, is long gone)."""
        welcome: tuple[str, str] | None = None
        try:
            if entry.payload.get("kind") == "aibot":
                events = await self._aibot_events(entry.payload["data"])
            else:
                events, welcome = await self._app_events(entry.payload["xml"])
        except Exception:
            log.exception("WeCom update %s could not be translated; it is dropped", entry.key)
            events, welcome = [], None
        if welcome is not None and fresh:
            chat_id, code = welcome
            async with self._lock(chat_id):
                self._welcome[chat_id] = (code, self.sink.clock.now() + WELCOME_WINDOW)
                try:
                    await self.sink.intake.handle(entry, events)
                finally:
                    self._welcome.pop(chat_id, None)
            return
        await self.sink.intake.handle(entry, events)

    async def _dispatch(self, event: Event) -> None:
        """The archive's path (its own cursor de-duplicates; it does not go through the intake)."""
        result = await self.sink.dispatch(event)
        for where, exc in result.errors:
            log.warning("%s failed on a WeCom %s: %s", where, type(event).__name__, exc)

    # --- incoming ----------------------------------------------------------------------------
    async def _app_events(self, plaintext: str) -> tuple[list[Event], tuple[str, str] | None]:
        """The events of one app callback, and (chat id, WelcomeCode) when it opens a welcome window."""
        message = parse_message(plaintext)
        kind = message.type
        data = message._data
        if kind == "event":
            event = getattr(message, "event", "")
            if event == "change_external_chat":
                return await self._external_chat_changed(data), None
            if event == "change_external_contact":
                return self._external_contact_changed(data)
            if event == "enter_agent":
                return await self._entered_agent(message.source), None
            log.debug("WeCom event %s not used", event)
            return [], None
        agent = getattr(message, "agent", 0)
        if agent and self.cfg.agent_id and int(agent) != int(self.cfg.agent_id):
            log.debug("WeCom message for agent %s ignored (this is agent %s)", agent, self.cfg.agent_id)
            return [], None
        user = UserRef(PLATFORM, message.source)
        chat = dm_chat(message.source)
        self._info.setdefault(chat.id, ChatInfo("dm"))
        now = self.sink.clock.now()
        msg_id = str(message.id)
        if kind == "text":
            return [self._text_event(chat, user, now, msg_id, message.content or "", f"wecom:msg:{msg_id}")], None
        if kind in ("image", "voice", "video", "file", "location", "link"):
            media_kind = {"image": "photo", "link": "link_card"}.get(kind, kind)
            media = Media(media_kind, file_id=getattr(message, "media_id", "") or "", data=dict(data))
            return [MessageReceived(chat, user, now, msg_id, media=(media,), dedupe_key=f"wecom:msg:{msg_id}")], None
        return [], None

    @staticmethod
    def _text_event(chat: ChatRef, user: UserRef, at: datetime, msg_id: str, text: str, dedupe: str) -> Event:
        parsed = parse_command(text.strip())
        if parsed is not None:
            name, args = parsed
            return CommandInvoked(chat, user, at, message_id=msg_id, name=name, args=args, text=text)
        return MessageReceived(chat, user, at, message_id=msg_id, text=text, dedupe_key=dedupe)

    async def _entered_agent(self, userid: str) -> list[Event]:
        """An employee opened the app. The first time is a MemberJoined in their DM chat (where
        DM questionnaires and help start); later visits are not events."""
        chat = dm_chat(userid)
        self._info.setdefault(chat.id, ChatInfo("dm"))
        first = await self.member_lists.add(chat.id, MemberInfo(userid, 1), kind="dm")
        return [MemberJoined(chat, UserRef(PLATFORM, userid), self.sink.clock.now())] if first else []

    async def _external_chat_changed(self, data: dict[str, Any]) -> list[Event]:
        chat_id = data.get("ChatId")
        change = data.get("ChangeType")
        if not chat_id:
            return []
        async with self._lock(chat_id):
            now = self.sink.clock.now()
            if change == "dismiss":
                self._info[chat_id] = ChatInfo("customer", fetched_at=now)
                await self.member_lists.dismissed(chat_id, now)
                log.info("WeCom customer group %s was dismissed", chat_id)
                return []
            group = await self._group_chat(chat_id)
            if group is None:
                return []
            members = [
                MemberInfo(
                    str(m.get("userid")),
                    int(m.get("type") or 0),
                    m.get("group_nickname") or m.get("name") or None,
                    m.get("join_time"),
                    m.get("join_scene"),
                    (m.get("invitor") or {}).get("userid"),
                )
                for m in group.get("member_list", [])
                if m.get("userid")
            ]
            self._names.update({m.user_id: m.name for m in members if m.name})
            self._by_name = None
            diff = await self.member_lists.replace(chat_id, members, now)
            added, removed = diff.added, diff.removed
            if change == "create":
                return []  # the first member list; nobody "joined" a group that did not exist
            if not diff.had_list:
                # No earlier list to compare with: only members whose join time is this event's
                # are new (WeCom stamps both); leaves cannot be known.
                created = int(data.get("CreateTime") or 0)
                added = [m for m in added if m.join_time and created and m.join_time >= created - 300]
                removed = []
            chat = ChatRef(PLATFORM, chat_id, group.get("name") or None)
            owner = group.get("owner")
            events: list[Event] = []
            for m in added:
                invited_by = UserRef(PLATFORM, m.invitor) if m.invitor else None
                events.append(MemberJoined(chat, UserRef(PLATFORM, m.user_id, name=m.name), now, invited_by=invited_by))
            quit_scene = str(data.get("QuitScene") or "")
            for m in removed:
                by = UserRef(PLATFORM, owner) if quit_scene == "1" and owner else None
                events.append(MemberLeft(chat, UserRef(PLATFORM, m.user_id, name=m.name), now, removed_by=by))
            return events

    async def _group_chat(self, chat_id: str) -> dict[str, Any] | None:
        """externalcontact/groupchat/get, remembered as the chat's kind, owner and admins."""
        try:
            result = await self._groupchat_get(chat_id)
        except ActionFailed as exc:
            log.warning("cannot read WeCom customer group %s: %s", chat_id, exc)
            return None
        group = result.get("group_chat") or {}
        admins = {a.get("userid") for a in group.get("admin_list", []) if a.get("userid")}
        await self._remember(chat_id, ChatInfo("customer", group.get("name"), group.get("owner"), admins, self.sink.clock.now()))
        return group

    async def _groupchat_get(self, chat_id: str) -> dict[str, Any]:
        """need_name=1: WeCom leaves the members' names out of member_list without it."""
        return await self._api(
            self.client.post, "externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 1},
            what="externalcontact/groupchat/get",
        )

    async def _remember(self, chat_id: str, info: ChatInfo, *, persist_later: bool = False) -> None:
        before = self._info.get(chat_id)
        if info.kind in ("customer", "app") and (before is None or before.kind != info.kind):
            hint = "" if info.kind == "app" or chat_id in self.cfg.robots else f'; to post into it, add its robot key as [wecom] robots."{chat_id}"'
            log.info("WeCom %s group %s (%s), owner %s%s", info.kind, chat_id, info.name or "no name", info.owner or "?", hint)
        self._info[chat_id] = info
        if persist_later:
            # Called while a handler's transaction is open (SQLite allows one writer): store afterwards.
            self._spawn(self._remember(chat_id, info))
            return
        await self.state.save_chat(
            chat_id, kind=info.kind, now=info.fetched_at or self.sink.clock.now(),
            name=info.name, owner=info.owner, admins=sorted(info.admins),
        )

    def _external_contact_changed(self, data: dict[str, Any]) -> tuple[list[Event], tuple[str, str] | None]:
        change = data.get("ChangeType")
        employee = data.get("UserID")
        external = data.get("ExternalUserID")
        if not employee or not external:
            return [], None
        chat = contacts_chat(employee)
        self._info.setdefault(chat.id, ChatInfo("contacts", owner=employee, admins={employee}))
        user = UserRef(PLATFORM, external)
        now = self.sink.clock.now()
        if change in ("add_external_contact", "add_half_external_contact"):
            code = data.get("WelcomeCode")
            return [MemberJoined(chat, user, now)], ((chat.id, code) if code else None)
        if change in ("del_external_contact", "del_follow_user"):
            removed_by = UserRef(PLATFORM, employee) if change == "del_external_contact" else None
            return [MemberLeft(chat, user, now, removed_by=removed_by)], None
        return [], None

    async def _aibot_events(self, data: dict[str, Any]) -> list[Event]:
        """A message that @-ed the 智能机器人 (or a one-to-one chat with it)."""
        msgtype = data.get("msgtype")
        sender = (data.get("from") or {}).get("userid")
        msgid = str(data.get("msgid") or "")
        if not sender or msgtype == "event":
            return []
        now = self.sink.clock.now()
        if data.get("chattype") == "group" and data.get("chatid"):
            info = await self._ensure_info(str(data["chatid"]))
            chat = ChatRef(PLATFORM, str(data["chatid"]), info.name)
        else:
            chat = dm_chat(sender)
            self._info.setdefault(chat.id, ChatInfo("dm"))
        if data.get("response_url"):
            self._response_urls[chat.id] = (data["response_url"], now + RESPONSE_URL_TTL)
        texts, media = [], []
        items = [data] if msgtype != "mixed" else (data.get("mixed") or {}).get("msg_item", [])
        for item in items:
            t_ = item.get("msgtype")
            if t_ == "text":
                texts.append(str((item.get("text") or {}).get("content", "")))
            elif t_ in ("image", "file"):
                media.append(Media("photo" if t_ == "image" else "document", file_id=str((item.get(t_) or {}).get("url", ""))))
        text = LEADING_MENTION.sub("", "\n".join(texts), count=1) if chat.id != dm_chat(sender).id else "\n".join(texts)
        user = UserRef(PLATFORM, str(sender), name=self._names.get(str(sender)))
        event = self._text_event(chat, user, now, msgid, text, f"wecom:aibot:{msgid}")
        if isinstance(event, MessageReceived):
            if media:
                event = MessageReceived(chat, user, now, msgid, text=text, media=tuple(media), dedupe_key=event.dedupe_key)
            if self._archive_source is not None and chat.id != dm_chat(sender).id:
                return []  # the archive delivers every group message; take only commands from here
        return [event]

    async def _ensure_info(self, chat_id: str) -> ChatInfo:
        """Know a group's kind (app / customer) before its events reach the handlers, so
        `can_in(chat, KICK)` and `admin_ids` answer without a round trip during dispatch."""
        info = self._info.get(chat_id)
        if info is not None and not self._stale(info):
            return info
        async with self._lock(chat_id):
            info = self._info.get(chat_id)
            if info is not None and not self._stale(info):
                return info
            info = await self._read_chat(chat_id)
            await self._remember(chat_id, info)
            return info

    async def _kind_now(self, chat_id: str) -> str:
        """The chat's kind, asking WeCom if it was never seen (e.g. a column's first post into a
        group listed only in the config). Runs inside a handler: no database here."""
        kind = self.kind(chat_id)
        known = self._info.get(chat_id)
        if kind == "unknown" and (known is None or self._stale(known)):
            info = await self._read_chat(chat_id)
            await self._remember(chat_id, info, persist_later=True)
            kind = info.kind
        return kind

    def _stale(self, info: ChatInfo) -> bool:
        if info.kind in ("dm", "contacts"):
            return False
        if info.fetched_at is None:
            return True
        return self.sink.clock.now() - info.fetched_at > timedelta(seconds=self.cfg.chat_info_seconds)

    async def _read_chat(self, chat_id: str) -> ChatInfo:
        now = self.sink.clock.now()
        order = ["app", "customer"] if self.kind(chat_id) == "app" else ["customer", "app"]
        for kind in order:
            try:
                if kind == "customer":
                    group = (await self._groupchat_get(chat_id)).get("group_chat") or {}
                    admins = {a.get("userid") for a in group.get("admin_list", []) if a.get("userid")}
                    for m in group.get("member_list", []):
                        name = m.get("group_nickname") or m.get("name")
                        if m.get("userid") and name:
                            self._names[str(m["userid"])] = name
                            self._by_name = None
                    return ChatInfo("customer", group.get("name"), group.get("owner"), admins, now)
                chat = await self._api(self.client.appchat.get, chat_id, what="appchat/get")
                return ChatInfo("app", chat.get("name"), chat.get("owner"), set(), now)
            except ActionFailed as exc:
                log.debug("WeCom chat %s is not a %s chat: %s", chat_id, kind, exc)
        return ChatInfo("unknown", fetched_at=now)

    # --- the message archive -------------------------------------------------------------------
    async def _archive_loop(self) -> None:
        while True:
            try:
                await self.poll_archive()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the WeCom message archive failed")
            await asyncio.sleep(self.cfg.archive_poll_seconds)

    async def poll_archive(self) -> int:
        """Read the archive from the stored cursor and dispatch its group messages; returns how
        many records were read. Each is handled once (cursor + msgid de-duplication)."""
        from bot.platforms.wecom_archive import ArchiveError, to_event

        source, decoder = self._archive_source, self._archive_decoder
        if source is None or decoder is None:
            return 0
        total = 0
        while True:
            seq = await self.state.archive_seq(source.name)
            records = await asyncio.to_thread(source.get_chat_data, seq, self.cfg.archive_batch)
            records = sorted((r for r in records if r.seq > seq), key=lambda r: r.seq)
            if not records:
                return total
            for record in records:
                try:
                    message = await asyncio.to_thread(decoder.open, source, record)
                except ArchiveError as exc:
                    log.error("WeCom archive: %s (skipped)", exc)
                    message = None
                event = to_event(message, self._names.get) if message else None
                if event is not None:
                    info = await self._ensure_info(event.chat.id)
                    if info.name:
                        event = dataclasses.replace(event, chat=ChatRef(PLATFORM, event.chat.id, info.name))
                    await self._dispatch(event)
                await self.state.set_archive_seq(source.name, record.seq, self.sink.clock.now())
            total += len(records)

    # --- outgoing ----------------------------------------------------------------------------
    async def _api(
        self, fn: Callable[..., Any], *args: Any, what: str, pace: str | None = None, right: str | None = None,
        once: bool = False, about: ChatRef | None = None, **kwargs: Any,
    ) -> Any:
        """One wechatpy call in a thread. 45009 is waited out and retried; a refused access token
        (42001/40014) is refreshed once and the call tried once more; other errors become
        ActionFailed. `once`: a send without idempotency key — wire.mark() right before it leaves,
        and a timeout after it left is ActionUncertain. `about`: the chat it is for (whose admins
        hear of a token WeCom keeps refusing)."""
        attempt = 0
        refreshed = False
        while True:
            if pace is not None:
                await self.app_pace.acquire(pace)
            if once:
                await wire.mark()
            generation = self._token_gen
            try:
                result = await asyncio.to_thread(fn, *args, **kwargs)
            except WeChatClientException as exc:
                if exc.errcode in RATE_LIMITED:
                    metrics.RATE_LIMITED.labels(platform=PLATFORM).inc()
                if exc.errcode in TOKEN_ERRORS:
                    if not refreshed:
                        refreshed = True
                        if self._token_gen != generation or await self._refresh_token():
                            continue  # the same request again with the new token (WeCom refused it: it did nothing)
                    raise self._token_refused(exc, what, about) from None
                if exc.errcode in RATE_LIMITED and attempt < self.cfg.rate_limit_retries:
                    attempt += 1
                    log.warning("WeCom says %s is too frequent (errcode %s); retrying in %ss", what, exc.errcode, self.cfg.rate_limit_retry_seconds)
                    await self._sleep(self.cfg.rate_limit_retry_seconds)
                    continue
                raise _failure(exc, what, right) from None
            except requests.RequestException as exc:
                if once and _may_have_arrived(exc):
                    raise ActionUncertain(f"{what}: no answer from WeCom after the request went out ({type(exc).__name__}); not sent again") from None
                raise ActionFailed("other", f"{what}: WeCom API unreachable at {self.cfg.api_base_url} ([wecom] api_base_url): {_without_query(exc)}") from None
            self._token_ok()
            return result

    async def _refresh_token(self) -> bool:
        """gettoken, unless WeCom refused fresh tokens lately: then not before the backoff is over
        (2 s, doubling, at most 5 min), so a server that keeps answering 42001 is not hammered."""
        async with self._token_lock:
            now = self._monotonic()
            if now < self._token_retry_at:
                return False
            self._token_refreshes += 1
            delay = min(TOKEN_BACKOFF_FIRST * 2 ** (self._token_refreshes - 1), TOKEN_BACKOFF_MAX)
            self._token_retry_at = now + delay  # cleared by the next call WeCom accepts
            try:
                await asyncio.to_thread(self.client.fetch_access_token)
            except (WeChatClientException, requests.RequestException) as exc:
                log.warning("WeCom gettoken failed: %s", exc)
                return False
            self._token_gen += 1
            return True

    def _token_refused(self, exc: WeChatClientException, what: str, about: ChatRef | None) -> ActionFailed:
        if not self._token_reported:
            self._token_reported = True
            log.error("%s (%s)", t("en", "wecom.token_refused", code=exc.errcode), what)
        if about is not None and about.key not in self._token_chats and not about.private:
            self._token_chats[about.key] = about
            self._spawn(self._tell_admins(about, "wecom.token_refused", code=exc.errcode), limited=False)
        return ActionFailed("other", f"{what}: WeCom refuses the access token (errcode {exc.errcode} {exc.errmsg}) even after a refresh")

    def _token_ok(self) -> None:
        if self._token_refreshes == 0 and not self._token_reported:
            return
        self._token_refreshes, self._token_retry_at = 0, 0.0
        if self._token_reported:
            self._token_reported = False
            chats, self._token_chats = list(self._token_chats.values()), {}
            log.warning("%s", t("en", "wecom.token_back"))
            for chat in chats:
                self._spawn(self._tell_admins(chat, "wecom.token_back"), limited=False)

    async def _tell_admins(self, chat: ChatRef, key: str, **values: Any) -> None:
        """Outside any transaction; by DM where WeCom takes it, else in the group (a robot needs no token)."""
        try:
            await self.sink.tell_admins(chat, lambda lang: t(lang, key, **values))
        except (ActionFailed, CapabilityMissing) as exc:
            log.warning("could not tell the admins of %s: %s", chat.key, exc)

    async def _paced(
        self, limiter: RateLimiter, key: str, chat: ChatRef | None, deliver: Callable[[], Awaitable[SentMessage]]
    ) -> SentMessage:
        """Deliver now when `key` (a robot, a chat, a recipient) is under its limit; otherwise
        queue it behind that key's earlier messages and return at once. Sends happen inside a
        handler's database transaction: waiting a minute there would hold up every other event
        (SQLite has one writer). A queued message is sent when the window rolls over; if WeCom
        still refuses it, that is logged (it is never silently dropped)."""
        lane = f"out:{key}"
        if lane not in self._chains and limiter.would_wait(key) <= 0:
            return await deliver()
        placeholder = self._sent(chat)

        async def later() -> None:
            try:
                await deliver()
            except (ActionFailed, CapabilityMissing) as exc:
                log.error("a queued WeCom message for %s could not be delivered: %s", key, exc)

        log.debug("WeCom limit reached for %s: message queued", key)
        self._spawn(later(), order=lane, limited=False)
        return placeholder

    def _robot_url(self, chat_id: str) -> str | None:
        key = self.cfg.robots.get(chat_id)
        if not key:
            return None
        return key if key.startswith(("http://", "https://")) else f"{self.cfg.api_base_url}webhook/send?key={key}"

    async def _robot_post(self, chat_id: str, payload: dict[str, Any]) -> None:
        """Through the group's robot: at most robot_per_minute per robot, 45009 obeyed; wire.mark()
        after the pacing wait, right before the post leaves; no answer after that is ActionUncertain."""
        url = self._robot_url(chat_id)
        assert url is not None and self._http is not None
        right = f'[wecom] robots."{chat_id}"'
        attempt = 0
        while True:
            await self.robot_pace.acquire(url)
            await wire.mark()
            try:
                async with self._http.post(url, json=payload) as response:
                    if response.status >= 400:
                        raise ActionFailed("other", f"group robot of {chat_id}: HTTP {response.status}")
                    result = await response.json(content_type=None)
            except ClientConnectorError as exc:  # never connected: nothing left
                raise ActionFailed("other", f"group robot of {chat_id} unreachable: {exc}") from None
            except (asyncio.TimeoutError, ClientError, ValueError) as exc:
                raise ActionUncertain(f"group robot of {chat_id}: no answer after the post went out ({type(exc).__name__}); not sent again") from None
            code = int(result.get("errcode") or 0)
            if code == 0:
                return
            if code in RATE_LIMITED:
                metrics.RATE_LIMITED.labels(platform=PLATFORM).inc()
            if code in RATE_LIMITED and attempt < self.cfg.rate_limit_retries:
                attempt += 1
                log.warning("group robot of %s is over its limit (errcode %s); retrying in %ss", chat_id, code, self.cfg.rate_limit_retry_seconds)
                await self._sleep(self.cfg.rate_limit_retry_seconds)
                continue
            if code in (93000, 93004, 40001, 40014):
                raise ActionFailed("no_rights", f"group robot of {chat_id}: errcode {code} ({result.get('errmsg')}); check {right}", right=right)
            raise ActionFailed("other", f"group robot of {chat_id}: errcode {code} ({result.get('errmsg')})")

    def _robot_text(self, text: str) -> dict[str, Any]:
        """A robot text; members it mentions are named in mentioned_list so WeCom notifies them."""
        payload: dict[str, Any] = {"content": text}
        mentioned = self._mentioned(text)
        if mentioned:
            payload["mentioned_list"] = mentioned
        return {"msgtype": "text", "text": payload}

    def _response_url(self, chat_id: str, *, peek: bool = False) -> str | None:
        entry = self._response_urls.get(chat_id)
        if entry is None or entry[1] <= self.sink.clock.now():
            return None
        if not peek:
            del self._response_urls[chat_id]  # usable once
        return entry[0]

    def _welcome_code(self, chat_id: str) -> str | None:
        entry = self._welcome.get(chat_id)
        if entry is None or entry[1] <= self.sink.clock.now():
            return None
        return entry[0]

    def _sent(self, chat: ChatRef | None, msgid: Any = None) -> SentMessage:
        return SentMessage(chat, str(msgid) if msgid else f"wecom-local-{next(self._ids)}")

    async def send(
        self, chat: ChatRef, text: str, *, reply_to: str | None = None, buttons: Buttons | None = None,
        thread_id: str | None = None,
    ) -> SentMessage:
        # WeCom has no threaded replies, no topics and no inline buttons: `reply_to`, `thread_id`
        # and `buttons` are not expressible (BUTTONS and REPLY are not declared, so handlers do not
        # pass them). A text over 2,048 bytes goes out as several messages, in order.
        cid = chat.id
        kind = await self._kind_now(cid)
        if kind == "dm":
            return await self._message_send(cid[len(DM_PREFIX):], text, chat)
        if kind == "contacts":
            code = self._welcome_code(cid)
            if code is None:
                raise ActionFailed(
                    "dm_blocked",
                    "WeCom lets the app write to a new external contact only once, within 20 s of the "
                    "add_external_contact callback (send_welcome_msg); that window has passed",
                )
            self._welcome.pop(cid, None)  # one welcome per code
            await self._api(
                self.client.external_contact.send_welcome_msg,
                {"welcome_code": code, "text": {"content": text}},
                what="externalcontact/send_welcome_msg", once=True, about=chat,
            )
            return self._sent(chat)
        if kind == "app":
            first: SentMessage | None = None
            for piece in split_text(text):

                async def appchat(piece: str = piece) -> SentMessage:
                    result = await self._api(self.client.appchat.send_text, cid, piece, what="appchat/send", pace=cid, once=True, about=chat)
                    return self._sent(chat, result.get("msgid") if isinstance(result, dict) else None)

                sent = await self._paced(self.app_pace, cid, chat, appchat)
                first = first or sent
            assert first is not None
            return first
        if cid in self.cfg.robots:
            first = None
            for piece in split_text(text):

                async def robot(piece: str = piece) -> SentMessage:
                    await self._robot_post(cid, self._robot_text(piece))
                    return self._sent(chat)

                sent = await self._paced(self.robot_pace, self._robot_url(cid), chat, robot)
                first = first or sent
            assert first is not None
            return first
        url = self._response_url(cid)
        if url is not None:
            await self._response_post(url, text, cid)
            return self._sent(chat)
        raise ActionFailed(
            "no_rights",
            f"Qunzhu cannot post into WeCom group {cid}: it is not a group the app created; add the group's "
            f"robot webhook key to [wecom] robots.\"{cid}\"",
            right=f'[wecom] robots."{cid}"',
        )

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str = "", *, thread_id: str | None = None) -> SentMessage:
        """Robots take the image inline (base64, ≤ 2 MB); app chats and DMs take an uploaded
        media_id. A caption goes out as a text just before the image (WeCom images have none)."""
        cid = chat.id
        kind = await self._kind_now(cid)
        if kind in ("dm", "app"):
            key = DM_PREFIX + cid[len(DM_PREFIX):] if kind == "dm" else cid
            media_id = await self._upload(photo)

            async def app_photo() -> SentMessage:
                for piece in split_text(caption) if caption else []:
                    if kind == "dm":
                        await self._api(self.client.message.send_text, self.cfg.agent_id, [cid[len(DM_PREFIX):]], piece,
                                        what="message/send", pace=key, once=True)
                    else:
                        await self._api(self.client.appchat.send_text, cid, piece, what="appchat/send", pace=key, once=True, about=chat)
                if kind == "dm":
                    result = await self._api(
                        self.client.message.send, self.cfg.agent_id, [cid[len(DM_PREFIX):]],
                        msg={"msgtype": "image", "image": {"media_id": media_id}}, what="message/send", pace=key, once=True,
                    )
                else:
                    result = await self._api(self.client.appchat.send, cid, "image", media_id=media_id, what="appchat/send",
                                             pace=key, once=True, about=chat)
                return self._sent(chat, result.get("msgid") if isinstance(result, dict) else None)

            return await self._paced(self.app_pace, key, chat, app_photo)
        if cid in self.cfg.robots:
            if len(photo) > 2 * 1024 * 1024:
                raise ActionFailed("other", f"a group robot takes images up to 2 MB (this one is {len(photo) // 1024} KB)")
            image = {"base64": base64.b64encode(photo).decode(), "md5": hashlib.md5(photo).hexdigest()}

            async def robot_photo() -> SentMessage:
                for piece in split_text(caption) if caption else []:
                    await self._robot_post(cid, self._robot_text(piece))
                await self._robot_post(cid, {"msgtype": "image", "image": image})
                return self._sent(chat)

            return await self._paced(self.robot_pace, self._robot_url(cid), chat, robot_photo)
        raise CapabilityMissing(self.name, Capability.SEND_PHOTO, f"{cid} has no group robot ([wecom] robots.\"{cid}\")")

    async def _upload(self, photo: bytes) -> str:
        result = await self._api(self.client.media.upload, "image", ("image.png", io.BytesIO(photo)), what="media/upload")
        return str(result["media_id"])

    async def _response_post(self, url: str, text: str, chat_id: str) -> None:
        assert self._http is not None
        try:
            async with self._http.post(url, json={"msgtype": "markdown", "markdown": {"content": text}}) as response:
                result = await response.json(content_type=None)
        except (ClientError, ValueError) as exc:
            raise ActionFailed("other", f"智能机器人 reply into {chat_id} failed: {exc}") from None
        if int(result.get("errcode") or 0) != 0:
            raise ActionFailed("other", f"智能机器人 reply into {chat_id}: errcode {result.get('errcode')} ({result.get('errmsg')})")

    async def _message_send(self, userid: str, text: str, chat: ChatRef | None = None) -> SentMessage:
        if is_external(userid):
            raise ActionFailed("dm_blocked", f"{userid} is an external contact; the app can message only employees")
        key = DM_PREFIX + userid
        first: SentMessage | None = None
        for piece in split_text(text):

            async def deliver(piece: str = piece) -> SentMessage:
                result = await self._api(self.client.message.send_text, self.cfg.agent_id, [userid], piece,
                                         what="message/send", pace=key, once=True)
                invalid = str(result.get("invaliduser") or "") if isinstance(result, dict) else ""
                if userid in invalid.split("|"):
                    raise ActionFailed("dm_blocked", f"{userid} is not in the app's visible range (message/send invaliduser)")
                return self._sent(chat or dm_chat(userid), result.get("msgid") if isinstance(result, dict) else None)

            sent = await self._paced(self.app_pace, key, chat or dm_chat(userid), deliver)
            first = first or sent
        assert first is not None
        return first

    async def dm(self, user: UserRef, text: str, *, buttons: Buttons | None = None) -> SentMessage:
        return await self._message_send(user.id, text)

    async def kick(self, chat: ChatRef, user: UserRef) -> None:
        kind = await self._kind_now(chat.id)
        if kind != "app":
            raise CapabilityMissing(
                self.name,
                Capability.KICK,
                f"{chat.id} is a {kind} chat; WeCom lets the app remove members only from groups it created "
                "(appchat) — tell the owner (admin_ids) to remove them by hand",
            )
        await self._api(self.client.appchat.update, chat.id, del_user_list=[user.id], what="appchat/update")

    async def admin_ids(self, chat: ChatRef) -> set[str]:
        """Customer groups: the owner and the group admins (employees) from groupchat/get. App
        chats: the owner from appchat/get. A new contact's chat: the employee."""
        kind = self.kind(chat.id)
        if kind == "dm":
            return set()
        if kind == "contacts":
            return {chat.id[len(CONTACTS_PREFIX):]}
        info = self._info.get(chat.id)
        if info is None or self._stale(info):
            info = await self._read_chat(chat.id)
            await self._remember(chat.id, info, persist_later=True)
        return ({info.owner} if info.owner else set()) | set(info.admins)

    async def owner_ids(self, chat: ChatRef) -> set[str]:
        if self.kind(chat.id) in ("dm", "contacts"):
            return set()
        info = self._info.get(chat.id)
        if info is None or self._stale(info):
            await self.admin_ids(chat)
            info = self._info.get(chat.id)
        return {info.owner} if info is not None and info.owner else set()

    # --- web sign-in ---------------------------------------------------------------------------
    async def user_of_login_code(self, code: str) -> str:
        """The member a WeCom web sign-in names: the `code` WeCom put on the OAuth redirect (网页授权
        inside the client, or the QR login in a browser) → auth/getuserinfo (documents 91023, 98176).
        A code works once, within 5 minutes. not_found when WeCom refuses the code (the errcode is
        named) or names someone outside the company (an openid / external_userid, no userid)."""

        def getuserinfo() -> dict[str, Any]:
            try:
                return self.client.get("auth/getuserinfo", params={"code": code})
            except WeChatClientException as exc:
                if exc.errcode is None or exc.errcode in TOKEN_ERRORS | RATE_LIMITED | NO_RIGHTS:
                    raise  # _api refreshes the token, waits out the limit, names the missing right
                return {"errcode": exc.errcode, "errmsg": exc.errmsg}  # about the code: WeCom answered

        # _api's errors leave out the request URL's query (the access token and the code).
        result = await self._api(getuserinfo, what="auth/getuserinfo")
        if result.get("errcode"):
            raise ActionFailed("not_found", f"auth/getuserinfo: WeCom refused the sign-in code: errcode {result['errcode']} ({result.get('errmsg')})")
        userid = result.get("userid")
        if not userid:
            who = "an external contact" if result.get("external_userid") else "someone outside the company"
            raise ActionFailed("not_found", f"auth/getuserinfo: the sign-in is {who} (WeCom gave no userid)")
        return str(userid)
