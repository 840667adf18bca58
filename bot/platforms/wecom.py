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
from typing import TYPE_CHECKING, Any

import requests
from aiohttp import ClientError, ClientSession, ClientTimeout, web
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.work import WeChatClient
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.exceptions import InvalidCorpIdException
from wechatpy.work.parser import parse_message

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
from bot import metrics
from bot.pacing import RateLimiter
from bot.platform import ActionFailed, BasePlatform, Buttons, Capability, CapabilityMissing, SentMessage
from storage import core_repo, wecom_repo
from storage.wecom_repo import MemberInfo

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import WecomSection

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


class QyapiClient(WeChatClient):
    """wechatpy's WeCom client with both its API base URL and its access-token URL configurable
    (private deployments and tests use another host)."""

    def __init__(self, corp_id: str, secret: str, *, api_base_url: str, timeout: float):
        super().__init__(corp_id, secret, timeout=timeout)
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
    return ChatRef(PLATFORM, CONTACTS_PREFIX + userid)


def is_external(userid: str) -> bool:
    """External contacts' ids (wm…/wo…) — the app cannot message them with message/send."""
    return userid.startswith(("wm", "wo")) and len(userid) >= 28


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


class WecomPlatform(BasePlatform):
    name = PLATFORM
    # What works in every chat. KICK works only in groups the app created, so it is not here:
    # can_in(chat, KICK) answers per chat. No DELETE (WeCom cannot delete another person's
    # message), no RESTRICT (no mute), no BAN, no BUTTONS, no EDIT, no REPLY threading.
    capabilities = Capability.SEND | Capability.DM | Capability.ADMIN_LIST | Capability.SEND_PHOTO

    def __init__(
        self,
        cfg: "WecomSection",
        app: "App",
        *,
        monotonic: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        archive_source=None,
    ):
        self.cfg = cfg
        self.app = app
        self._sleep = sleep or asyncio.sleep
        monotonic = monotonic or time.monotonic
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
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_max = 4096
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
        async with self.app.sessions() as session:
            for row in await wecom_repo.list_chats(session):
                if row.chat_id in self.cfg.app_chats:
                    continue
                self._info[row.chat_id] = ChatInfo(row.kind, row.name, row.owner, set(row.admins or []), row.refreshed_at)
            self._names.update(await wecom_repo.member_names(session))
        if self.cfg.archive_source or self._archive_source is not None:
            from bot.platforms.wecom_archive import ArchiveDecoder, load_source

            if self._archive_source is None:
                self._archive_source = load_source(self.cfg.archive_source, self.cfg.archive_options)
            self._archive_decoder = ArchiveDecoder.from_files(self.cfg.archive_private_keys, self.app.config.resolve_path)
        self._http = ClientSession(timeout=ClientTimeout(total=self.cfg.http_timeout))
        web_app = web.Application(client_max_size=2 * 1024 * 1024)
        web_app.router.add_get(self.cfg.path, self._verify_url)
        web_app.router.add_post(self.cfg.path, self._callback)
        if self.aibot_crypto is not None:
            web_app.router.add_get(self.cfg.aibot_path, self._aibot_verify_url)
            web_app.router.add_post(self.cfg.aibot_path, self._aibot_callback)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
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

    def _first_sight(self, key: str) -> bool:
        """The in-memory half of de-duplication: WeCom retries a callback it got no answer to
        in 5 s, and a retry of one we already took is answered and dropped here."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        while len(self._seen) > self._seen_max:
            self._seen.popitem(last=False)
        return True

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
        return f"@{user.display}"

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
            return 403, "wrong corp id"
        except Exception as exc:  # malformed XML, bad base64 or padding
            return 400, f"undecodable body ({type(exc).__name__})"

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.text()
        status, plaintext = self._open(self.crypto, body, request.query)
        if status != 200:
            log.warning("WeCom callback refused (%s) from %s", plaintext, request.remote)
            return web.Response(status=status, text=plaintext)
        try:
            message = parse_message(plaintext)
        except Exception:
            return web.Response(status=400, text="unparseable message")
        msg_id = int(getattr(message, "id", 0) or 0)
        key = f"msg:{msg_id}" if msg_id else "evt:" + hashlib.sha1(plaintext.encode()).hexdigest()
        if self._first_sight(key):
            # Acknowledge now (WeCom wants an answer within 5 s) and do the work in a task.
            data = getattr(message, "_data", {}) or {}
            order = data.get("ChatId") or data.get("UserID") or getattr(message, "source", None)
            self._spawn(self._handle(message, key), order=order)
        return web.Response(text="success")

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
        except ValueError:
            return web.Response(status=400, text="unparseable message")
        key = "aibot:" + str(data.get("msgid") or hashlib.sha1(plaintext.encode()).hexdigest())
        if self._first_sight(key):
            self._spawn(self._handle_aibot(data), order=data.get("chatid") or (data.get("from") or {}).get("userid"))
        return web.Response(text="")

    async def _first_time(self, key: str) -> bool:
        """The persistent half of de-duplication for events that carry no MsgId (survives a restart)."""
        async with self.app.sessions() as session, session.begin():
            return await core_repo.first_time_seen(session, f"wecom:{key}", self.app.clock.now())

    async def _dispatch(self, event: Event) -> None:
        result = await self.app.dispatch(event)
        for where, exc in result.errors:
            log.warning("%s failed on a WeCom %s: %s", where, type(event).__name__, exc)

    # --- incoming ----------------------------------------------------------------------------
    async def _handle(self, message, key: str) -> None:
        kind = message.type
        if kind == "event":
            if not await self._first_time(key):
                return
            event = getattr(message, "event", "")
            data = message._data
            if event == "change_external_chat":
                await self._external_chat_changed(data)
            elif event == "change_external_contact":
                await self._external_contact_changed(data)
            elif event == "enter_agent":
                await self._entered_agent(message.source)
            else:
                log.debug("WeCom event %s not used", event)
            return
        agent = getattr(message, "agent", 0)
        if agent and self.cfg.agent_id and int(agent) != int(self.cfg.agent_id):
            log.debug("WeCom message for agent %s ignored (this is agent %s)", agent, self.cfg.agent_id)
            return
        user = UserRef(PLATFORM, message.source)
        chat = dm_chat(message.source)
        self._info.setdefault(chat.id, ChatInfo("dm"))
        now = self.app.clock.now()
        msg_id = str(message.id)
        if kind == "text":
            event = self._text_event(chat, user, now, msg_id, message.content or "", f"wecom:msg:{msg_id}")
            if isinstance(event, CommandInvoked) and not await self._first_time(f"cmd:{msg_id}"):
                return  # commands carry no dedupe_key: a redelivery after a restart stops here
            await self._dispatch(event)
        elif kind in ("image", "voice", "video", "file", "location", "link"):
            media_kind = {"image": "photo", "link": "link_card"}.get(kind, kind)
            media = Media(media_kind, file_id=getattr(message, "media_id", "") or "", data=dict(message._data))
            await self._dispatch(
                MessageReceived(chat, user, now, msg_id, media=(media,), dedupe_key=f"wecom:msg:{msg_id}")
            )

    @staticmethod
    def _text_event(chat: ChatRef, user: UserRef, at: datetime, msg_id: str, text: str, dedupe: str) -> Event:
        parsed = parse_command(text.strip())
        if parsed is not None:
            name, args = parsed
            return CommandInvoked(chat, user, at, message_id=msg_id, name=name, args=args, text=text)
        return MessageReceived(chat, user, at, message_id=msg_id, text=text, dedupe_key=dedupe)

    async def _entered_agent(self, userid: str) -> None:
        """An employee opened the app. The first time is a MemberJoined in their DM chat (where
        DM questionnaires and help start); later visits are not events."""
        chat = dm_chat(userid)
        self._info.setdefault(chat.id, ChatInfo("dm"))
        async with self.app.sessions() as session, session.begin():
            await wecom_repo.ensure_chat(session, chat.id, "dm")
            first = await wecom_repo.add_member(session, chat.id, MemberInfo(userid, 1))
        if first:
            await self._dispatch(MemberJoined(chat, UserRef(PLATFORM, userid), self.app.clock.now()))

    async def _external_chat_changed(self, data: dict[str, Any]) -> None:
        chat_id = data.get("ChatId")
        change = data.get("ChangeType")
        if not chat_id:
            return
        async with self._lock(chat_id):
            now = self.app.clock.now()
            if change == "dismiss":
                self._info[chat_id] = ChatInfo("customer", fetched_at=now)
                async with self.app.sessions() as session, session.begin():
                    await wecom_repo.mark_dismissed(session, chat_id, now)
                log.info("WeCom customer group %s was dismissed", chat_id)
                return
            group = await self._group_chat(chat_id)
            if group is None:
                return
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
            async with self.app.sessions() as session, session.begin():
                known = await wecom_repo.has_snapshot(session, chat_id)
                added, removed = await wecom_repo.replace_members(session, chat_id, members, now)
            if change == "create":
                return  # the first member list; nobody "joined" a group that did not exist
            if not known:
                # No earlier list to compare with: only members whose join time is this event's
                # are new (WeCom stamps both); leaves cannot be known.
                created = int(data.get("CreateTime") or 0)
                added = [m for m in added if m.join_time and created and m.join_time >= created - 300]
                removed = []
            chat = ChatRef(PLATFORM, chat_id, group.get("name") or None)
            owner = group.get("owner")
            for m in added:
                invited_by = UserRef(PLATFORM, m.invitor) if m.invitor else None
                await self._dispatch(MemberJoined(chat, UserRef(PLATFORM, m.user_id, name=m.name), now, invited_by=invited_by))
            quit_scene = str(data.get("QuitScene") or "")
            for m in removed:
                by = UserRef(PLATFORM, owner) if quit_scene == "1" and owner else None
                await self._dispatch(MemberLeft(chat, UserRef(PLATFORM, m.user_id, name=m.name), now, removed_by=by))

    async def _group_chat(self, chat_id: str) -> dict[str, Any] | None:
        """externalcontact/groupchat/get, remembered as the chat's kind, owner and admins."""
        try:
            result = await self._api(self.client.external_contact_group_chat.get, chat_id, what="externalcontact/groupchat/get")
        except ActionFailed as exc:
            log.warning("cannot read WeCom customer group %s: %s", chat_id, exc)
            return None
        group = result.get("group_chat") or {}
        admins = {a.get("userid") for a in group.get("admin_list", []) if a.get("userid")}
        await self._remember(chat_id, ChatInfo("customer", group.get("name"), group.get("owner"), admins, self.app.clock.now()))
        return group

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
        async with self.app.sessions() as session, session.begin():
            await wecom_repo.save_chat_info(
                session, chat_id, kind=info.kind, now=info.fetched_at or self.app.clock.now(),
                name=info.name, owner=info.owner, admins=sorted(info.admins),
            )

    async def _external_contact_changed(self, data: dict[str, Any]) -> None:
        change = data.get("ChangeType")
        employee = data.get("UserID")
        external = data.get("ExternalUserID")
        if not employee or not external:
            return
        chat = contacts_chat(employee)
        self._info.setdefault(chat.id, ChatInfo("contacts", owner=employee, admins={employee}))
        user = UserRef(PLATFORM, external)
        now = self.app.clock.now()
        if change in ("add_external_contact", "add_half_external_contact"):
            code = data.get("WelcomeCode")
            async with self._lock(chat.id):
                if code:
                    self._welcome[chat.id] = (code, now + WELCOME_WINDOW)
                try:
                    await self._dispatch(MemberJoined(chat, user, now))
                finally:
                    self._welcome.pop(chat.id, None)
        elif change in ("del_external_contact", "del_follow_user"):
            removed_by = UserRef(PLATFORM, employee) if change == "del_external_contact" else None
            await self._dispatch(MemberLeft(chat, user, now, removed_by=removed_by))

    async def _handle_aibot(self, data: dict[str, Any]) -> None:
        """A message that @-ed the 智能机器人 (or a one-to-one chat with it)."""
        msgtype = data.get("msgtype")
        sender = (data.get("from") or {}).get("userid")
        msgid = str(data.get("msgid") or "")
        if not sender or msgtype == "event":
            return
        now = self.app.clock.now()
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
            t = item.get("msgtype")
            if t == "text":
                texts.append(str((item.get("text") or {}).get("content", "")))
            elif t in ("image", "file"):
                media.append(Media("photo" if t == "image" else "document", file_id=str((item.get(t) or {}).get("url", ""))))
        text = LEADING_MENTION.sub("", "\n".join(texts), count=1) if chat.id != dm_chat(sender).id else "\n".join(texts)
        user = UserRef(PLATFORM, str(sender), name=self._names.get(str(sender)))
        event = self._text_event(chat, user, now, msgid, text, f"wecom:aibot:{msgid}")
        if isinstance(event, MessageReceived):
            if media:
                event = MessageReceived(chat, user, now, msgid, text=text, media=tuple(media), dedupe_key=event.dedupe_key)
            if self._archive_source is not None and chat.id != dm_chat(sender).id:
                return  # the archive delivers every group message; take only commands from here
        elif not await self._first_time(f"aibotcmd:{msgid}"):
            return
        await self._dispatch(event)

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
        return self.app.clock.now() - info.fetched_at > timedelta(seconds=self.cfg.chat_info_seconds)

    async def _read_chat(self, chat_id: str) -> ChatInfo:
        now = self.app.clock.now()
        order = ["app", "customer"] if self.kind(chat_id) == "app" else ["customer", "app"]
        for kind in order:
            try:
                if kind == "customer":
                    group = (
                        await self._api(self.client.external_contact_group_chat.get, chat_id, what="externalcontact/groupchat/get")
                    ).get("group_chat") or {}
                    admins = {a.get("userid") for a in group.get("admin_list", []) if a.get("userid")}
                    for m in group.get("member_list", []):
                        name = m.get("group_nickname") or m.get("name")
                        if m.get("userid") and name:
                            self._names[str(m["userid"])] = name
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
            async with self.app.sessions() as session:
                seq = await wecom_repo.archive_seq(session, source.name)
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
                async with self.app.sessions() as session, session.begin():
                    await wecom_repo.set_archive_seq(session, source.name, record.seq, self.app.clock.now())
            total += len(records)

    # --- outgoing ----------------------------------------------------------------------------
    async def _api(self, fn: Callable[..., Any], *args: Any, what: str, pace: str | None = None, right: str | None = None, **kwargs: Any) -> Any:
        """One wechatpy call in a thread; 45009 is waited out and retried, other errors become ActionFailed."""
        attempt = 0
        while True:
            if pace is not None:
                await self.app_pace.acquire(pace)
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except WeChatClientException as exc:
                if exc.errcode in RATE_LIMITED:
                    metrics.RATE_LIMITED.labels(platform=PLATFORM).inc()
                if exc.errcode in RATE_LIMITED and attempt < self.cfg.rate_limit_retries:
                    attempt += 1
                    log.warning("WeCom says %s is too frequent (errcode %s); retrying in %ss", what, exc.errcode, self.cfg.rate_limit_retry_seconds)
                    await self._sleep(self.cfg.rate_limit_retry_seconds)
                    continue
                raise _failure(exc, what, right) from None
            except requests.RequestException as exc:
                raise ActionFailed("other", f"{what}: WeCom API unreachable at {self.cfg.api_base_url} ([wecom] api_base_url): {exc}") from None

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
        """Through the group's robot: at most robot_per_minute per robot, 45009 obeyed."""
        url = self._robot_url(chat_id)
        assert url is not None and self._http is not None
        right = f'[wecom] robots."{chat_id}"'
        attempt = 0
        while True:
            await self.robot_pace.acquire(url)
            try:
                async with self._http.post(url, json=payload) as response:
                    if response.status >= 400:
                        raise ActionFailed("other", f"group robot of {chat_id}: HTTP {response.status}")
                    result = await response.json(content_type=None)
            except ClientError as exc:
                raise ActionFailed("other", f"group robot of {chat_id} unreachable: {exc}") from None
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

    def _response_url(self, chat_id: str, *, peek: bool = False) -> str | None:
        entry = self._response_urls.get(chat_id)
        if entry is None or entry[1] <= self.app.clock.now():
            return None
        if not peek:
            del self._response_urls[chat_id]  # usable once
        return entry[0]

    def _welcome_code(self, chat_id: str) -> str | None:
        entry = self._welcome.get(chat_id)
        if entry is None or entry[1] <= self.app.clock.now():
            return None
        return entry[0]

    def _sent(self, chat: ChatRef | None, msgid: Any = None) -> SentMessage:
        return SentMessage(chat, str(msgid) if msgid else f"wecom-local-{next(self._ids)}")

    async def send(
        self, chat: ChatRef, text: str, *, reply_to: str | None = None, buttons: Buttons | None = None,
        thread_id: str | None = None,
    ) -> SentMessage:
        # WeCom has no threaded replies and no inline buttons: `reply_to` and `buttons` are not
        # expressible (BUTTONS and REPLY are not declared, so handlers do not pass them).
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
                what="externalcontact/send_welcome_msg",
            )
            return self._sent(chat)
        if kind == "app":

            async def appchat() -> SentMessage:
                result = await self._api(self.client.appchat.send_text, cid, text, what="appchat/send", pace=cid)
                return self._sent(chat, result.get("msgid") if isinstance(result, dict) else None)

            return await self._paced(self.app_pace, cid, chat, appchat)
        if cid in self.cfg.robots:

            async def robot() -> SentMessage:
                await self._robot_post(cid, {"msgtype": "text", "text": {"content": text}})
                return self._sent(chat)

            return await self._paced(self.robot_pace, self._robot_url(cid), chat, robot)
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
                if caption and kind == "dm":
                    await self._api(self.client.message.send_text, self.cfg.agent_id, [cid[len(DM_PREFIX):]], caption, what="message/send", pace=key)
                elif caption:
                    await self._api(self.client.appchat.send_text, cid, caption, what="appchat/send", pace=key)
                if kind == "dm":
                    result = await self._api(
                        self.client.message.send, self.cfg.agent_id, [cid[len(DM_PREFIX):]],
                        msg={"msgtype": "image", "image": {"media_id": media_id}}, what="message/send", pace=key,
                    )
                else:
                    result = await self._api(self.client.appchat.send, cid, "image", media_id=media_id, what="appchat/send", pace=key)
                return self._sent(chat, result.get("msgid") if isinstance(result, dict) else None)

            return await self._paced(self.app_pace, key, chat, app_photo)
        if cid in self.cfg.robots:
            if len(photo) > 2 * 1024 * 1024:
                raise ActionFailed("other", f"a group robot takes images up to 2 MB (this one is {len(photo) // 1024} KB)")
            image = {"base64": base64.b64encode(photo).decode(), "md5": hashlib.md5(photo).hexdigest()}

            async def robot_photo() -> SentMessage:
                if caption:
                    await self._robot_post(cid, {"msgtype": "text", "text": {"content": caption}})
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

        async def deliver() -> SentMessage:
            result = await self._api(self.client.message.send_text, self.cfg.agent_id, [userid], text, what="message/send", pace=key)
            invalid = str(result.get("invaliduser") or "") if isinstance(result, dict) else ""
            if userid in invalid.split("|"):
                raise ActionFailed("dm_blocked", f"{userid} is not in the app's visible range (message/send invaliduser)")
            return self._sent(chat or dm_chat(userid), result.get("msgid") if isinstance(result, dict) else None)

        return await self._paced(self.app_pace, key, chat or dm_chat(userid), deliver)

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
