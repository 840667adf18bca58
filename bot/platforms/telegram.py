"""Telegram through python-telegram-bot (v22): updates in, Platform actions out. Translation only.

In: one PTB `Application` (polling or webhook, `base_url`/`base_file_url` from `[telegram]`) with a single
`TypeHandler(Update)`. Each update becomes zero or more `bot.events` and goes to the intake (`bot.ports.EventSink`):
- group messages (text, captions, photos, documents, contact cards, stickers, voice, video …) →
  `MessageReceived` (media as `Media`, forwards in `forwarded_from`, `dedupe_key` = chat + message id, so a
  message is handled once even across restarts); a text starting with "/" → `CommandInvoked` (`/cmd@thisbot` is ours,
  `/cmd@otherbot` is an ordinary message);
- members joining/leaving: from `chat_member` updates and from service messages, de-duplicated (Telegram
  sends both when the bot is an admin, only one of them otherwise) → `MemberJoined` / `MemberLeft`;
- `chat_join_request` → `JoinRequested`; inline-button presses → `ButtonPressed` (the presser as `user`);
- a group upgraded to a supergroup (`migrate_to_chat_id` / `migrate_from_chat_id`) → one `ChatMigrated`
  (the core moves the stored data to the new id); later sends to the old id go to the new one.
- private chats: messages, commands and button presses, with ChatRef.private set, so only the
  routers that serve one-to-one chats (onboarding's DM questions, /help) see them.
- a webhook redelivery of an update already handled (same update_id) is skipped; a button press no
  handler answered is answered silently, so the client's spinner stops;
- `edited_message` → `MessageEdited` (only the rules re-judge it: an ad edited into an old message).
- new and edited messages also carry: `thread_id` (the forum topic, also on commands and button presses),
  `links` (url / text_link entities of text and caption, URL / login / web-app buttons — an inline bot's
  message included, `via_bot` naming that bot), `mentioned` (text_mention users) and `sender_chat` (the
  channel a message was posted as; an anonymous admin posting as the group itself stays the group as
  `user`, with no sender_chat; a linked channel's automatic forward is skipped). Every ChatRef carries
  the Telegram chat type in `kind`, and the adapter remembers each chat's type for `can_in`: no
  RESTRICT in basic groups (Telegram mutes only in supergroups), only posting/editing/deleting in channels.

Out: texts are always plain (no parse_mode) and never unfurl links (link previews off: a notice quoting a
spammer's link must not advertise it); `mention()` of a member without a username becomes a text_mention
entity (UTF-16 offsets, kept whole across the 4,096-character split); sends in a forum topic pass
`message_thread_id`; `delete_many` → deleteMessages (≤ 100 ids a call); a chat given where a user is
expected (negative id) is refused without a call (`ban_sender_chat` keeps a channel out); DMs to someone
who just asked to join use the chat their join request opened (Telegram allows it for 5 minutes).
Every Bot API call goes through `_api`: the paced path (`bot.pacing.RateLimiter`, per group and per
bot, for everything that posts), `429 retry_after` obeyed and the call repeated (delivered once), network
errors and 5xx retried with backoff — except for sends (SEND_METHODS) when the error may have come after
the request left (a read/write timeout, a reset or protocol error): those raise `ActionUncertain` and are
never repeated. Telegram's refusals are turned into `ActionFailed` reasons. When the bot
lacks an admin right (delete, restrict, invite) the adapter raises `ActionFailed('no_rights', right=…)` and
tells the group's admins once per chat and right (in the group's language, through the sink's `tell_admins`), so
handlers need not say it again (the error carries `admins_told = True`); the "once" is forgotten when the
bot's own rights change.

Tests: `expect(update_id)` returns a future resolved with the dispatch results once the update has been
handled (used by tests/support/telegram_harness.py to wait without sleeping).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeDefault,
    ChatMember,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram import Message as TgMessage
from telegram import User as TgUser
import httpx
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.error import ChatMigrated as TgChatMigrated
from telegram.ext import Application

from bot.events import (
    ButtonPressed,
    ChatMigrated,
    ChatRef,
    CommandInvoked,
    Event,
    JoinRequested,
    Media,
    MemberJoined,
    MemberLeft,
    MessageEdited,
    MessageReceived,
    UserRef,
    parse_command,
)
from bot import metrics, wire
from bot.i18n import register, t
from bot.pacing import RateLimiter
from bot.platform import ActionFailed, ActionUncertain, BasePlatform, Buttons, Capability, SentMessage
from bot.platforms.recent import RecentTransitions
from bot.platforms.telegram_intake import TelegramIntake, salvage

if TYPE_CHECKING:
    from bot.config import TelegramSection
    from bot.dispatch import DispatchResult
    from bot.intake import InboxItem
    from bot.ports import EventSink

log = logging.getLogger(__name__)

PLATFORM = "telegram"
T = TypeVar("T")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "chat_member", "my_chat_member", "chat_join_request"]
# Methods without an idempotency key: a send that may have arrived is never repeated.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})

MAX_TEXT = 4096
GETME_BACKOFF_FIRST = 1.0  # seconds before the second getMe at start when the Bot API is unreachable …
GETME_BACKOFF_MAX = 60.0  # … doubling up to this
MAX_CAPTION = 1024
REQUESTER_DM_SECONDS = 300.0  # how long a join request lets the bot DM someone who never started it
MAX_DELETE_BATCH = 100  # deleteMessages takes at most 100 ids
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a notice quoting a spammer's link must not unfurl it
MIN_UNTIL_SECONDS = 35  # restrictions ending sooner than 30 s from now are permanent on Telegram
# A join or leave seen from one source (service message / chat_member update) hides the same
# transition from the other source for this long.
DEDUPE_SECONDS = 120.0
MEMBER_STATES = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER}
ADMIN_STATES = {ChatMember.ADMINISTRATOR, ChatMember.OWNER}

# The admin right each action needs, with its name in Telegram's admin-rights screen.
RIGHT_DELETE = "can_delete_messages"
RIGHT_RESTRICT = "can_restrict_members"
RIGHT_INVITE = "can_invite_users"
RIGHT_POST = "can_send_messages"

register(
    {
        "telegram.no_rights": {
            "zh-CN": "⚠️ 机器人在「{chat}」缺少管理员权限「{right}」，无法{action}。请在群设置 → 管理员 → {bot} 中打开这项权限。",
            "en": "⚠️ The bot lacks the admin right \"{right}\" in \"{chat}\", so it cannot {action}. "
            "Please turn it on in the group settings → Administrators → {bot}.",
        },
        "telegram.right.can_delete_messages": {"zh-CN": "删除消息", "en": "Delete messages"},
        "telegram.right.can_restrict_members": {"zh-CN": "封禁用户", "en": "Ban users"},
        "telegram.right.can_invite_users": {"zh-CN": "邀请用户", "en": "Invite users via link"},
        "telegram.right.can_send_messages": {"zh-CN": "发送消息", "en": "Send messages"},
        "telegram.action.delete": {"zh-CN": "删除违规消息", "en": "delete messages that break the rules"},
        "telegram.action.restrict": {"zh-CN": "禁言成员", "en": "mute members"},
        "telegram.action.unrestrict": {"zh-CN": "解除禁言", "en": "lift mutes"},
        "telegram.action.ban": {"zh-CN": "移除或封禁成员", "en": "remove or ban members"},
        "telegram.action.unban": {"zh-CN": "解除封禁", "en": "unban members"},
        "telegram.action.join": {"zh-CN": "处理入群申请", "en": "handle join requests"},
        "telegram.action.send": {"zh-CN": "在群里发言", "en": "post in the group"},
    }
)

_NO_RIGHTS_MARKERS = (
    "not enough rights",
    "chat_admin_required",
    "need administrator rights",
    "have no rights",
    "not an administrator",
    "admin privileges",
    "no rights to",
)
_NOT_FOUND_MARKERS = (
    "not found",
    "user_not_participant",
    "participant_id_invalid",
    "hide_requester_missing",
    "user_id_invalid",
    "invalid user_id",
    "query is too old",
    "message to edit not found",
    "message to delete not found",
)


# httpx errors that mean the request never reached the server (safe to send again) …
_NEVER_SENT = (httpx.ConnectTimeout, httpx.ConnectError, httpx.PoolTimeout)
# … and those that may have come after it did (the server may have carried it out).
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


def _may_have_arrived(exc: BaseException) -> bool:
    """For a request without an idempotency key: could Telegram have carried it out? PTB wraps httpx's
    errors in TimedOut / NetworkError (`raise … from err`); an error answer from the server (5xx, 502)
    has no httpx cause: Telegram answered, so it did not process it."""
    cause: BaseException | None = exc.__cause__
    while cause is not None:
        if isinstance(cause, _NEVER_SENT):
            return False
        if isinstance(cause, _MAYBE_SENT):
            return True
        if isinstance(cause, httpx.TransportError):
            return True  # some other failure on the wire: assume the worst
        cause = cause.__cause__
    return isinstance(exc, TimedOut)  # a timeout of unknown origin: assume the worst


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _user_ref(user: TgUser) -> UserRef:
    return UserRef(PLATFORM, str(user.id), name=user.full_name or None, username=user.username, is_bot=user.is_bot)


def _chat_ref(chat) -> ChatRef:
    title = chat.title or getattr(chat, "full_name", None) or None
    return ChatRef(PLATFORM, str(chat.id), title, private=chat.type == "private", kind=chat.type)


def _links(message: TgMessage) -> tuple[str, ...]:
    """The URLs a message carries, shown or not: url and text_link entities of the text and of the
    caption, and the URL buttons under it (url, login_url, web_app)."""
    found: list[str] = []
    for entities, parse in ((message.entities, message.parse_entity), (message.caption_entities, message.parse_caption_entity)):
        for entity in entities or ():
            if entity.type == MessageEntity.TEXT_LINK and entity.url:
                found.append(entity.url)
            elif entity.type == MessageEntity.URL:
                try:
                    found.append(parse(entity))
                except (RuntimeError, IndexError):
                    continue
    markup = message.reply_markup
    for row in (markup.inline_keyboard if markup is not None else ()):
        for button in row:
            for url in (button.url, getattr(button.login_url, "url", None), getattr(button.web_app, "url", None)):
                if url:
                    found.append(url)
    return tuple(dict.fromkeys(u for u in found if u))


def _mentioned(message: TgMessage) -> tuple[UserRef, ...]:
    """Members named by a text_mention (a mention that carries the user, for people without a username)."""
    users: dict[int, UserRef] = {}
    for entity in (*(message.entities or ()), *(message.caption_entities or ())):
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            users.setdefault(entity.user.id, _user_ref(entity.user))
    return tuple(users.values())


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# A mention of a member without a username: mention() returns this marker, the send path turns it into
# the plain name plus a text_mention entity (so the member is notified without any parse_mode markup).
_MENTION_RE = re.compile("\ue000([0-9a-f]{8})\ue001([^\ue000-\ue002]*)\ue002")
_MARKER_CHARS = re.compile("[\ue000-\ue002]")
MENTIONS_KEPT = 20000


def _plain(text: str) -> str:
    """The text with mention markers turned into bare names, for places without entities (button labels,
    the pop-up answer to a button press)."""
    return _MARKER_CHARS.sub("", _MENTION_RE.sub(lambda m: m.group(2), text))


class TelegramPlatform(BasePlatform):
    name = PLATFORM
    capabilities = (
        Capability.SEND | Capability.REPLY | Capability.DELETE | Capability.RESTRICT | Capability.KICK
        | Capability.BAN | Capability.UNBAN | Capability.BUTTONS | Capability.DM | Capability.JOIN_REQUESTS
        | Capability.ADMIN_LIST | Capability.DOWNLOAD | Capability.SEND_PHOTO | Capability.EDIT
        | Capability.BAN_SENDER_CHAT
    )

    def __init__(self, config: "TelegramSection", sink: "EventSink"):
        self.cfg = config
        self.sink = sink
        self.limiter = RateLimiter(
            config.per_group_per_minute, 60.0, overall_rate=config.per_bot_per_second, overall_per=1.0,
            platform=PLATFORM,
        )
        self.application: Application | None = None
        self.bot_id: str | None = None
        self.bot_username: str | None = None
        self._waiters: dict[int, asyncio.Future] = {}
        self._admins: dict[str, tuple[float, set[str]]] = {}
        self._owners: dict[str, set[str]] = {}  # the creator, read with the admins
        self._admin_locks: dict[str, asyncio.Lock] = {}
        self._told: set[tuple[str, str]] = set()  # (chat id, right) the admins were told about
        self._transitions = RecentTransitions(DEDUPE_SECONDS)
        self._migrated: dict[str, str] = {}  # old chat id → new chat id
        self._migrations_seen: set[tuple[str, str]] = set()
        self.updates_handled = 0
        self.unparseable_updates = 0  # updates python-telegram-bot could not read (skipped, salvaged)
        self.unparseable_by_kind: dict[str, int] = {}
        self.intake = TelegramIntake(self)
        self._answered: set[str] = set()  # callback ids a handler answered during their dispatch
        self._kinds: dict[str, str] = {}  # chat id → Telegram chat type, as updates show them
        # user id → (the private chat a join request opened, until when): Telegram lets the bot write
        # to a requester who never started it for 5 minutes after the request.
        self._requester_chats: dict[str, tuple[int, float]] = {}
        self._mentions: OrderedDict[str, tuple[int, str]] = OrderedDict()  # marker token → (user id, name)

    # --- lifecycle -------------------------------------------------------------------------------
    def _build(self) -> Application:
        token = self.cfg.token or ""
        builder = (
            Application.builder()
            .token(token)
            .base_url(self.cfg.base_url)
            .base_file_url(self.cfg.base_file_url)
            .local_mode(self.cfg.local_mode)
            .updater(None)  # updates come in through bot.platforms.telegram_intake
            .connection_pool_size(max(8, self.cfg.concurrent_updates))
            .connect_timeout(self.cfg.request_timeout)
            .read_timeout(self.cfg.request_timeout)
            .write_timeout(self.cfg.request_timeout)
            .pool_timeout(self.cfg.request_timeout)
            .get_updates_connect_timeout(self.cfg.request_timeout)
            .get_updates_write_timeout(self.cfg.request_timeout)
            .get_updates_pool_timeout(self.cfg.request_timeout)
        )
        return builder.build()

    @staticmethod
    def allowed_updates() -> list[str]:
        return list(ALLOWED_UPDATES)

    async def start(self) -> None:
        attempt = 0
        while True:
            self.application = self._build()
            try:
                await self.application.initialize()  # getMe: checks the token and the base_url
                break
            except (InvalidToken, NetworkError) as exc:
                application, self.application = self.application, None
                await application.shutdown()
                if isinstance(exc, InvalidToken):
                    raise RuntimeError(
                        f"[telegram] token: the Bot API server at {self.cfg.base_url} refused it ({exc}); "
                        "check the token from @BotFather"
                    ) from None
                # Telegram (or the network) is down: wait for it, saying so once per attempt.
                attempt += 1
                delay = min(GETME_BACKOFF_FIRST * 2 ** (attempt - 1), GETME_BACKOFF_MAX)
                log.warning("telegram: cannot reach %s ([telegram] base_url) for getMe (%s); attempt %d failed, "
                            "retrying in %.0fs", self.cfg.base_url, exc, attempt, delay)
                await asyncio.sleep(delay)
        if attempt:
            log.warning("telegram: getMe works after %d failed attempts", attempt)
        me = self.application.bot.bot
        self.bot_id, self.bot_username = str(me.id), me.username
        await self.register_commands()
        try:
            await self.intake.start()  # unfinished updates of a previous run, then getUpdates or the webhook
        except BaseException:
            await self.stop()
            raise
        log.info("telegram: @%s running (%s)", self.bot_username, self.cfg.mode)

    async def stop(self) -> None:
        application = self.application
        if application is None:
            return
        try:
            await self.intake.stop()
        except Exception:
            log.exception("telegram: stopping the update intake failed")
        try:
            await application.shutdown()
        finally:
            self.application = None

    @property
    def not_ready(self) -> str | None:
        """Ready once getMe succeeded and polling (or the webhook server) runs, and the last
        getUpdates did not fail."""
        if self.application is None or self.bot_id is None:
            return "getMe has not succeeded"
        return self.intake.not_running

    @property
    def bot(self):
        if self.application is None:
            raise RuntimeError("the Telegram platform is not started")
        return self.application.bot

    async def register_commands(self) -> None:
        """setMyCommands for everyone (English by default, Chinese for "zh" clients), and the
        admin-only ones too for the groups' admins."""
        specs = self.sink.commands()
        for scope, admin in ((BotCommandScopeDefault(), False), (BotCommandScopeAllChatAdministrators(), True)):
            for lang, code in (("en", None), ("zh-CN", "zh")):
                commands: list[BotCommand] = []
                seen: set[str] = set()
                for spec in specs:
                    if spec.admin_only and not admin:
                        continue
                    name = next((n for n in spec.names if n.isascii() and n.replace("_", "").isalnum() and len(n) <= 32), None)
                    if name is None or name in seen:
                        continue
                    seen.add(name)
                    description = (spec.description.get(lang) or spec.description.get("en") or name)[:256]
                    commands.append(BotCommand(name, description))
                commands = commands[:100]
                try:
                    await self._api("setMyCommands", lambda _c, cmds=commands, s=scope, lc=code: self.bot.set_my_commands(cmds, scope=s, language_code=lc))
                except ActionFailed as exc:
                    log.warning("telegram: could not register the command list (%s)", exc)

    # --- chat kinds ----------------------------------------------------------------------------
    def _ref(self, chat) -> ChatRef:
        """The ChatRef of a Telegram chat, remembering its type (basic group, supergroup, channel …)."""
        if chat.type:
            self._kinds[str(chat.id)] = chat.type
        return _chat_ref(chat)

    def _kind(self, chat: ChatRef) -> str | None:
        target = self._chat_id(chat.id)
        if target != chat.id:  # a basic group that became a supergroup: the old ref's kind is stale
            return self._kinds.get(target, "supergroup")
        return chat.kind or self._kinds.get(chat.id)

    def can_in(self, chat: ChatRef, capability: Capability) -> bool:
        """Telegram restricts members only in supergroups; in a channel the bot only posts, edits and
        deletes posts (subscribers are not muted, kicked or asked to join)."""
        if not self.can(capability):
            return False
        kind = self._kind(chat)
        if kind == "group":
            return not capability & (Capability.RESTRICT | Capability.BAN_SENDER_CHAT)
        if kind == "channel":
            return not capability & (
                Capability.RESTRICT | Capability.KICK | Capability.BAN | Capability.UNBAN | Capability.JOIN_REQUESTS
            )
        return True

    # --- test hook -------------------------------------------------------------------------------
    def expect(self, update_id: int) -> asyncio.Future:
        """A future resolved with the list of DispatchResults once this update has been handled."""
        future = asyncio.get_running_loop().create_future()
        self._waiters[int(update_id)] = future
        return future

    # --- updates in ------------------------------------------------------------------------------
    async def _handle_entry(self, entry: "InboxItem") -> None:
        """One stored update: parse, translate, dispatch through the intake (which retries database
        failures until they pass), then settle an unanswered button press."""
        update_id = int(entry.key)
        results: list["DispatchResult"] = []
        try:
            try:
                events = self.intake.events_of(entry)
            except Exception:
                log.exception("telegram: translating update %s failed; only its message is judged", entry.key)
                events = salvage(entry.payload, self.sink.clock.now(), self.bot_id)
            results = await self.sink.intake.handle(entry, events)
            for event in events:
                if isinstance(event, ButtonPressed) and event.callback_id:
                    await self._settle_button(event.callback_id)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                log.exception("telegram: update %s failed", update_id)
            waiter = self._waiters.pop(update_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            if isinstance(exc, Exception):
                return
            raise
        finally:
            self.updates_handled += 1
        self._resolve(update_id, results)

    def _resolve(self, update_id: int, results: list) -> None:
        waiter = self._waiters.pop(int(update_id), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(results)

    async def _settle_button(self, callback_id: str) -> None:
        """Telegram shows a spinner on the button until the press is answered: answer it (silently)
        when no handler did."""
        if callback_id in self._answered:
            self._answered.discard(callback_id)
            return
        await self.answer_button(callback_id)
        self._answered.discard(callback_id)

    def forget_admins(self, chat_id: str | None = None) -> None:
        """Drop the cached admin list of one chat (or all): the next check asks Telegram."""
        if chat_id is None:
            self._admins.clear()
        else:
            self._admins.pop(self._chat_id(str(chat_id)), None)

    def translate(self, update: Update) -> list[Event]:
        now = self.sink.clock.now()
        if update.message is not None:
            return self._from_message(update.message, now)
        if update.edited_message is not None:
            return self._from_edit(update.edited_message, now)
        if update.callback_query is not None:
            return self._from_callback(update, now)
        if update.chat_member is not None:
            return self._from_chat_member(update, now)
        if update.my_chat_member is not None:
            chat_id = self._ref(update.my_chat_member.chat).id
            # The bot's own rights changed: re-read the admin list and report a missing right again.
            self._admins.pop(chat_id, None)
            self._told = {k for k in self._told if k[0] != chat_id}
            return []
        if update.chat_join_request is not None:
            req = update.chat_join_request
            if req.user_chat_id:
                self._remember_requester(str(req.from_user.id), int(req.user_chat_id))
            return [JoinRequested(self._ref(req.chat), _user_ref(req.from_user), now, bio=req.bio)]
        return []

    def _sender(self, message: TgMessage) -> UserRef | None:
        if message.sender_chat is not None:
            # Anonymous admin (posting as the group) or a channel: the chat is the sender.
            chat = message.sender_chat
            return UserRef(PLATFORM, str(chat.id), name=chat.title or None, username=chat.username, is_bot=False)
        if message.from_user is not None:
            return _user_ref(message.from_user)
        return None

    def _remember_requester(self, user_id: str, user_chat_id: int) -> None:
        now = time.monotonic()
        if len(self._requester_chats) > 10000:
            self._requester_chats = {k: v for k, v in self._requester_chats.items() if v[1] > now}
        self._requester_chats[user_id] = (user_chat_id, now + REQUESTER_DM_SECONDS)

    def _sender_chat(self, message: TgMessage) -> ChatRef | None:
        """The chat a message was posted in the name of, when it is another chat (a channel); an
        anonymous admin posting as the group itself is not a foreign sender."""
        sender = message.sender_chat
        if sender is None or sender.id == message.chat.id:
            return None
        return self._ref(sender)

    @staticmethod
    def _thread_id(message) -> str | None:
        """The forum topic of a message (None outside forums and in the General topic)."""
        if getattr(message, "is_topic_message", None) and getattr(message, "message_thread_id", None):
            return str(message.message_thread_id)
        return None

    def _from_message(self, message: TgMessage, now: datetime) -> list[Event]:
        chat = self._ref(message.chat)
        user = self._sender(message)
        if message.migrate_to_chat_id or message.migrate_from_chat_id:
            if message.migrate_to_chat_id:
                old, new = str(message.chat.id), str(message.migrate_to_chat_id)
            else:
                old, new = str(message.migrate_from_chat_id), str(message.chat.id)
            self._migrated[old] = new
            self._kinds[new] = "supergroup"
            self._admins.pop(old, None)
            if (old, new) in self._migrations_seen:
                return []
            self._migrations_seen.add((old, new))
            who = user or UserRef(PLATFORM, "0", name="Telegram")
            return [ChatMigrated(ChatRef(PLATFORM, old, chat.title, kind="group"), who, now,
                                 new_chat=ChatRef(PLATFORM, new, chat.title, kind="supergroup"))]
        if message.new_chat_members:
            events: list[Event] = []
            for member in message.new_chat_members:
                if self.bot_id and str(member.id) == self.bot_id:
                    continue
                if not self._transition(chat.id, str(member.id), "join"):
                    continue
                inviter = user if user is not None and user.id != str(member.id) else None
                events.append(MemberJoined(chat, _user_ref(member), now, invited_by=inviter))
            return events
        if message.left_chat_member is not None:
            member = message.left_chat_member
            if (self.bot_id and str(member.id) == self.bot_id) or not self._transition(chat.id, str(member.id), "leave"):
                return []
            remover = user if user is not None and user.id != str(member.id) else None
            return [MemberLeft(chat, _user_ref(member), now, removed_by=remover)]
        if not self._from_member(message, user):
            return []
        text = message.text or message.caption or ""
        message_id = str(message.message_id)
        reply = message.reply_to_message
        if reply is not None and reply.forum_topic_created is not None:
            reply = None  # in forum topics every message "replies" to the topic's first message
        reply_to = str(reply.message_id) if reply is not None else None
        if message.text and message.text.startswith("/"):
            parsed = parse_command(message.text, self.bot_username)
            if parsed is not None:
                reply_user = None
                if reply is not None and reply.from_user is not None:
                    reply_user = self._sender(reply)
                return [
                    CommandInvoked(
                        chat, user, now, message_id=message_id, name=parsed[0], args=parsed[1],
                        text=message.text, reply_to=reply_to, reply_to_user=reply_user,
                        reply_to_text=(reply.text or reply.caption or "") if reply is not None else "",
                        thread_id=self._thread_id(message),
                    )
                ]
        return [
            MessageReceived(
                chat, user, now, message_id=message_id, text=text, media=self._media(message),
                forwarded_from=self._forward_origin(message), reply_to=reply_to,
                dedupe_key=f"{PLATFORM}:{chat.id}:{message_id}", **self._extras(message),
            )
        ]

    def _extras(self, message: TgMessage) -> dict[str, Any]:
        """What new and edited messages both carry beyond their text: topic, hidden links, mentions,
        the chat posted as, the inline bot that made it."""
        return {
            "thread_id": self._thread_id(message),
            "links": _links(message),
            "mentioned": _mentioned(message),
            "sender_chat": self._sender_chat(message),
            "via_bot": (message.via_bot.username or str(message.via_bot.id)) if message.via_bot is not None else None,
        }

    def _from_member(self, message: TgMessage, user: UserRef | None) -> bool:
        """Not a linked channel's own post, a service message we do not translate, or the bot's own."""
        return user is not None and not message.is_automatic_forward and not (self.bot_id and user.id == self.bot_id)

    def _from_edit(self, message: TgMessage, now: datetime) -> list[Event]:
        user = self._sender(message)
        if not self._from_member(message, user):
            return []
        text = message.text or message.caption or ""
        if not text and not message.photo:
            return []
        edited = int(message.edit_date.timestamp()) if message.edit_date else int(now.timestamp())
        chat = self._ref(message.chat)
        return [MessageEdited(chat, user, now, message_id=str(message.message_id), text=text,
                              media=self._media(message),
                              dedupe_key=f"{PLATFORM}:{chat.id}:{message.message_id}:edit:{edited}",
                              **self._extras(message))]

    @staticmethod
    def _media(message: TgMessage) -> tuple[Media, ...]:
        caption = message.caption
        out: list[Media] = []
        if message.photo:
            biggest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
            out.append(Media("photo", biggest.file_id, "image/jpeg", caption, {"width": biggest.width, "height": biggest.height}))
        if message.document is not None:
            doc = message.document
            out.append(Media("document", doc.file_id, doc.mime_type, caption, {"file_name": doc.file_name, "size": doc.file_size}))
        if message.contact is not None:
            c = message.contact
            out.append(Media("contact", "", None, caption, {
                "phone_number": c.phone_number, "first_name": c.first_name, "last_name": c.last_name,
                "user_id": c.user_id, "vcard": c.vcard,
            }))
        for kind in ("video", "voice", "audio", "animation", "video_note", "sticker"):
            item = getattr(message, kind)
            if item is not None:
                data: dict[str, Any] = {}
                if kind == "sticker":
                    data = {"emoji": item.emoji, "set_name": item.set_name}
                out.append(Media(kind, item.file_id, getattr(item, "mime_type", None), caption, data))
        if message.location is not None:
            out.append(Media("location", "", None, caption, {"latitude": message.location.latitude, "longitude": message.location.longitude}))
        return tuple(out)

    @staticmethod
    def _forward_origin(message: TgMessage) -> str | None:
        origin = message.forward_origin
        if origin is None:
            return None
        kind = origin.type
        if kind == "user":
            u = origin.sender_user
            return f"@{u.username}" if u.username else u.full_name
        if kind == "hidden_user":
            return origin.sender_user_name
        chat = getattr(origin, "sender_chat", None) or getattr(origin, "chat", None)
        if chat is not None:
            return f"@{chat.username}" if chat.username else (chat.title or str(chat.id))
        return kind

    def _transition(self, chat_id: str, user_id: str, kind: str) -> bool:
        """True when this join/leave is news; False when the other source already reported it."""
        return self._transitions.is_news((chat_id, user_id), kind, time.monotonic())

    def _from_chat_member(self, update: Update, now: datetime) -> list[Event]:
        change = update.chat_member
        chat = self._ref(change.chat)
        old, new = change.old_chat_member, change.new_chat_member
        if old.status in ADMIN_STATES or new.status in ADMIN_STATES:
            self._admins.pop(chat.id, None)  # an admin was added, removed or changed
        was = old.status in MEMBER_STATES or (old.status == ChatMember.RESTRICTED and getattr(old, "is_member", False))
        now_in = new.status in MEMBER_STATES or (new.status == ChatMember.RESTRICTED and getattr(new, "is_member", False))
        member = _user_ref(new.user)
        if self.bot_id and member.id == self.bot_id:
            return []
        actor = _user_ref(change.from_user) if change.from_user is not None else None
        by_other = actor if actor is not None and actor.id != member.id else None
        if not was and now_in:
            if not self._transition(chat.id, member.id, "join"):
                return []
            return [MemberJoined(chat, member, now, invited_by=by_other, via_join_request=bool(change.via_join_request))]
        if was and not now_in:
            if not self._transition(chat.id, member.id, "leave"):
                return []
            return [MemberLeft(chat, member, now, removed_by=by_other)]
        return []

    def _from_callback(self, update: Update, now: datetime) -> list[Event]:
        query = update.callback_query
        message = query.message
        if message is None:
            return []  # a button on an inline-mode message: no chat to dispatch to
        return [
            ButtonPressed(
                self._ref(message.chat), _user_ref(query.from_user), now,
                message_id=str(message.message_id), data=query.data or "", callback_id=query.id,
                thread_id=self._thread_id(message),
            )
        ]

    # --- the one call path out -------------------------------------------------------------------
    def _chat_id(self, chat_id: str) -> str:
        seen = set()
        while chat_id in self._migrated and chat_id not in seen:
            seen.add(chat_id)
            chat_id = self._migrated[chat_id]
        return chat_id

    async def _api(
        self,
        what: str,
        call: Callable[[str | None], Awaitable[T]],
        *,
        chat_id: str | None = None,
        pace: str | None = None,
    ) -> T:
        """Run one Bot API call: paced, 429 obeyed, transient errors retried, migrations followed.
        Telegram's refusals (BadRequest / Forbidden) are raised for the caller to translate."""
        failures = 0
        while True:
            target = self._chat_id(chat_id) if chat_id is not None else None
            if pace is not None:
                await self.limiter.acquire(pace if target is None or not pace.startswith("chat:") else f"chat:{target}")
            if what in SEND_METHODS:
                await wire.mark()  # the request leaves now: from here on it may have arrived
            try:
                return await call(target)
            except RetryAfter as exc:
                wait = _seconds(getattr(exc, "_retry_after", None) or exc.retry_after)
                metrics.RATE_LIMITED.labels(platform=PLATFORM).inc()
                log.warning("telegram: %s: flood limit, retrying after %.1fs", what, wait)
                await asyncio.sleep(wait)
            except TgChatMigrated as exc:
                if chat_id is None:
                    raise ActionFailed("other", f"{what}: {exc}") from exc
                log.info("telegram: chat %s moved to %s", target, exc.new_chat_id)
                self._migrated[str(target)] = str(exc.new_chat_id)
            except (BadRequest, Forbidden, InvalidToken):
                raise
            except (NetworkError, TelegramError) as exc:  # timeouts, 5xx, 502, connection errors
                if what in SEND_METHODS and _may_have_arrived(exc):
                    raise ActionUncertain(f"{what}: {exc}") from exc
                failures += 1
                if failures > self.cfg.retry_attempts:
                    raise ActionFailed("other", f"{what}: gave up after {failures} attempts: {exc}") from exc
                delay = min(self.cfg.retry_backoff * 2 ** (failures - 1), 30.0)
                # Said once per call at WARNING (no traceback); the further retries of the same call at DEBUG.
                log.log(logging.WARNING if failures == 1 else logging.DEBUG,
                        "telegram: %s failed (%s); retry %d of %d in %.1fs", what, exc, failures, self.cfg.retry_attempts, delay)
                await asyncio.sleep(delay)

    async def _act(
        self,
        what: str,
        call: Callable[[str | None], Awaitable[T]],
        *,
        chat: ChatRef | None = None,
        right: str | None = None,
        action: str | None = None,
        pace: str | None = None,
        dm: bool = False,
    ) -> T:
        """`_api` plus the translation of refusals into ActionFailed (telling admins about rights)."""
        try:
            return await self._api(what, call, chat_id=chat.id if chat else None, pace=pace)
        except Forbidden as exc:
            if dm:
                raise ActionFailed("dm_blocked", f"Telegram refused the direct message: {exc.message}") from exc
            raise ActionFailed("other", f"{what}: {exc.message}") from exc
        except BadRequest as exc:
            text = exc.message.lower()
            if dm and ("chat not found" in text or "initiate" in text):
                raise ActionFailed("dm_blocked", f"Telegram refused the direct message: {exc.message}") from exc
            if right and chat is not None and any(m in text for m in _NO_RIGHTS_MARKERS):
                raise await self._refused(chat, right, action or what, f"{what}: {exc.message}") from exc
            if right == RIGHT_DELETE and chat is not None and "can't be deleted" in text:
                # Telegram says the same when the message is too old; ask what our rights are.
                if not await self._bot_has(chat, RIGHT_DELETE):
                    raise await self._refused(chat, right, action or what, f"{what}: {exc.message}") from exc
                raise ActionFailed("not_found", f"{what}: {exc.message}") from exc
            if any(m in text for m in _NOT_FOUND_MARKERS):
                raise ActionFailed("not_found", f"{what}: {exc.message}") from exc
            raise ActionFailed("other", f"{what}: {exc.message}") from exc

    async def _bot_has(self, chat: ChatRef, right: str) -> bool:
        try:
            member = await self._api(
                "getChatMember", lambda cid: self.bot.get_chat_member(cid, int(self.bot_id or 0)), chat_id=chat.id
            )
        except TelegramError:
            return False
        if member.status == ChatMember.OWNER:
            return True
        return member.status == ChatMember.ADMINISTRATOR and bool(getattr(member, right, False))

    def missing_rights(self, chat: ChatRef) -> set[str]:
        chat_id = self._chat_id(chat.id)
        return {right for told_chat, right in self._told if told_chat == chat_id}

    async def _refused(self, chat: ChatRef, right: str, action: str, detail: str) -> ActionFailed:
        """Tell the group's admins, once per chat and right, which right the bot lacks; return the
        ActionFailed('no_rights') to raise. It carries `admins_told = True`: handlers need not say it again."""
        error = ActionFailed("no_rights", detail, right=right)
        error.admins_told = True  # type: ignore[attr-defined]
        key = (self._chat_id(chat.id), right)
        if key in self._told:
            return error
        self._told.add(key)

        def compose(lang: str) -> str:
            return t(
                lang, "telegram.no_rights", chat=chat.title or chat.id, right=t(lang, f"telegram.right.{right}"),
                action=t(lang, f"telegram.action.{action}") if f"telegram.action.{action}" in _ACTIONS else action,
                bot=f"@{self.bot_username}" if self.bot_username else "bot",
            )

        try:
            # The settings of the chat's current id (a migrated group's new one).
            await self.sink.tell_admins(dataclasses.replace(chat, id=key[0]), compose)
        except Exception:
            log.exception("telegram: could not tell the admins of %s that %s is missing", chat.key, right)
        return error

    # --- the Platform protocol -------------------------------------------------------------------
    def mention(self, user: UserRef) -> str:
        """A mention that notifies: @username when there is one, else the name as a text_mention (the
        marker returned here becomes the entity when the text is sent; texts stay plain, no parse_mode)."""
        if user.username:
            return f"@{user.username}"
        name = _MARKER_CHARS.sub("", user.name or "") or user.id
        if not user.id.isdigit():
            return name  # a chat posting as itself has no user to mention
        token = secrets.token_hex(4)
        self._mentions[token] = (int(user.id), name)
        while len(self._mentions) > MENTIONS_KEPT:
            self._mentions.popitem(last=False)
        return f"\ue000{token}\ue001{name}\ue002"

    def _render(self, text: str) -> tuple[str, list[tuple[int, int, int]]]:
        """The plain text to send, and the mentions in it as (start, end, user id) in str positions.
        Marker characters that did not come from mention() (e.g. inside a member's text) are dropped."""
        out: list[str] = []
        spans: list[tuple[int, int, int]] = []
        length = 0
        pos = 0
        for match in _MENTION_RE.finditer(text):
            plain = _MARKER_CHARS.sub("", text[pos:match.start()])
            out.append(plain)
            length += len(plain)
            name = match.group(2)
            known = self._mentions.get(match.group(1))
            if known is not None and name:
                spans.append((length, length + len(name), known[0]))
            out.append(name)
            length += len(name)
            pos = match.end()
        out.append(_MARKER_CHARS.sub("", text[pos:]))
        return "".join(out), spans

    @staticmethod
    def _entities(text: str, spans: list[tuple[int, int, int]], start: int, end: int) -> list[MessageEntity] | None:
        """text_mention entities for the part text[start:end] (offsets and lengths in UTF-16 units)."""
        entities = [
            MessageEntity(
                MessageEntity.TEXT_MENTION, _utf16(text[start:s]), _utf16(text[s:e]),
                user=TgUser(uid, text[s:e] or str(uid), is_bot=False),
            )
            for s, e, uid in spans if start <= s and e <= end
        ]
        return entities or None

    def _pieces(self, text: str, size: int = MAX_TEXT, first: int | None = None) -> list[tuple[str, list[MessageEntity] | None]]:
        """The text split into parts Telegram accepts (≤ `size`, the first ≤ `first` — a caption —,
        cut at a line break when there is one in the second half, never inside a mention), each with
        its entities."""
        plain, spans = self._render(text)
        plain = plain or " "
        pieces: list[tuple[str, list[MessageEntity] | None]] = []
        start = 0
        while True:
            limit = first if first is not None and not pieces else size
            if len(plain) - start <= limit:
                break
            end = start + limit
            cut = plain.rfind("\n", start, end)
            cut = cut if cut > start + limit // 2 else end
            for s, e, _ in spans:
                if s < cut < e:
                    cut = s if s > start else e
            pieces.append((plain[start:cut], self._entities(plain, spans, start, cut)))
            start = cut
            while start < len(plain) and plain[start] == "\n":
                start += 1
        if start < len(plain) or not pieces:
            pieces.append((plain[start:], self._entities(plain, spans, start, len(plain))))
        return pieces

    @staticmethod
    def _markup(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        for row in buttons:
            for b in row:
                if len(b.data.encode()) > 64:
                    raise ActionFailed("other", f"button data longer than Telegram's 64 bytes: {b.data!r}")
        return InlineKeyboardMarkup([[InlineKeyboardButton(_plain(b.text), callback_data=b.data) for b in row] for row in buttons])

    async def _post(
        self, chat: ChatRef, text: str, reply_to: str | None, buttons: Buttons | None, *, dm: bool,
        thread_id: str | None = None, pieces: list[tuple[str, list[MessageEntity] | None]] | None = None,
    ) -> SentMessage:
        markup = self._markup(buttons)
        pieces = pieces if pieces is not None else self._pieces(text)
        thread = int(thread_id) if thread_id else None
        sent = None
        for i, (chunk, entities) in enumerate(pieces):
            last = i == len(pieces) - 1
            reply = ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to and i == 0 else None
            sent = await self._act(
                "sendMessage",
                lambda cid, c=chunk, e=entities, r=reply, m=(markup if last else None): self.bot.send_message(
                    cid, c, entities=e, reply_parameters=r, reply_markup=m, message_thread_id=thread,
                    link_preview_options=NO_PREVIEW,
                ),
                chat=chat, pace=f"dm:{chat.id}" if dm else "chat:", dm=dm,
                right=None if dm else RIGHT_POST, action="send",
            )
        assert sent is not None
        return self._sent(chat, sent)

    def _sent(self, chat: ChatRef, sent: TgMessage) -> SentMessage:
        kind = sent.chat.type or chat.kind
        if kind:
            self._kinds[str(sent.chat.id)] = kind
        return SentMessage(ChatRef(PLATFORM, str(sent.chat.id), chat.title, private=kind == "private", kind=kind),
                           str(sent.message_id))

    async def send(
        self, chat: ChatRef, text: str, *, reply_to: str | None = None, buttons: Buttons | None = None,
        thread_id: str | None = None,
    ) -> SentMessage:
        return await self._post(chat, text, reply_to, buttons, dm=False, thread_id=thread_id)

    async def dm(self, user: UserRef, text: str, *, buttons: Buttons | None = None) -> SentMessage:
        if not user.id.isdigit():
            # A chat posting as itself (an anonymous admin, a channel) has no private chat.
            raise ActionFailed("dm_blocked", f"{user.id} is a chat, not a person")
        chat_id = user.id
        opened = self._requester_chats.get(user.id)
        if opened is not None:
            if opened[1] > time.monotonic():
                chat_id = str(opened[0])  # the chat their join request opened
            else:
                self._requester_chats.pop(user.id, None)
        return await self._post(ChatRef(PLATFORM, chat_id, user.name, private=True, kind="private"), text, None, buttons, dm=True)

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str = "", *, thread_id: str | None = None) -> SentMessage:
        pieces = self._pieces(caption, MAX_TEXT, first=MAX_CAPTION) if caption else [("", None)]
        (head, entities), rest = pieces[0], pieces[1:]
        thread = int(thread_id) if thread_id else None
        if not head.strip():
            head, entities = "", None
        sent = await self._act(
            "sendPhoto",
            lambda cid: self.bot.send_photo(
                cid, photo, caption=head or None, caption_entities=entities, message_thread_id=thread,
            ),
            chat=chat, pace="chat:", right=RIGHT_POST, action="send",
        )
        if rest:
            # The caption's remainder as ordinary messages.
            await self._post(chat, "", None, None, dm=False, thread_id=thread_id, pieces=rest)
        return self._sent(chat, sent)

    async def edit(self, chat: ChatRef, message_id: str, text: str, *, buttons: Buttons | None = None) -> None:
        markup = self._markup(buttons)
        head, entities = self._pieces(text)[0]  # an edit is one message: the rest is cut
        try:
            await self._act(
                "editMessageText",
                lambda cid: self.bot.edit_message_text(
                    head, chat_id=cid, message_id=int(message_id), reply_markup=markup, entities=entities,
                    link_preview_options=NO_PREVIEW,
                ),
                chat=chat,
            )
        except ActionFailed as exc:
            if "not modified" in exc.detail:
                return
            raise

    async def delete(self, chat: ChatRef, message_id: str) -> None:
        await self._act(
            "deleteMessage", lambda cid: self.bot.delete_message(cid, int(message_id)),
            chat=chat, right=RIGHT_DELETE, action="delete",
        )

    async def delete_many(self, chat: ChatRef, message_ids: list[str]) -> None:
        """deleteMessages, at most 100 ids a call; ids already gone are skipped by Telegram."""
        ids = list(dict.fromkeys(int(m) for m in message_ids if str(m).isdigit()))
        for i in range(0, len(ids), MAX_DELETE_BATCH):
            batch = ids[i:i + MAX_DELETE_BATCH]
            try:
                await self._act(
                    "deleteMessages", lambda cid, b=batch: self.bot.delete_messages(cid, b),
                    chat=chat, right=RIGHT_DELETE, action="delete",
                )
            except ActionFailed as exc:
                if exc.reason != "not_found":
                    raise

    def _until(self, until: datetime | None) -> datetime | None:
        """Telegram treats an end less than 30 s away as "forever": a short mute stays short."""
        if until is None:
            return None
        return max(until, self.sink.clock.now() + timedelta(seconds=MIN_UNTIL_SECONDS))

    @staticmethod
    def _person(user: UserRef, what: str) -> int:
        """The user id to act on; a chat (negative id: a channel or the group posting as itself) is
        refused here, without asking Telegram (ban_sender_chat is the way to keep a channel out)."""
        if not user.id.isdigit():
            raise ActionFailed("other", f"{what}: {user.id} is a chat, not a user (use ban_sender_chat for channels)")
        return int(user.id)

    async def restrict(self, chat: ChatRef, user: UserRef, until: datetime | None) -> None:
        user_id = self._person(user, "restrictChatMember")
        until = self._until(until)
        await self._act(
            "restrictChatMember",
            lambda cid: self.bot.restrict_chat_member(
                cid, user_id, ChatPermissions.no_permissions(), until_date=until,
                use_independent_chat_permissions=True,
            ),
            chat=chat, right=RIGHT_RESTRICT, action="restrict",
        )

    async def unrestrict(self, chat: ChatRef, user: UserRef) -> None:
        user_id = self._person(user, "restrictChatMember")
        # All permissions True lifts the restriction: the member falls back to the group's defaults.
        await self._act(
            "restrictChatMember",
            lambda cid: self.bot.restrict_chat_member(
                cid, user_id, ChatPermissions.all_permissions(), use_independent_chat_permissions=True
            ),
            chat=chat, right=RIGHT_RESTRICT, action="unrestrict",
        )

    async def ban(self, chat: ChatRef, user: UserRef, until: datetime | None = None, *, revoke_messages: bool = False) -> None:
        user_id = self._person(user, "banChatMember")
        until = self._until(until)
        await self._act(
            "banChatMember",
            lambda cid: self.bot.ban_chat_member(cid, user_id, until_date=until, revoke_messages=revoke_messages or None),
            chat=chat, right=RIGHT_RESTRICT, action="ban",
        )

    async def unban(self, chat: ChatRef, user: UserRef) -> None:
        user_id = self._person(user, "unbanChatMember")
        if self._kind(chat) == "group":
            return  # a basic group keeps nobody out (Telegram has no unban there): they may simply be added again
        await self._act(
            "unbanChatMember", lambda cid: self.bot.unban_chat_member(cid, user_id, only_if_banned=True),
            chat=chat, right=RIGHT_RESTRICT, action="unban",
        )

    async def kick(self, chat: ChatRef, user: UserRef) -> None:
        """Ban, then lift the ban so they may come back; checked with getChatMember."""
        user_id = self._person(user, "banChatMember")
        await self.ban(chat, user)
        if self._kind(chat) == "group":
            return  # removed from a basic group, they may come back: nothing to lift
        for _ in range(3):
            await self.unban(chat, user)
            member = await self._act("getChatMember", lambda cid: self.bot.get_chat_member(cid, user_id), chat=chat)
            if member.status != ChatMember.BANNED:
                return
        raise ActionFailed("other", f"{user.id} was removed but is still banned in {chat.id}; unban them by hand")

    async def ban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef) -> None:
        """A channel's posts in the group stop (and the member behind it cannot post as any of their channels)."""
        await self._act(
            "banChatSenderChat", lambda cid: self.bot.ban_chat_sender_chat(cid, int(sender_chat.id)),
            chat=chat, right=RIGHT_RESTRICT, action="ban",
        )

    async def unban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef) -> None:
        await self._act(
            "unbanChatSenderChat", lambda cid: self.bot.unban_chat_sender_chat(cid, int(sender_chat.id)),
            chat=chat, right=RIGHT_RESTRICT, action="unban",
        )

    async def answer_button(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None:
        self._answered.add(callback_id)
        try:
            await self._act(
                "answerCallbackQuery",
                lambda _c: self.bot.answer_callback_query(callback_id, text=(text or None) and _plain(text)[:200], show_alert=alert),
            )
        except ActionFailed as exc:
            log.debug("telegram: answering button %s failed: %s", callback_id, exc)

    async def approve_join(self, chat: ChatRef, user: UserRef) -> None:
        try:
            await self._act(
                "approveChatJoinRequest", lambda cid: self.bot.approve_chat_join_request(cid, int(user.id)),
                chat=chat, right=RIGHT_INVITE, action="join",
            )
        except ActionFailed as exc:
            if "user_already_participant" not in exc.detail.lower():
                raise

    async def decline_join(self, chat: ChatRef, user: UserRef) -> None:
        await self._act(
            "declineChatJoinRequest", lambda cid: self.bot.decline_chat_join_request(cid, int(user.id)),
            chat=chat, right=RIGHT_INVITE, action="join",
        )

    async def admin_ids(self, chat: ChatRef) -> set[str]:
        """The group's human admins (getChatAdministrators), cached for `admin_cache_seconds` and
        dropped when a chat_member update touches an admin. The group's own id is included: a
        message "sent as the group" comes from an anonymous admin."""
        chat_id = self._chat_id(chat.id)
        cached = self._admins.get(chat_id)
        if cached is not None and cached[0] > time.monotonic():
            return set(cached[1])
        lock = self._admin_locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            cached = self._admins.get(chat_id)
            if cached is not None and cached[0] > time.monotonic():
                return set(cached[1])
            if not chat_id.startswith("-"):
                return set()  # a private chat has no admins
            members = await self._act("getChatAdministrators", lambda cid: self.bot.get_chat_administrators(cid), chat=chat)
            ids = {str(m.user.id) for m in members if not m.user.is_bot}
            self._owners[chat_id] = {str(m.user.id) for m in members if getattr(m, "status", "") == "creator" and not m.user.is_bot}
            ids.add(chat_id)
            self._admins[chat_id] = (time.monotonic() + self.cfg.admin_cache_seconds, ids)
            return set(ids)

    async def owner_ids(self, chat: ChatRef) -> set[str]:
        """The group's creator, from the same (cached) getChatAdministrators as `admin_ids`."""
        await self.admin_ids(chat)
        return set(self._owners.get(self._chat_id(chat.id), set()))

    async def download(self, media: Media) -> bytes:
        if not media.file_id:
            raise ActionFailed("not_found", f"{media.kind} has no file to download")
        file = await self._act("getFile", lambda _c: self.bot.get_file(media.file_id))
        data = await self._api("download", lambda _c: file.download_as_bytearray())
        return bytes(data)


_ACTIONS = {f"telegram.action.{a}" for a in ("delete", "restrict", "unrestrict", "ban", "unban", "join", "send")}
