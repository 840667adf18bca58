"""A fake Telegram Bot API server over real HTTP, for tests and the bench.

    fake = FakeTelegram(token="123:TEST")
    await fake.start()                 # aiohttp on 127.0.0.1, random port
    fake.base_url                      # "http://127.0.0.1:PORT/bot"  -> [telegram] base_url
    fake.base_file_url                 # "http://127.0.0.1:PORT/file/bot" -> [telegram] base_file_url
    ...
    await fake.stop()

Point python-telegram-bot (or `qunzhu run`) at it through `base_url` / `base_file_url`. By hand:
`.venv/bin/python -m tests.support.fake_telegram [--port 8081]` prints a [telegram] block for a config
and turns lines typed into it ("alice: hello", ":join bob", ":press alice 3 DATA") into updates.

Methods answered (form, multipart or JSON bodies, like the real server): getMe, getUpdates (long-poll
from a queue the test pushes into), sendMessage, sendPhoto, editMessageText, deleteMessage, deleteMessages,
restrictChatMember, promoteChatMember, banChatMember, unbanChatMember, banChatSenderChat,
unbanChatSenderChat, getChatMember, getChatAdministrators, getChat, answerCallbackQuery,
approveChatJoinRequest, declineChatJoinRequest, setMyCommands, getMyCommands, deleteWebhook, setWebhook,
getWebhookInfo, getFile and file downloads (GET /file/bot<token>/<path>), leaveChat, close/logOut.
Anything else answers 404 "method not found" (and is recorded).

As strict as Telegram (a kinder fake hides bugs) — refused with Telegram's own texts:
    a parameter the method does not take (KNOWN_PARAMS) → "Bad Request: unknown parameter NAME"
        (the real server ignores it silently; here our typos surface)
    text over 4,096 characters → "Bad Request: message is too long"; caption over 1,024 → "Bad Request:
        message caption is too long"
    message_thread_id outside a forum, or a topic the forum lacks → "Bad Request: message thread not found"
    restrictChatMember in a basic group, a channel or a private chat → "Bad Request: method is available
        only for supergroups"; unban / promote in a basic group → "Bad Request: method is available for
        supergroup and channel chats only"
    a chat's (negative) id as user_id → "Bad Request: invalid user_id specified"
    deleteMessages: no ids / more than 100 / a bad id → "Bad Request: message identifiers are not
        specified" / "too many message identifiers specified" / "invalid message identifier specified";
        ids already gone are skipped, as Telegram does
    a DM to a user who never started the bot (block_dms) → 403, except for 5 minutes after that user's
        join request (join_request_update), as on Telegram

Recording — every call is kept in order as a `Call(method, params, at, status, description)`
(`description`: the refusal's text for a failed call):
    fake.calls                          # all of them
    fake.calls_to("sendMessage")        # only one method (successful and failed ones)
    fake.sent("sendMessage")            # only those that succeeded
    fake.texts(chat_id)                 # texts the bot posted (and did not delete) in a chat
    fake.last("sendMessage").params     # params: str values as sent; JSON-valued params
                                        # (reply_markup, permissions, commands, scope, …) decoded;
                                        # uploaded files as bytes
    await fake.wait_for("sendMessage", count=1, timeout=5)   # for work done outside an update
    fake.messages[(chat_id, message_id)]                      # what is in each chat (bot's and pushed)

State the fake keeps like Telegram does (ids are ints in the fake, strings in params):
    fake.bot                            # the bot's own user dict (id 7000001, @qunzhu_test_bot)
    fake.set_admins(chat_id, [user, …]) # who getChatAdministrators lists (the bot is always added)
    fake.bot_rights[chat_id] = {...}    # the bot's admin rights in a chat; default: all of them.
        Without "can_delete_messages", deleteMessage of others' messages answers 400
        "Bad Request: message can't be deleted"; without "can_restrict_members", restrict/ban/unban
        answer 400 "Bad Request: not enough rights to restrict/unrestrict chat member"; without
        "can_invite_users", approve/decline answer 400 "Bad Request: CHAT_ADMIN_REQUIRED".
    fake.block_dms(user_id, …)          # sendMessage to that user answers 403 "Forbidden: bot can't
                                        # initiate conversation with a user"
    fake.member_status(chat_id, user_id)  # "member", "restricted", "kicked", "left" … after the bot's actions
    fake.add_file(file_id, data)        # for getFile + download (photo updates add theirs)
    fake.webhook                        # {"url": …, "secret_token": …} after setWebhook, else None
    fake.commands[("default", "zh")]    # setMyCommands lists by (scope type, language_code or "")
    fake.topics[chat_id]                # {thread id: name} of a forum
    fake.banned_sender_chats            # {(chat id, sender chat id)} after banChatSenderChat

Slow answers, raw updates (intake tests):
    fake.delay("sendMessage", 2.0, times=None, when=None)      # carried out at once, answered 2 s later
    await fake.push_raw(update_dict)    # queued for getUpdates exactly as given (no building, no checks)
    fake.polls, fake.get_updates_params()                      # getUpdates count and their params

Scripted failures (consumed in order, one per matching call):
    fake.fail("sendMessage", status=429, retry_after=2)        # "Too Many Requests: retry after 2"
    fake.fail("sendMessage", status=500)                       # "Internal Server Error"
    fake.fail("deleteMessage", status=400, description="Bad Request: not enough rights …")
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    fake.fail("sendMessage", status=400, migrate_to_chat_id=-100123)
    fake.fail(..., times=3)                                    # the same failure three times
    fake.fail(..., when=lambda params: params["chat_id"] == "42")  # only for matching calls

Slow answers (a NEW knob, independent of the scripted failures): the call is recorded when it
arrives and carried out (a sendMessage is stored) after the delay, as a slow Telegram would:
    fake.slow("sendMessage", 2.0)                              # every sendMessage answers after 2 s
    fake.slow("sendMessage", 2.0, when=lambda p: p["chat_id"].startswith("-"))  # only some
    fake.slow("sendMessage", 0)                                # back to answering at once

Updates — builders return the update dict (with a fresh update_id); `fake.push(update)` queues it for
getUpdates (webhook mode: the harness POSTs it instead):
    fake.user("alice")                  # a user dict, the same id for the same name
    fake.group(chat_id=-1001000000001, title="Test group", type="supergroup")  # a chat dict
    fake.basic_group(chat_id=-4000000001)                         # type "group": no restrictions
    fake.channel(chat_id=-1002000000001, title="Deals Channel", username="deals")
    fake.forum(chat_id=-1003000000001, topics={4: "Deals"})      # is_forum; topic id = its first message's id
    fake.text_update(chat, user, "hi", reply_to=None, entities=None, forward_origin=None, sender_chat=None,
                     thread_id=None, reply_markup=None, via_bot=None, is_automatic_forward=None)
                                        # thread_id: posted in that topic (message_thread_id, is_topic_message)
    fake.sender_chat_update(chat, channel_or_chat, "hi", **kw)   # posted as a channel (from Channel_Bot)
                                        # or as the group itself (an anonymous admin, GroupAnonymousBot)
    fake.command_update(chat, user, "/warn@qunzhu_test_bot 1d", thread_id=None)   # a text update with the
                                        # bot_command entity Telegram adds
    fake.photo_update(chat, user, data=b"…", caption="…", caption_entities=None, thread_id=None)
                                        # registers the file for getFile
    fake.document_update(chat, user, data, file_name="a.pdf", mime_type="application/pdf", caption="")
    fake.contact_update(chat, user, phone_number="+86…", first_name="…")
    fake.forward_update(chat, user, text, origin={"type": "channel", "chat": {...}, …})
    fake.new_members_update(chat, [user, …], by=None)            # service message
    fake.left_member_update(chat, user, by=None)                 # service message
    fake.chat_member_update(chat, user, old="left", new="member", by=None, via_join_request=False)
    fake.my_chat_member_update(chat, old="member", new="administrator", by=None)
    fake.join_request_update(chat, user, bio=None)
    fake.callback_update(chat, user, message_id, data)           # a press on a bot message
    fake.migration_updates(old_chat, new_chat_id) -> [to_update, from_update]
    fake.private_text_update(user, text)                          # a DM to the bot
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7000001
BOT_USERNAME = "qunzhu_test_bot"
DEFAULT_CHAT_ID = -1001000000001

# Params whose value PTB sends JSON-encoded; the fake decodes them for easy assertions.
JSON_PARAMS = {
    "reply_markup", "permissions", "commands", "scope", "allowed_updates", "entities",
    "caption_entities", "reply_parameters", "link_preview_options", "media", "message_ids",
}

# The parameters each method takes (Bot API 10.0), for the methods the bot uses: anything else is
# refused with "Bad Request: unknown parameter …", so a misspelt parameter of ours fails loudly
# instead of being ignored (the real server would ignore it silently, hiding the mistake).
_SEND_COMMON = {
    "business_connection_id", "chat_id", "message_thread_id", "direct_messages_topic_id", "parse_mode",
    "disable_notification", "protect_content", "allow_paid_broadcast", "message_effect_id",
    "suggested_post_parameters", "reply_parameters", "reply_markup",
    "reply_to_message_id", "allow_sending_without_reply",  # still accepted, superseded by reply_parameters
}
KNOWN_PARAMS: dict[str, set[str]] = {
    "getMe": set(), "logOut": set(), "close": set(), "getWebhookInfo": set(),
    "getUpdates": {"offset", "limit", "timeout", "allowed_updates"},
    "setWebhook": {"url", "certificate", "ip_address", "max_connections", "allowed_updates",
                   "drop_pending_updates", "secret_token"},
    "deleteWebhook": {"drop_pending_updates"},
    "sendMessage": _SEND_COMMON | {"text", "entities", "link_preview_options", "disable_web_page_preview"},
    "sendPhoto": _SEND_COMMON | {"photo", "caption", "caption_entities", "show_caption_above_media", "has_spoiler"},
    "editMessageText": {"business_connection_id", "chat_id", "message_id", "inline_message_id", "text", "parse_mode",
                        "entities", "link_preview_options", "reply_markup", "disable_web_page_preview"},
    "deleteMessage": {"chat_id", "message_id"},
    "deleteMessages": {"chat_id", "message_ids"},
    "restrictChatMember": {"chat_id", "user_id", "permissions", "use_independent_chat_permissions", "until_date"},
    "promoteChatMember": {"chat_id", "user_id", "is_anonymous", "can_manage_chat", "can_delete_messages",
                          "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
                          "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
                          "can_post_messages", "can_edit_messages", "can_pin_messages", "can_manage_topics",
                          "can_manage_direct_messages"},
    "banChatMember": {"chat_id", "user_id", "until_date", "revoke_messages"},
    "unbanChatMember": {"chat_id", "user_id", "only_if_banned"},
    "banChatSenderChat": {"chat_id", "sender_chat_id"},
    "unbanChatSenderChat": {"chat_id", "sender_chat_id"},
    "getChatMember": {"chat_id", "user_id"},
    "getChatAdministrators": {"chat_id"},
    "getChat": {"chat_id"},
    "leaveChat": {"chat_id"},
    "answerCallbackQuery": {"callback_query_id", "text", "show_alert", "url", "cache_time"},
    "approveChatJoinRequest": {"chat_id", "user_id"},
    "declineChatJoinRequest": {"chat_id", "user_id"},
    "setMyCommands": {"commands", "scope", "language_code"},
    "getMyCommands": {"scope", "language_code"},
    "deleteMyCommands": {"scope", "language_code"},
    "getFile": {"file_id"},
}

MAX_TEXT = 4096
MAX_CAPTION = 1024
REQUESTER_DM_SECONDS = 300  # a join request lets the bot write to the requester for 5 minutes
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
SUPERGROUPS_ONLY = "Bad Request: method is available only for supergroups"
SUPERGROUPS_AND_CHANNELS_ONLY = "Bad Request: method is available for supergroup and channel chats only"
INVALID_USER_ID = "Bad Request: invalid user_id specified"
THREAD_NOT_FOUND = "Bad Request: message thread not found"

ALL_RIGHTS = {
    "can_manage_chat": True, "can_delete_messages": True, "can_restrict_members": True,
    "can_invite_users": True, "can_pin_messages": True, "can_change_info": True,
    "can_promote_members": False, "can_manage_video_chats": True, "can_post_stories": False,
    "can_edit_stories": False, "can_delete_stories": False, "is_anonymous": False,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200
    description: str | None = None  # the refusal's text ("Bad Request: …") when status is not 200


@dataclass
class Failure:
    method: str
    status: int
    description: str
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    times: int = 1
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class Delay:
    method: str
    seconds: float
    times: int | None = None  # None: every matching call
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class FakeMessage:
    chat_id: int
    message_id: int
    from_id: int
    text: str = ""
    reply_markup: dict | None = None
    deleted: bool = False
    raw: dict = field(default_factory=dict)


_DESCRIPTIONS = {
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
    403: "Forbidden: bot can't initiate conversation with a user",
    400: "Bad Request: not enough rights to restrict/unrestrict chat member",
}


class TelegramAPIError(Exception):
    def __init__(self, status: int, description: str, parameters: dict | None = None):
        self.status, self.description, self.parameters = status, description, parameters


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-TOKEN", *, host: str = "127.0.0.1", port: int = 0):
        self.token = token
        self.host = host
        self.port: int | None = None
        self._listen_port = port  # 0: any free port (a test may pick one and start the fake late)
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.messages: dict[tuple[int, int], FakeMessage] = {}
        self.admins: dict[int, list[dict]] = {}
        self.bot_rights: dict[int, dict[str, bool]] = {}
        self.dm_blocked: set[int] = set()
        self.members: dict[tuple[int, int], dict] = {}
        self.files: dict[str, bytes] = {}
        self.chats: dict[int, dict] = {}
        self.commands: dict[tuple[str, str], list[dict]] = {}  # (scope type, language) -> commands
        self.topics: dict[int, dict[int, str]] = {}  # forum chat id -> {topic (thread) id: name}
        self.banned_sender_chats: set[tuple[int, int]] = set()  # (chat id, sender chat id)
        self.join_requests: dict[int, float] = {}  # user_chat_id -> when the join request was made
        self.webhook: dict | None = None
        self.bot = {"id": BOT_ID, "is_bot": True, "first_name": "Qunzhu", "username": BOT_USERNAME,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        self._users: dict[str, dict] = {}
        self._user_ids = itertools.count(100001)
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count] = {}
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._updates: list[dict] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._polls = 0
        self._closing = False
        self.delays: list[Delay] = []

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> "FakeTelegram":
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._listen_port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeTelegram":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    # --- scripting -----------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        status: int = 500,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if migrate_to_chat_id is not None:
                description = "Bad Request: group chat was upgraded to a supergroup chat"
            else:
                description = _DESCRIPTIONS.get(status, f"Error {status}").format(retry_after=retry_after)
        self.failures.append(Failure(method, status, description, retry_after, migrate_to_chat_id, times, when))

    def slow(self, method: str, seconds: float, *, when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Answer `method` after `seconds` (0: at once again); see the module docstring."""
        delays = self.__dict__.setdefault("method_delays", {})
        if seconds <= 0:
            delays.pop(method, None)
        else:
            delays[method] = (float(seconds), when)

    async def _slow_down(self, method: str, params: dict[str, Any]) -> None:
        delay = self.__dict__.get("method_delays", {}).get(method)
        if delay is not None and (delay[1] is None or delay[1](params)):
            await asyncio.sleep(delay[0])

    def set_admins(self, chat_id: int, users: list[dict]) -> None:
        self.admins[int(chat_id)] = list(users)

    def block_dms(self, *user_ids: int) -> None:
        self.dm_blocked.update(int(u) for u in user_ids)

    def add_file(self, file_id: str, data: bytes) -> None:
        self.files[file_id] = data

    def member_status(self, chat_id: int, user_id: int) -> str:
        return self.members.get((int(chat_id), int(user_id)), {}).get("status", "member")

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    def last(self, method: str) -> Call:
        calls = self.sent(method)
        if not calls:
            raise AssertionError(f"the bot never called {method} successfully; calls: {[c.method for c in self.calls]}")
        return calls[-1]

    def texts(self, chat_id: int, *, include_deleted: bool = False) -> list[str]:
        return [
            m.text for (cid, _), m in sorted(self.messages.items(), key=lambda kv: kv[0][1])
            if cid == int(chat_id) and m.from_id == BOT_ID and (include_deleted or not m.deleted)
        ]

    def clear_calls(self) -> None:
        self.calls.clear()

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        async with self._changed:
            while len(self.sent(method)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"waited {timeout}s for {count} successful {method}; calls: {[c.method for c in self.calls]}"
                    )
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except asyncio.TimeoutError:
                    pass
        return self.sent(method)

    # --- intake tests: slow answers, raw updates, getUpdates bookkeeping ---------------------------
    def delay(self, method: str, seconds: float, *, times: int | None = None,
              when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Carry out `method` at once but answer only `seconds` later (a slow network after the request
        arrived): the effect happens even when the client has given up waiting."""
        self.delays.append(Delay(method, seconds, times, when))

    async def _delay_answer(self, method: str, params: dict[str, Any]) -> None:
        for d in self.delays:
            if d.method == method and (d.when is None or d.when(params)):
                if d.times is not None:
                    d.times -= 1
                    if d.times <= 0:
                        self.delays.remove(d)
                await asyncio.sleep(d.seconds)
                return

    async def push_raw(self, *updates: dict) -> None:
        """Queue update dicts exactly as given (real payloads, malformed ones): nothing is built or checked."""
        await self.push(*updates)

    @property
    def polls(self) -> int:
        """How many getUpdates calls arrived (answered or failed)."""
        return len(self.calls_to("getUpdates"))

    def get_updates_params(self) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == "getUpdates"]

    # --- updates -------------------------------------------------------------------------------
    async def push(self, *updates: dict) -> None:
        async with self._changed:
            self._updates.extend(updates)
            self._changed.notify_all()

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def user(self, name: str, *, id: int | None = None, is_bot: bool = False, username: str | None = "",
             language_code: str | None = None) -> dict:
        if name in self._users and id is None:
            return self._users[name]
        uid = id if id is not None else next(self._user_ids)
        user = {"id": uid, "is_bot": is_bot, "first_name": name}
        if username is not None:
            user["username"] = username or name.replace(" ", "_")
        if language_code:
            user["language_code"] = language_code
        self._users[name] = user
        return user

    def group(self, chat_id: int = DEFAULT_CHAT_ID, title: str = "Test group", type: str = "supergroup") -> dict:
        chat = {"id": int(chat_id), "title": title, "type": type}
        self.chats[int(chat_id)] = chat
        return chat

    def basic_group(self, chat_id: int = -4000000001, title: str = "Basic group") -> dict:
        """A basic group ("group"): ids without the -100 prefix; no restrictions, no topics."""
        return self.group(chat_id, title, "group")

    def channel(self, chat_id: int = -1002000000001, title: str = "Deals Channel", username: str | None = "deals") -> dict:
        chat = {"id": int(chat_id), "title": title, "type": "channel"}
        if username:
            chat["username"] = username
        self.chats[int(chat_id)] = chat
        return chat

    def forum(self, chat_id: int = -1003000000001, title: str = "Forum group", topics: dict[int, str] | None = None) -> dict:
        """A supergroup with topics on. A topic's id is the id of the service message that created it
        (as on Telegram), so those message ids are taken; `topics` defaults to {4: "Deals"}."""
        chat = {"id": int(chat_id), "title": title, "type": "supergroup", "is_forum": True}
        self.chats[int(chat_id)] = chat
        for thread_id, name in (topics if topics is not None else {4: "Deals"}).items():
            self.add_topic(chat, thread_id, name)
        return chat

    def add_topic(self, chat: dict, thread_id: int, name: str = "Topic") -> None:
        owner = self.user("owner")
        self.topics.setdefault(int(chat["id"]), {})[int(thread_id)] = name
        self._message(chat, owner, message_id=int(thread_id), message_thread_id=int(thread_id), is_topic_message=True,
                      forum_topic_created={"name": name, "icon_color": 7322096})
        counter = self._message_ids.get(int(chat["id"]))
        current = next(counter) if counter is not None else 1
        self._message_ids[int(chat["id"])] = itertools.count(max(current, int(thread_id) + 1))

    def _topic_fields(self, chat: dict, thread_id: int | None, reply: dict | None) -> dict:
        """What a message posted in forum topic `thread_id` carries: the thread id, is_topic_message,
        and (when it replies to nothing else) a reply to the topic's creation message."""
        if thread_id is None:
            return {}
        if int(thread_id) not in self.topics.get(int(chat["id"]), {}):
            raise AssertionError(f"chat {chat['id']} has no topic {thread_id}; add it with fake.forum(topics=…)")
        fields = {"message_thread_id": int(thread_id), "is_topic_message": True}
        if reply is None:
            fields["reply_to_message"] = self._reply_part(chat, int(thread_id))
        return fields

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(int(chat_id), itertools.count(1)))

    def _message(self, chat: dict, user: dict | None, **fields) -> dict:
        message_id = fields.pop("message_id", None) or self._next_message_id(chat["id"])
        msg = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        if user is not None:
            msg["from"] = user
        msg.update({k: v for k, v in fields.items() if v is not None})
        self.messages[(chat["id"], message_id)] = FakeMessage(
            chat["id"], message_id, user["id"] if user else 0, msg.get("text") or msg.get("caption") or "",
            raw=msg,
        )
        return msg

    def _reply_part(self, chat: dict, reply_to: int | None) -> dict | None:
        if reply_to is None:
            return None
        original = self.messages.get((chat["id"], int(reply_to)))
        if original is not None:
            return dict(original.raw) if original.raw else {
                "message_id": original.message_id, "date": int(time.time()), "chat": chat,
                "from": self.bot if original.from_id == BOT_ID else {"id": original.from_id, "is_bot": False, "first_name": str(original.from_id)},
                "text": original.text,
            }
        return {"message_id": int(reply_to), "date": int(time.time()), "chat": chat}

    def message_update(self, message: dict, kind: str = "message") -> dict:
        return {"update_id": self.next_update_id(), kind: message}

    def text_update(self, chat: dict, user: dict, text: str, *, reply_to: int | None = None,
                    entities: list[dict] | None = None, forward_origin: dict | None = None,
                    sender_chat: dict | None = None, message_id: int | None = None,
                    thread_id: int | None = None, reply_markup: dict | None = None, via_bot: dict | None = None,
                    is_automatic_forward: bool | None = None) -> dict:
        """`thread_id`: posted in that forum topic; `reply_markup`: inline buttons under the message
        (e.g. URL buttons of an inline bot's message, with `via_bot`)."""
        reply = self._reply_part(chat, reply_to)
        fields = {"reply_to_message": reply, **self._topic_fields(chat, thread_id, reply)}
        msg = self._message(chat, user, text=text, entities=entities, message_id=message_id,
                            forward_origin=forward_origin, sender_chat=sender_chat,
                            reply_markup=reply_markup, via_bot=via_bot, is_automatic_forward=is_automatic_forward,
                            **fields)
        return self.message_update(msg)

    def sender_chat_update(self, chat: dict, sender_chat: dict, text: str, **kw: Any) -> dict:
        """A message posted in the name of a chat: a channel (from Channel_Bot), or the group itself
        (an anonymous admin, from GroupAnonymousBot)."""
        user = ANONYMOUS_ADMIN if sender_chat["id"] == chat["id"] else CHANNEL_BOT
        return self.text_update(chat, user, text, sender_chat=sender_chat, **kw)

    def edited_text_update(self, chat: dict, user: dict, message_id: int, text: str) -> dict:
        """The member edited an earlier message of theirs (Telegram sends the whole message again)."""
        original = self.messages[(chat["id"], int(message_id))]
        msg = {**original.raw, "text": text, "edit_date": int(time.time())}
        self.messages[(chat["id"], int(message_id))] = FakeMessage(chat["id"], int(message_id), user["id"], text, raw=msg)
        return self.message_update(msg, kind="edited_message")

    def command_update(self, chat: dict, user: dict, text: str, *, reply_to: int | None = None,
                       thread_id: int | None = None) -> dict:
        length = len(text.split(" ", 1)[0])
        return self.text_update(chat, user, text, reply_to=reply_to, thread_id=thread_id,
                                entities=[{"type": "bot_command", "offset": 0, "length": length}])

    def private_text_update(self, user: dict, text: str) -> dict:
        chat = {"id": user["id"], "type": "private", "first_name": user.get("first_name", ""),
                "username": user.get("username")}
        entities = None
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ", 1)[0])}]
        return self.message_update(self._message(chat, user, text=text, entities=entities))

    def photo_update(self, chat: dict, user: dict, data: bytes = b"\x89PNG fake", *, caption: str | None = None,
                     caption_entities: list[dict] | None = None, thread_id: int | None = None) -> dict:
        n = next(self._file_ids)
        small, big = f"photo-{n}-s", f"photo-{n}-m"
        self.add_file(small, data[: max(1, len(data) // 4)])
        self.add_file(big, data)
        photo = [
            {"file_id": small, "file_unique_id": f"u{small}", "width": 90, "height": 90, "file_size": len(data) // 4},
            {"file_id": big, "file_unique_id": f"u{big}", "width": 800, "height": 800, "file_size": len(data)},
        ]
        return self.message_update(self._message(chat, user, photo=photo, caption=caption, caption_entities=caption_entities,
                                                 **self._topic_fields(chat, thread_id, None)))

    def document_update(self, chat: dict, user: dict, data: bytes = b"%PDF-1.4 fake", *, file_name: str = "file.pdf",
                        mime_type: str = "application/pdf", caption: str | None = None) -> dict:
        file_id = f"doc-{next(self._file_ids)}"
        self.add_file(file_id, data)
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                    "mime_type": mime_type, "file_size": len(data)}
        return self.message_update(self._message(chat, user, document=document, caption=caption))

    def contact_update(self, chat: dict, user: dict, *, phone_number: str = "+8613800000000",
                       first_name: str = "Zhang", last_name: str | None = None, user_id: int | None = None) -> dict:
        contact = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id:
            contact["user_id"] = user_id
        return self.message_update(self._message(chat, user, contact=contact))

    def forward_update(self, chat: dict, user: dict, text: str, *, origin: dict | None = None) -> dict:
        if origin is None:
            origin = {"type": "channel", "date": int(time.time()), "message_id": 77,
                      "chat": {"id": -1009999999999, "type": "channel", "title": "Deals Channel", "username": "deals"}}
        return self.text_update(chat, user, text, forward_origin=origin)

    def new_members_update(self, chat: dict, users: list[dict], *, by: dict | None = None) -> dict:
        return self.message_update(self._message(chat, by or users[0], new_chat_members=list(users)))

    def left_member_update(self, chat: dict, user: dict, *, by: dict | None = None) -> dict:
        return self.message_update(self._message(chat, by or user, left_chat_member=user))

    @staticmethod
    def _member(user: dict, status: str) -> dict:
        member: dict[str, Any] = {"user": user, "status": status}
        if status == "kicked":
            member["until_date"] = 0
        if status == "restricted":
            member.update({"is_member": True, "until_date": 0, "can_send_messages": False,
                           "can_send_audios": False, "can_send_documents": False, "can_send_photos": False,
                           "can_send_videos": False, "can_send_video_notes": False, "can_send_voice_notes": False,
                           "can_send_polls": False, "can_send_other_messages": False,
                           "can_add_web_page_previews": False, "can_change_info": False,
                           "can_invite_users": False, "can_pin_messages": False, "can_manage_topics": False,
                           "can_edit_tag": False, "can_react_to_messages": False})
        if status == "administrator":
            member.update({"can_be_edited": False, **ALL_RIGHTS})
        if status == "creator":
            member["is_anonymous"] = False
        return member

    def chat_member_update(self, chat: dict, user: dict, *, old: str = "left", new: str = "member",
                           by: dict | None = None, via_join_request: bool = False) -> dict:
        body = {"chat": chat, "from": by or user, "date": int(time.time()),
                "old_chat_member": self._member(user, old), "new_chat_member": self._member(user, new)}
        if via_join_request:
            body["via_join_request"] = True
        return {"update_id": self.next_update_id(), "chat_member": body}

    def my_chat_member_update(self, chat: dict, *, old: str = "member", new: str = "administrator",
                              by: dict | None = None) -> dict:
        body = {"chat": chat, "from": by or self.user("owner"), "date": int(time.time()),
                "old_chat_member": self._member(self.bot, old), "new_chat_member": self._member(self.bot, new)}
        return {"update_id": self.next_update_id(), "my_chat_member": body}

    def join_request_update(self, chat: dict, user: dict, *, bio: str | None = None) -> dict:
        """For 5 minutes after it, the bot may write to the requester's private chat (user_chat_id)
        even if they never started the bot."""
        self.join_requests[int(user["id"])] = time.monotonic()
        body = {"chat": chat, "from": user, "user_chat_id": user["id"], "date": int(time.time())}
        if bio:
            body["bio"] = bio
        return {"update_id": self.next_update_id(), "chat_join_request": body}

    def callback_update(self, chat: dict, user: dict, message_id: int, data: str) -> dict:
        stored = self.messages.get((chat["id"], int(message_id)))
        if stored is not None and stored.reply_markup is not None:
            offered = [b.get("callback_data") for row in stored.reply_markup.get("inline_keyboard", []) for b in row]
            if data not in offered:
                raise AssertionError(f"message {message_id} has no button with data {data!r}; it has {offered}")
        message = {"message_id": int(message_id), "date": int(time.time()), "chat": chat, "from": self.bot,
                   "text": stored.text if stored else ""}
        for key in ("message_thread_id", "is_topic_message"):
            if stored is not None and key in stored.raw:
                message[key] = stored.raw[key]
        if stored is not None and stored.reply_markup:
            message["reply_markup"] = stored.reply_markup
        body = {"id": f"cb{next(self._callback_ids)}", "from": user, "chat_instance": f"ci{chat['id']}",
                "message": message, "data": data}
        return {"update_id": self.next_update_id(), "callback_query": body}

    def migration_updates(self, old_chat: dict, new_chat_id: int) -> list[dict]:
        """What Telegram sends when a group becomes a supergroup: a service message in the old chat
        (migrate_to_chat_id) and one in the new (migrate_from_chat_id)."""
        owner = self.user("owner")
        new_chat = {"id": int(new_chat_id), "title": old_chat.get("title", ""), "type": "supergroup"}
        self.chats[int(new_chat_id)] = new_chat
        to_msg = self._message(old_chat, owner, migrate_to_chat_id=int(new_chat_id))
        from_msg = self._message(new_chat, owner, migrate_from_chat_id=int(old_chat["id"]))
        return [self.message_update(to_msg), self.message_update(from_msg)]

    # --- the HTTP side ---------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            for key, value in (body or {}).items():
                params[key] = value if key in JSON_PARAMS or isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
            return params
        if request.method == "GET":
            source = request.query
        else:
            source = await request.post()
        for key, value in source.items():
            if hasattr(value, "file"):
                params[key] = value.file.read()
            elif key in JSON_PARAMS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
            else:
                params[key] = value
        for key, value in request.query.items():
            params.setdefault(key, value)
        return params

    def _scripted(self, method: str, params: dict[str, Any]) -> Failure | None:
        for failure in self.failures:
            if failure.method == method and (failure.when is None or failure.when(params)):
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
                return failure
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise TelegramAPIError(401, "Unauthorized")
            await self._slow_down(method, params)
            failure = self._scripted(method, params)
            if failure is not None:
                parameters = {}
                if failure.retry_after is not None:
                    parameters["retry_after"] = failure.retry_after
                if failure.migrate_to_chat_id is not None:
                    parameters["migrate_to_chat_id"] = failure.migrate_to_chat_id
                raise TelegramAPIError(failure.status, failure.description, parameters or None)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise TelegramAPIError(404, "Not Found: method not found")
            known = KNOWN_PARAMS.get(method)
            if known is not None:
                unknown = sorted(set(params) - known)
                if unknown:
                    raise TelegramAPIError(400, f"Bad Request: unknown parameter {unknown[0]}")
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
            await self._delay_answer(method, params)
            body = {"ok": True, "result": result}
            status = 200
        except TelegramAPIError as exc:
            status = exc.status
            call.description = exc.description
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
        call.status = status
        if method != "getUpdates":
            async with self._changed:
                self._changed.notify_all()
        return web.json_response(body, status=status)

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.calls.append(Call("GET file", {"path": path}, time.monotonic()))
        file_id = path.rsplit("/", 1)[-1]
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    # --- Bot API methods -------------------------------------------------------------------------
    def _chat(self, chat_id: Any) -> dict:
        cid = int(chat_id)
        if cid in self.chats:
            return self.chats[cid]
        if cid > 0:
            return {"id": cid, "type": "private", "first_name": str(cid)}
        return {"id": cid, "type": "supergroup", "title": f"Chat {cid}"}

    def _rights(self, chat_id: Any) -> dict[str, bool]:
        return {**ALL_RIGHTS, **self.bot_rights.get(int(chat_id), {})}

    def _need(self, chat_id: Any, right: str, description: str) -> None:
        if int(chat_id) < 0 and not self._rights(chat_id).get(right):
            raise TelegramAPIError(400, description)

    def _api_getMe(self, p):
        return self.bot

    def _api_logOut(self, p):
        return True

    def _api_close(self, p):
        return True

    async def _api_getUpdates(self, p):
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        limit = int(p.get("limit") or 100)
        deadline = time.monotonic() + min(timeout, 30.0)
        self._polls += 1
        async with self._changed:
            while True:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or time.monotonic() >= deadline or self._closing:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
            return self._updates[:limit]

    def _api_deleteWebhook(self, p):
        self.webhook = None
        if str(p.get("drop_pending_updates")).lower() == "true":
            self._updates.clear()
        return True

    def _api_setWebhook(self, p):
        self.webhook = {"url": p.get("url"), "secret_token": p.get("secret_token"),
                        "allowed_updates": p.get("allowed_updates")}
        return True

    def _api_getWebhookInfo(self, p):
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    def _reply_markup(self, p) -> dict | None:
        markup = p.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    def _store_bot_message(self, chat_id, **fields) -> dict:
        chat = self._chat(chat_id)
        msg = self._message(chat, self.bot, **fields)
        stored = self.messages[(chat["id"], msg["message_id"])]
        stored.reply_markup = fields.get("reply_markup")
        return msg

    def _may_write(self, chat_id: int) -> None:
        """A private chat is open to the bot once the user started it, or for 5 minutes after the
        user asked to join a group the bot manages."""
        if chat_id > 0 and chat_id in self.dm_blocked:
            asked = self.join_requests.get(chat_id)
            if asked is None or time.monotonic() - asked > REQUESTER_DM_SECONDS:
                raise TelegramAPIError(403, "Forbidden: bot can't initiate conversation with a user")

    def _thread(self, chat_id: int, p) -> dict:
        """The topic fields of a message the bot posts with `message_thread_id` (refused outside a
        forum, and for a topic the forum does not have)."""
        raw = p.get("message_thread_id")
        if raw in (None, ""):
            return {}
        thread_id = int(raw)
        if not self._chat(chat_id).get("is_forum") or thread_id not in self.topics.get(chat_id, {}):
            raise TelegramAPIError(400, THREAD_NOT_FOUND)
        return {"message_thread_id": thread_id, "is_topic_message": True}

    def _api_sendMessage(self, p):
        chat_id = int(p["chat_id"])
        self._may_write(chat_id)
        text = p.get("text", "")
        if not text:
            raise TelegramAPIError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise TelegramAPIError(400, "Bad Request: message is too long")
        thread = self._thread(chat_id, p)
        reply = None
        if isinstance(p.get("reply_parameters"), dict):
            reply = p["reply_parameters"].get("message_id")
        elif p.get("reply_to_message_id"):
            reply = p["reply_to_message_id"]
        return self._store_bot_message(chat_id, text=text, reply_markup=self._reply_markup(p),
                                       entities=p.get("entities") or None,
                                       reply_to_message=self._reply_part(self._chat(chat_id), reply), **thread)

    def _api_sendPhoto(self, p):
        chat_id = int(p["chat_id"])
        self._may_write(chat_id)
        if len(p.get("caption") or "") > MAX_CAPTION:
            raise TelegramAPIError(400, "Bad Request: message caption is too long")
        thread = self._thread(chat_id, p)
        photo = p.get("photo")
        data = photo if isinstance(photo, bytes) else b""
        file_id = f"sent-photo-{next(self._file_ids)}"
        self.add_file(file_id, data)
        sizes = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 800, "height": 800, "file_size": len(data)}]
        return self._store_bot_message(chat_id, photo=sizes, caption=p.get("caption") or None,
                                       caption_entities=p.get("caption_entities") or None,
                                       reply_markup=self._reply_markup(p), **thread)

    def _api_editMessageText(self, p):
        key = (int(p["chat_id"]), int(p["message_id"]))
        message = self.messages.get(key)
        if message is None or message.deleted:
            raise TelegramAPIError(400, "Bad Request: message to edit not found")
        if message.from_id != BOT_ID:
            raise TelegramAPIError(400, "Bad Request: message can't be edited")
        markup = self._reply_markup(p)
        if message.text == p.get("text") and message.reply_markup == markup:
            raise TelegramAPIError(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
        if len(p.get("text", "")) > MAX_TEXT:
            raise TelegramAPIError(400, "Bad Request: message is too long")
        message.text, message.reply_markup = p.get("text", ""), markup
        raw = dict(message.raw, text=message.text)
        raw.pop("entities", None)
        if p.get("entities"):
            raw["entities"] = p["entities"]
        if markup:
            raw["reply_markup"] = markup
        message.raw = raw
        return raw

    def _api_deleteMessage(self, p):
        key = (int(p["chat_id"]), int(p["message_id"]))
        message = self.messages.get(key)
        if message is None or message.deleted:
            raise TelegramAPIError(400, "Bad Request: message to delete not found")
        if message.from_id != BOT_ID:
            self._need(key[0], "can_delete_messages", "Bad Request: message can't be deleted")
        message.deleted = True
        return True

    def _api_deleteMessages(self, p):
        chat_id = int(p["chat_id"])
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise TelegramAPIError(400, "Bad Request: message identifiers are not specified")
        if len(ids) > 100:
            raise TelegramAPIError(400, "Bad Request: too many message identifiers specified")
        if any(not isinstance(i, int) or i <= 0 for i in ids):
            raise TelegramAPIError(400, "Bad Request: invalid message identifier specified")
        found = [m for m in (self.messages.get((chat_id, i)) for i in ids) if m is not None and not m.deleted]
        if any(m.from_id != BOT_ID for m in found):
            self._need(chat_id, "can_delete_messages", "Bad Request: message can't be deleted")
        for message in found:  # ids that are gone are skipped, as Telegram does
            message.deleted = True
        return True

    def _supergroup_only(self, chat_id, description: str = SUPERGROUPS_ONLY, *, channels: bool = False) -> None:
        kind = self._chat(chat_id).get("type")
        if kind == "group" or kind == "private" or (kind == "channel" and not channels):
            raise TelegramAPIError(400, description)

    @staticmethod
    def _user_id(p) -> int:
        """A user id as Telegram checks it: a chat's (negative) id is not a user."""
        try:
            user_id = int(p.get("user_id"))
        except (TypeError, ValueError):
            raise TelegramAPIError(400, INVALID_USER_ID) from None
        if user_id <= 0:
            raise TelegramAPIError(400, INVALID_USER_ID)
        return user_id

    def _set_status(self, chat_id, user_id, status: str, **extra) -> None:
        self.members[(int(chat_id), int(user_id))] = {"status": status, **extra}

    def _api_restrictChatMember(self, p):
        self._supergroup_only(p["chat_id"])
        self._user_id(p)
        self._need(p["chat_id"], "can_restrict_members", "Bad Request: not enough rights to restrict/unrestrict chat member")
        perms = p.get("permissions") or {}
        lifted = bool(perms) and all(v for k, v in perms.items() if k.startswith("can_"))
        if lifted:
            self._set_status(p["chat_id"], p["user_id"], "member")
        else:
            self._set_status(p["chat_id"], p["user_id"], "restricted", until_date=int(p.get("until_date") or 0),
                             permissions=perms)
        return True

    def _api_banChatMember(self, p):
        self._user_id(p)
        self._need(p["chat_id"], "can_restrict_members", "Bad Request: not enough rights to restrict/unrestrict chat member")
        if int(p["user_id"]) == BOT_ID:
            raise TelegramAPIError(400, "Bad Request: can't remove chat owner")
        self._set_status(p["chat_id"], p["user_id"], "kicked", until_date=int(p.get("until_date") or 0))
        return True

    def _api_unbanChatMember(self, p):
        # A basic group keeps nobody out, so there is nothing to lift there.
        self._supergroup_only(p["chat_id"], SUPERGROUPS_AND_CHANNELS_ONLY, channels=True)
        self._user_id(p)
        self._need(p["chat_id"], "can_restrict_members", "Bad Request: not enough rights to restrict/unrestrict chat member")
        current = self.member_status(p["chat_id"], p["user_id"])
        if str(p.get("only_if_banned")).lower() == "true" and current != "kicked":
            return True
        self._set_status(p["chat_id"], p["user_id"], "left")
        return True

    def _api_promoteChatMember(self, p):
        self._supergroup_only(p["chat_id"], SUPERGROUPS_AND_CHANNELS_ONLY, channels=True)
        self._user_id(p)
        self._need(p["chat_id"], "can_promote_members", "Bad Request: not enough rights")
        rights = {k: str(v).lower() == "true" for k, v in p.items() if k.startswith("can_")}
        self._set_status(p["chat_id"], p["user_id"], "administrator" if any(rights.values()) else "member", rights=rights)
        return True

    def _sender_chat_id(self, p) -> int:
        try:
            sender_chat_id = int(p.get("sender_chat_id"))
        except (TypeError, ValueError):
            raise TelegramAPIError(400, "Bad Request: invalid sender_chat_id specified") from None
        if sender_chat_id >= 0:
            raise TelegramAPIError(400, "Bad Request: invalid sender_chat_id specified")
        return sender_chat_id

    def _api_banChatSenderChat(self, p):
        self._supergroup_only(p["chat_id"], channels=True)
        sender_chat_id = self._sender_chat_id(p)
        self._need(p["chat_id"], "can_restrict_members", "Bad Request: not enough rights to restrict/unrestrict chat member")
        self.banned_sender_chats.add((int(p["chat_id"]), sender_chat_id))
        return True

    def _api_unbanChatSenderChat(self, p):
        self._supergroup_only(p["chat_id"], channels=True)
        sender_chat_id = self._sender_chat_id(p)
        self._need(p["chat_id"], "can_restrict_members", "Bad Request: not enough rights to restrict/unrestrict chat member")
        self.banned_sender_chats.discard((int(p["chat_id"]), sender_chat_id))
        return True

    def _api_getChatMember(self, p):
        chat_id, user_id = int(p["chat_id"]), int(p["user_id"])
        if user_id == BOT_ID:
            member = self._member(self.bot, "administrator")
            member.update(self._rights(chat_id))
            return member
        for admin in self.admins.get(chat_id, []):
            if admin["id"] == user_id:
                return self._member(admin, "administrator")
        user = next((u for u in self._users.values() if u["id"] == user_id),
                    {"id": user_id, "is_bot": False, "first_name": str(user_id)})
        state = self.members.get((chat_id, user_id), {"status": "member"})
        member = self._member(user, state["status"])
        if state.get("until_date") is not None and state["status"] in ("restricted", "kicked"):
            member["until_date"] = state["until_date"]
        return member

    def _api_getChatAdministrators(self, p):
        chat_id = int(p["chat_id"])
        if chat_id > 0:
            raise TelegramAPIError(400, "Bad Request: there are no administrators in the private chat")
        bot_member = self._member(self.bot, "administrator")
        bot_member.update(self._rights(chat_id))
        return [self._member(u, "administrator") for u in self.admins.get(chat_id, [])] + [bot_member]

    def _api_getChat(self, p):
        chat = dict(self._chat(p["chat_id"]))
        chat.setdefault("accent_color_id", 0)
        chat.setdefault("max_reaction_count", 11)
        return chat

    def _api_answerCallbackQuery(self, p):
        return True

    def _api_approveChatJoinRequest(self, p):
        self._need(p["chat_id"], "can_invite_users", "Bad Request: CHAT_ADMIN_REQUIRED")
        self._set_status(p["chat_id"], p["user_id"], "member")
        return True

    def _api_declineChatJoinRequest(self, p):
        self._need(p["chat_id"], "can_invite_users", "Bad Request: CHAT_ADMIN_REQUIRED")
        return True

    def _api_setMyCommands(self, p):
        scope = (p.get("scope") or {}).get("type", "default")
        self.commands[(scope, p.get("language_code") or "")] = p.get("commands") or []
        return True

    def _api_getMyCommands(self, p):
        scope = (p.get("scope") or {}).get("type", "default")
        return self.commands.get((scope, p.get("language_code") or ""), [])

    def _api_deleteMyCommands(self, p):
        scope = (p.get("scope") or {}).get("type", "default")
        self.commands.pop((scope, p.get("language_code") or ""), None)
        return True

    def _api_getFile(self, p):
        file_id = p["file_id"]
        if file_id not in self.files:
            raise TelegramAPIError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}"}

    def _api_leaveChat(self, p):
        return True


# --- a hand-driven fake: `python -m tests.support.fake_telegram [--port 8081]` ---------------------------
_HELP = """type one of:
  NAME: TEXT                a member posts TEXT (a command if it starts with /) in the test group
  :join NAME | :leave NAME  a member joins / leaves
  :press NAME ID DATA       NAME presses the button with callback data DATA on bot message ID
  :admin NAME               NAME becomes an admin of the group
  :norights RIGHT           take an admin right from the bot (can_delete_messages, can_restrict_members …)
  :quit"""


async def _interactive(port: int, token: str) -> None:
    import sys

    fake = FakeTelegram(token=token)
    fake.port = port
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/bot{token}/{method}", fake._handle)
    app.router.add_get("/file/bot{token}/{path:.*}", fake._download)
    fake._runner = web.AppRunner(app, access_log=None)
    await fake._runner.setup()
    await web.TCPSite(fake._runner, fake.host, port).start()
    chat = fake.group(DEFAULT_CHAT_ID, "Test group")
    print(f"fake Bot API on {fake.url}; put this in your config and run `qunzhu run -c FILE`:\n")
    print(f'[telegram]\nenabled = true\ntoken = "{token}"\nbase_url = "{fake.base_url}"\n'
          f'base_file_url = "{fake.base_file_url}"\n')
    print(_HELP, flush=True)
    loop = asyncio.get_running_loop()
    shown = 0

    async def show_calls() -> None:
        nonlocal shown
        while True:
            await asyncio.sleep(0.2)
            for call in fake.calls[shown:]:
                if call.method != "getUpdates":
                    params = {k: (f"<{len(v)} bytes>" if isinstance(v, bytes) else v) for k, v in call.params.items()}
                    print(f"  ← bot: {call.method} {params}" + ("" if call.status == 200 else f" → {call.status}"), flush=True)
            shown = len(fake.calls)

    printer = asyncio.create_task(show_calls())
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline))
            if not line or line.strip() == ":quit":
                break
            line = line.strip()
            try:
                if line.startswith(":join "):
                    await fake.push(fake.chat_member_update(chat, fake.user(line[6:].strip())))
                elif line.startswith(":leave "):
                    await fake.push(fake.chat_member_update(chat, fake.user(line[7:].strip()), old="member", new="left"))
                elif line.startswith(":press "):
                    _, name, message_id, data = line.split(maxsplit=3)
                    await fake.push(fake.callback_update(chat, fake.user(name), int(message_id), data))
                elif line.startswith(":admin "):
                    fake.admins.setdefault(chat["id"], []).append(fake.user(line[7:].strip()))
                elif line.startswith(":norights "):
                    fake.bot_rights.setdefault(chat["id"], {})[line[10:].strip()] = False
                elif ":" in line:
                    name, text = (part.strip() for part in line.split(":", 1))
                    user = fake.user(name)
                    update = fake.command_update(chat, user, text) if text.startswith("/") else fake.text_update(chat, user, text)
                    await fake.push(update)
                    print(f"  → #{update['message']['message_id']} {name}: {text}", flush=True)
                elif line:
                    print(_HELP, flush=True)
            except (AssertionError, ValueError) as exc:
                print(f"  ! {exc}", flush=True)
    finally:
        printer.cancel()
        await fake.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="A fake Telegram Bot API server to try `qunzhu run` against.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:LOCAL-TEST")
    args = parser.parse_args()
    try:
        asyncio.run(_interactive(args.port, args.token))
    except KeyboardInterrupt:
        pass
