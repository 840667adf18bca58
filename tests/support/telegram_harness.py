"""Run the real App on the real Telegram platform (python-telegram-bot) against the fake Bot API server.

    from tests.support.telegram_harness import running_telegram_app

    async def test_something(db_url, tmp_path):
        async with running_telegram_app(db_url, str(tmp_path), {"defaults": {"language": "en"}}) as h:
            alice = h.user("alice")                    # a Telegram user dict (same name → same id)
            sent = await h.send_text(alice, "hello")   # pushed as an update; returns once handled
            sent.message_id, sent.results              # the message's id and the DispatchResults
            await h.command(alice, "/checkin")         # with the bot_command entity; "/x@qunzhu_test_bot" works
            h.fake.last("sendMessage").params          # what the bot called: {"chat_id": "-100…", "text": …}
            h.bot_texts()                              # texts the bot posted in the group (not deleted)

`running_telegram_app(db_url, data_dir, config=None, *, clock=None, mode="polling", routers=None)`
starts a FakeTelegram (tests/support/fake_telegram.py) on a random loopback port, builds the App from
`config` (deep-merged over a `[telegram]` section pointing at the fake; the console platform is off), and
starts it (getMe, setMyCommands, then getUpdates long polling — or, with mode="webhook", setWebhook and
the adapter's aiohttp webhook server on a free port; updates are then POSTed to it with the secret header). `clock`
defaults to FakeClock(tests.support.harness.START); `routers` defaults to every feature router. The
scheduler does not run: call `await h.tick()`.

Pacing in tests: per_group_per_minute defaults to 600 and per_bot_per_second to 1000 here (production:
20 and 30) so a busy test doesn't stall for a minute; pass your own `{"telegram": {...}}` to test pacing.
retry_backoff is 0.05 s.

Harness `h` — every method below returns once the bot has finished handling the update(s) (it waits on
the adapter's dispatch results, no sleeps). send_text / command / send_photo / send_document /
send_contact / forward / dm return `Delivered(update, message_id, results)` (`.handled_by`, `.errors`);
join / leave / request_join / press / migrate / deliver return the list of DispatchResults:
    h.app, h.fake, h.platform (the TelegramPlatform), h.chat (the default group dict,
        id tests.support.fake_telegram.DEFAULT_CHAT_ID), h.chat_ref (its bot.events.ChatRef)
    h.user(name, **kw) / h.group(chat_id, title)            → dicts for updates
    await h.send_text(user, text, chat=None, reply_to=None)
    await h.command(user, "/cmd args", chat=None, reply_to=None)
    await h.send_photo(user, data=b"…", caption=None, chat=None)
    await h.send_document(user, data, file_name="a.pdf", mime_type=…, caption=None, chat=None)
    await h.send_contact(user, phone_number="+86…", first_name="…", chat=None)
    await h.forward(user, text, origin=None, chat=None)      # default origin: a channel "Deals Channel"
    await h.join(user, source="chat_member"|"service"|"both", by=None, via_join_request=False, chat=None)
    await h.leave(user, source="chat_member"|"service"|"both", by=None, chat=None)
    await h.request_join(user, bio=None, chat=None)
    await h.press(user, message_id, data, chat=None)           # a button on a bot message
    await h.migrate(new_chat_id, chat=None)                    # group → supergroup (both service messages)
    await h.dm(user, "/start")                                 # a private message to the bot
    await h.deliver(update)                                    # any update built with h.fake.*_update
    await h.post_webhook(update, secret=None) -> HTTP status   # webhook mode only, without waiting
    h.set_admins(*users, chat=None)                            # getChatAdministrators answer (+ cache reset)
    h.bot_texts(chat=None), h.calls(method)                    # what the bot did
    await h.tick()                                             # app.tick()
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.app import App
from bot.clock import FakeClock
from bot.config import deep_merge
from bot.events import ChatRef
from tests.support.fake_telegram import DEFAULT_CHAT_ID, Call, FakeTelegram
from tests.support.harness import START, make_config

WEBHOOK_SECRET = "test-webhook-secret"


@dataclass
class Delivered:
    update: dict
    message_id: int | None
    results: list = field(default_factory=list)

    @property
    def handled_by(self) -> list[str]:
        return [name for r in self.results for name in r.handled_by]

    @property
    def errors(self) -> list:
        return [e for r in self.results for e in r.errors]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TelegramHarness:
    def __init__(self, app: App, fake: FakeTelegram, mode: str, timeout: float = 15.0):
        self.app = app
        self.fake = fake
        self.mode = mode
        self.timeout = timeout
        self.platform = app.platforms["telegram"]
        self.chat = fake.group(DEFAULT_CHAT_ID, "Test group")
        self._http: aiohttp.ClientSession | None = None

    @property
    def chat_ref(self) -> ChatRef:
        return ChatRef("telegram", str(self.chat["id"]), self.chat.get("title"))

    def user(self, name: str | dict, **kw: Any) -> dict:
        return name if isinstance(name, dict) else self.fake.user(name, **kw)

    def group(self, chat_id: int, title: str = "Other group", type: str = "supergroup") -> dict:
        return self.fake.group(chat_id, title, type)

    def set_admins(self, *users: str | dict, chat: dict | None = None) -> None:
        chat = chat or self.chat
        self.fake.set_admins(chat["id"], [self.user(u) for u in users])
        self.platform.forget_admins(str(chat["id"]))

    def bot_texts(self, chat: dict | None = None) -> list[str]:
        return self.fake.texts((chat or self.chat)["id"])

    def calls(self, method: str) -> list[Call]:
        return self.fake.sent(method)

    async def tick(self) -> None:
        await self.app.tick()

    # --- delivering updates ------------------------------------------------------------------
    @property
    def webhook_url(self) -> str:
        return self.app.config.telegram.webhook_url

    async def post_webhook(self, update: dict, secret: str | None = None) -> int:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET if secret is None else secret}
        async with self._http.post(self.webhook_url, json=update, headers=headers) as resp:
            await resp.read()
            return resp.status

    async def deliver(self, update: dict) -> list:
        """Hand one update to the bot (getUpdates queue or webhook POST) and wait until it is handled."""
        waiter = self.platform.expect(update["update_id"])
        if self.mode == "webhook":
            status = await self.post_webhook(update)
            if status != 200:
                raise AssertionError(f"the webhook answered {status}")
        else:
            await self.fake.push(update)
        try:
            return await asyncio.wait_for(waiter, self.timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"update {update['update_id']} was not handled within {self.timeout}s; "
                f"bot calls so far: {[c.method for c in self.fake.calls]}"
            ) from None

    async def _send(self, update: dict) -> Delivered:
        message = update.get("message") or update.get("edited_message") or {}
        results = await self.deliver(update)
        return Delivered(update, message.get("message_id"), results)

    async def send_text(self, user, text: str, *, chat: dict | None = None, reply_to: int | None = None) -> Delivered:
        return await self._send(self.fake.text_update(chat or self.chat, self.user(user), text, reply_to=reply_to))

    async def edit_text(self, user, message_id: int, text: str, *, chat: dict | None = None) -> Delivered:
        return await self._send(self.fake.edited_text_update(chat or self.chat, self.user(user), message_id, text))

    async def command(self, user, text: str, *, chat: dict | None = None, reply_to: int | None = None) -> Delivered:
        return await self._send(self.fake.command_update(chat or self.chat, self.user(user), text, reply_to=reply_to))

    async def send_photo(self, user, data: bytes = b"\x89PNG fake", *, caption: str | None = None, chat: dict | None = None) -> Delivered:
        return await self._send(self.fake.photo_update(chat or self.chat, self.user(user), data, caption=caption))

    async def send_document(self, user, data: bytes = b"%PDF-1.4 fake", *, file_name: str = "file.pdf",
                            mime_type: str = "application/pdf", caption: str | None = None,
                            chat: dict | None = None) -> Delivered:
        return await self._send(self.fake.document_update(chat or self.chat, self.user(user), data,
                                                          file_name=file_name, mime_type=mime_type, caption=caption))

    async def send_contact(self, user, *, chat: dict | None = None, **contact: Any) -> Delivered:
        return await self._send(self.fake.contact_update(chat or self.chat, self.user(user), **contact))

    async def forward(self, user, text: str, *, origin: dict | None = None, chat: dict | None = None) -> Delivered:
        return await self._send(self.fake.forward_update(chat or self.chat, self.user(user), text, origin=origin))

    async def join(self, user, *, source: str = "chat_member", by=None, via_join_request: bool = False,
                   chat: dict | None = None) -> list:
        chat, user = chat or self.chat, self.user(user)
        by = self.user(by) if by else None
        results = []
        if source in ("service", "both"):
            results += await self.deliver(self.fake.new_members_update(chat, [user], by=by))
        if source in ("chat_member", "both"):
            results += await self.deliver(self.fake.chat_member_update(
                chat, user, old="left", new="member", by=by, via_join_request=via_join_request))
        return results

    async def leave(self, user, *, source: str = "chat_member", by=None, chat: dict | None = None) -> list:
        chat, user = chat or self.chat, self.user(user)
        by = self.user(by) if by else None
        results = []
        if source in ("service", "both"):
            results += await self.deliver(self.fake.left_member_update(chat, user, by=by))
        if source in ("chat_member", "both"):
            results += await self.deliver(self.fake.chat_member_update(
                chat, user, old="member", new="kicked" if by else "left", by=by))
        return results

    async def request_join(self, user, *, bio: str | None = None, chat: dict | None = None) -> list:
        return await self.deliver(self.fake.join_request_update(chat or self.chat, self.user(user), bio=bio))

    async def press(self, user, message_id: int | str, data: str, *, chat: dict | None = None) -> list:
        return await self.deliver(self.fake.callback_update(chat or self.chat, self.user(user), int(message_id), data))

    async def migrate(self, new_chat_id: int, *, chat: dict | None = None) -> list:
        chat = chat or self.chat
        results = []
        for update in self.fake.migration_updates(chat, new_chat_id):
            results += await self.deliver(update)
        if chat is self.chat:
            self.chat = self.fake.chats[int(new_chat_id)]
        return results

    async def dm(self, user, text: str) -> Delivered:
        return await self._send(self.fake.private_text_update(self.user(user), text))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


def telegram_config(fake: FakeTelegram, mode: str = "polling") -> dict[str, Any]:
    section: dict[str, Any] = {
        "enabled": True,
        "token": fake.token,
        "mode": mode,
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "poll_timeout": 10,
        "request_timeout": 20.0,
        "retry_backoff": 0.05,
        "per_group_per_minute": 600,
        "per_bot_per_second": 1000,
    }
    if mode == "webhook":
        port = free_port()
        section.update(
            webhook_listen="127.0.0.1",
            webhook_port=port,
            webhook_path="/telegram",
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            webhook_secret=WEBHOOK_SECRET,
        )
    return section


@asynccontextmanager
async def running_telegram_app(
    db_url: str,
    data_dir: str,
    config: dict[str, Any] | None = None,
    *,
    clock: FakeClock | None = None,
    mode: str = "polling",
    routers=None,
):
    fake = FakeTelegram()
    await fake.start()
    try:
        base = {"console": {"enabled": False}, "telegram": telegram_config(fake, mode)}
        cfg = make_config(db_url, data_dir, deep_merge(base, config or {}))
        app = App(cfg, clock=clock or FakeClock(START), run_scheduler=False, routers=routers)
        app.build_platforms()
        try:
            await app.start()
        except BaseException:
            await app.engine.dispose()
            raise
        harness = TelegramHarness(app, fake, mode)
        try:
            yield harness
        finally:
            await harness.close()
            await app.stop()
    finally:
        await fake.stop()
