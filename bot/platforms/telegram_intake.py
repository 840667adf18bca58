"""Telegram updates in, through the durable intake (bot/intake.py): our own getUpdates loop or a small
aiohttp webhook server, instead of python-telegram-bot's Updater.

Polling: `getUpdates` is called with `Bot.do_api_request`, so the answer stays a list of raw JSON dicts and
one update python-telegram-bot cannot read does not fail the batch. Each update is stored
(`intake.receive`) in order; the offset moves past an update only once it is stored, so the next
getUpdates acknowledges exactly what the database holds. When the database cannot store (IntakeUnavailable),
a network error, a 409 Conflict (another getUpdates or a webhook), or any other failure: back off
(0.5 s doubling to 30 s) and fetch again — never more than a few getUpdates a second.

Webhook: POST `webhook_path` with `X-Telegram-Bot-Api-Secret-Token` (403 when wrong). A body that is not a
JSON object with an integer update_id is logged, counted and answered 200 (Telegram would redeliver a 4xx
forever). The update is stored, then answered 200 (503 when it cannot be stored, so Telegram retries);
a redelivery (already in the inbox) is answered 200 and ignored. `setWebhook` at start; on stop the
webhook stays set (Telegram keeps queueing for us).

Handling: each stored update is parsed (`Update.de_json`) and translated, then `intake.handle`d in a
task; at most `concurrent_updates` at once, and the updates of one chat strictly in the order received.
An update python-telegram-bot cannot parse is logged once (WARNING: its id and the field at fault),
counted (`platform.unparseable_updates`, `platform.unparseable_by_kind`), and what a raw message gives
(chat, sender, text or caption, message id) is still judged as a MessageReceived / MessageEdited.
At start, what a killed process stored but did not finish (`intake.pending`) is handled before the
first fetch. On stop: no more fetching, in-flight handling gets `STOP_WAIT` seconds, then returns (what
is cut off stays pending in the inbox and is handled at the next start).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import warnings
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.warnings import PTBUserWarning

from bot import metrics
from bot.events import ChatRef, Event, MessageEdited, MessageReceived, UserRef
from bot.intake import InboxItem, IntakeUnavailable

if TYPE_CHECKING:
    from bot.platforms.telegram import TelegramPlatform

log = logging.getLogger("bot.platforms.telegram")
# We call getUpdates through do_api_request on purpose: raw dicts, so one bad update cannot fail the batch.
warnings.filterwarnings("ignore", message=r".*Bot\.getUpdates.*", category=PTBUserWarning)

PLATFORM = "telegram"
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
MIN_POLL_SPACING = 0.25  # seconds between two getUpdates that brought nothing back
STOP_WAIT = 15.0
WARN_AFTER = 3  # failed getUpdates in a row before the outage is logged (once) at WARNING
# The kinds of update that carry a message-like object (for the chat key and the salvage).
MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post", "business_message",
                 "edited_business_message")
CHAT_KINDS = ("chat_member", "my_chat_member", "chat_join_request", "message_reaction", "message_reaction_count",
              "chat_boost", "removed_chat_boost")


def update_kind(raw: dict[str, Any]) -> str:
    return next((k for k in raw if k != "update_id"), "empty")


def chat_key(raw: dict[str, Any]) -> str:
    """Which chat an update belongs to (for keeping one chat's updates in order), read defensively."""
    for kind in MESSAGE_KINDS + CHAT_KINDS:
        body = raw.get(kind)
        if isinstance(body, dict) and isinstance(body.get("chat"), dict) and "id" in body["chat"]:
            return str(body["chat"]["id"])
    query = raw.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return str(message["chat"].get("id"))
        sender = query.get("from")
        if isinstance(sender, dict):
            return f"user:{sender.get('id')}"
    for body in raw.values():
        if isinstance(body, dict) and isinstance(body.get("from"), dict):
            return f"user:{body['from'].get('id')}"
    return "-"


_FIELD_PATTERNS = (
    re.compile(r"(\w+)\.__init__\(\) missing \d+ required (?:positional|keyword-only) arguments?: (.+)"),
    re.compile(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'"),
)


def fault(exc: BaseException, token: str | None = None) -> str:
    """The class and field at fault, from the exception's text ("Poll: missing 'is_anonymous'")."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for pattern in _FIELD_PATTERNS:
        m = pattern.search(text)
        if m:
            text = f"{m.group(1)}: {'missing' if 'missing' in pattern.pattern else 'unexpected'} {m.group(2)}"
            break
    else:
        if isinstance(exc, KeyError):
            text = f"missing key {text}"
        text = f"{type(exc).__name__}: {text}"
    if token:
        text = text.replace(token, "<token>")
    return text[:300]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def salvage(raw: dict[str, Any], now, bot_id: str | None = None) -> list[Event]:
    """What a message the library could not read still tells: chat, sender, text or caption, message
    id → one MessageReceived (MessageEdited for an edit), so the rules judge it. Reads the raw dict
    defensively; anything missing or odd gives no event."""
    for kind, edited in (("message", False), ("edited_message", True)):
        message = raw.get(kind)
        if isinstance(message, dict):
            break
    else:
        return []
    chat, message_id = message.get("chat"), _int(message.get("message_id"))
    if not isinstance(chat, dict) or _int(chat.get("id")) is None or message_id is None:
        return []
    chat_id = str(_int(chat.get("id")))
    title = chat.get("title") if isinstance(chat.get("title"), str) else None
    if title is None:
        names = [chat.get(k) for k in ("first_name", "last_name") if isinstance(chat.get(k), str)]
        title = " ".join(names) or None
    chat_ref = ChatRef(PLATFORM, chat_id, title, private=chat.get("type") == "private")
    sender_chat, sender = message.get("sender_chat"), message.get("from")
    if isinstance(sender_chat, dict) and _int(sender_chat.get("id")) is not None:
        user = UserRef(PLATFORM, str(_int(sender_chat["id"])), name=_str(sender_chat.get("title")),
                       username=_str(sender_chat.get("username")), is_bot=False)
    elif isinstance(sender, dict) and _int(sender.get("id")) is not None:
        names = [sender.get(k) for k in ("first_name", "last_name") if isinstance(sender.get(k), str) and sender.get(k)]
        user = UserRef(PLATFORM, str(_int(sender["id"])), name=" ".join(names) or None,
                       username=_str(sender.get("username")), is_bot=sender.get("is_bot") is True)
    else:
        return []
    if bot_id and user.id == bot_id:
        return []
    if message.get("is_automatic_forward") is True:
        return []
    text = _str(message.get("text")) or _str(message.get("caption")) or ""
    if edited:
        edit_date = _int(message.get("edit_date")) or 0
        return [MessageEdited(chat_ref, user, now, message_id=str(message_id), text=text,
                              dedupe_key=f"{PLATFORM}:{chat_id}:{message_id}:edit:{edit_date}")]
    return [MessageReceived(chat_ref, user, now, message_id=str(message_id), text=text,
                            dedupe_key=f"{PLATFORM}:{chat_id}:{message_id}")]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class TelegramIntake:
    """The update side of TelegramPlatform: fetch or receive, store, handle."""

    def __init__(self, platform: "TelegramPlatform"):
        self.platform = platform
        self.cfg = platform.cfg
        self.sink = platform.sink
        self.stopping = False
        self.offset: int | None = None
        self.fetch_failures = 0
        self.failing_since = 0  # consecutive failed getUpdates (0: the last one worked)
        self.malformed_bodies = 0  # webhook bodies / getUpdates items without a usable update_id
        self._poller: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None
        self._slots = asyncio.Semaphore(self.cfg.concurrent_updates)
        self._tails: dict[str, asyncio.Task] = {}  # chat → the last task handling one of its updates
        self._tasks: set[asyncio.Task] = set()
        # Updates fetched and not yet handled, at most: past it polling waits for `_room`, set by a
        # task that finishes below it (waiting on all the tasks instead cost a callback on each of
        # them per finished update: ~70 per update with the backlog full).
        self._backlog = max(100, 8 * self.cfg.concurrent_updates)
        self._room = asyncio.Event()

    @property
    def not_running(self) -> str | None:
        """Why updates are not coming in now (for /readyz), or None."""
        if self.stopping:
            return "stopping"
        if self.cfg.mode == "webhook":
            return None if self._runner is not None else "the webhook server is not listening"
        if self._poller is None or self._poller.done():
            return "polling is not running"
        if self.failing_since:
            return f"getUpdates is failing ({self.failing_since} failures)"
        return None

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.stopping = False
        pending = await self.sink.intake.pending(PLATFORM)
        if pending:
            log.info("telegram: handling %d updates a previous run received and did not finish", len(pending))
            for entry in pending:
                self.schedule(entry)
            await self._drain(None)
        if self.cfg.mode == "webhook":
            await self._start_webhook()
        else:
            await self.platform._api("deleteWebhook", lambda _c: self.platform.bot.delete_webhook(drop_pending_updates=False))
            self._poller = asyncio.create_task(self._poll_loop(), name="telegram-getUpdates")

    async def stop(self) -> None:
        self.stopping = True
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except (asyncio.CancelledError, Exception):
                pass
            self._poller = None
        if self._runner is not None:
            await self._runner.cleanup()  # the webhook stays set: Telegram queues until we are back
            self._runner = None
        await self._drain(STOP_WAIT)

    async def _drain(self, timeout: float | None) -> None:
        tasks = set(self._tasks)
        if not tasks:
            return
        done, left = await asyncio.wait(tasks, timeout=timeout)
        if left:
            log.warning("telegram: %d updates still being handled at stop; they stay in the inbox for the next start", len(left))
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=5)

    # --- polling ---------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        delay = BACKOFF_FIRST
        timeout = self.cfg.poll_timeout
        while not self.stopping:
            while len(self._tasks) >= self._backlog:  # handling is behind (the database is slow): wait for it
                self._room.clear()
                await self._room.wait()
            started = time.monotonic()
            kwargs: dict[str, Any] = {"timeout": timeout, "allowed_updates": self.platform.allowed_updates()}
            if self.offset is not None:
                kwargs["offset"] = self.offset
            try:
                batch = await self.platform.bot.do_api_request(
                    "getUpdates", api_kwargs=kwargs, read_timeout=timeout + self.cfg.request_timeout,
                )
                if not isinstance(batch, list):
                    raise TypeError(f"getUpdates answered {type(batch).__name__}, not a list")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.fetch_failures += 1
                self.failing_since += 1
                self._log_fetch_failure(exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            if self.failing_since:
                # One line per change of state: the failure was said once (WARN_AFTER), so is the end.
                level = logging.WARNING if self.failing_since >= WARN_AFTER else logging.DEBUG
                log.log(level, "telegram: getUpdates works again after %d failures", self.failing_since)
                self.failing_since = 0
            stored_all = await self._store_batch(batch)
            if not stored_all:
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_FIRST
            spacing = self.cfg.poll_interval if batch else max(self.cfg.poll_interval, MIN_POLL_SPACING)
            left = spacing - (time.monotonic() - started)
            if left > 0:
                await asyncio.sleep(left)

    def _log_fetch_failure(self, exc: BaseException, delay: float) -> None:
        if isinstance(exc, Conflict):
            why = f"409 Conflict ({exc.message}): another process polls with this token, or a webhook is set"
        elif isinstance(exc, InvalidToken):
            why = f"the token was refused ({exc.message})"
        elif isinstance(exc, TelegramError):
            why = exc.message
        else:
            why = f"{type(exc).__name__}: {exc}"
        # A blip (one or two failures) is DEBUG; an outage is said once, at WARN_AFTER failures in a row,
        # without a traceback, and its end once more (in _poll_loop).
        if self.failing_since == WARN_AFTER:
            log.warning("telegram: getUpdates failing (%s); retrying, %d failures so far",
                        why[:300], self.failing_since)
        else:
            log.debug("telegram: getUpdates failed (%s); trying again in %.1fs (failure %d in a row)",
                      why[:300], delay, self.failing_since)

    async def _store_batch(self, batch: list[Any]) -> bool:
        """Store the batch in one transaction and move the offset past it; False when the database
        could not store it (the offset stays there: Telegram sends it and what follows again)."""
        updates: list[tuple[str, dict]] = []
        for raw in batch:
            update_id = _int(raw.get("update_id")) if isinstance(raw, dict) else None
            if update_id is None or not isinstance(raw.get("update_id"), int):
                self.malformed_bodies += 1
                log.warning("telegram: getUpdates brought an item without an integer update_id; skipped")
                continue
            updates.append((str(update_id), raw))
        try:
            entries = await self.sink.intake.receive_many(PLATFORM, updates) if updates else []
        except IntakeUnavailable:
            return False
        for (key, _), entry in zip(updates, entries):
            self.offset = int(key) + 1
            if entry is None:
                self.platform._resolve(int(key), [])
            else:
                self.schedule(entry)
        return True

    # --- webhook ---------------------------------------------------------------------------------
    async def _start_webhook(self) -> None:
        path = "/" + self.cfg.webhook_path.lstrip("/")
        web_app = web.Application(client_max_size=4 * 1024 * 1024)
        web_app.router.add_post(path, self._on_webhook)
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.webhook_listen, self.cfg.webhook_port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise RuntimeError(f"[telegram] webhook_port: cannot listen on {self.cfg.webhook_listen}:"
                               f"{self.cfg.webhook_port} ({exc})") from None
        await self.platform._api("setWebhook", lambda _c: self.platform.bot.set_webhook(
            self.cfg.webhook_url, secret_token=self.cfg.webhook_secret,
            allowed_updates=self.platform.allowed_updates(),
        ))

    async def _on_webhook(self, request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.cfg.webhook_secret or not hmac.compare_digest(secret.encode(), self.cfg.webhook_secret.encode()):
            log.warning("telegram: a webhook call with a wrong secret token from %s was refused", request.remote)
            return web.Response(status=403, text="Forbidden")
        if self.stopping:
            return web.Response(status=503, text="stopping")
        body = await request.read()
        try:
            raw = json.loads(body)
        except ValueError:
            raw = None
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            self.malformed_bodies += 1
            log.warning("telegram: a webhook body that is not an update (%d bytes, not a JSON object with an "
                        "integer update_id) was ignored", len(body))
            return web.Response(text="ignored")
        try:
            entry = await self.sink.intake.receive(PLATFORM, str(update_id), raw)
        except IntakeUnavailable:
            return web.Response(status=503, text="cannot store the update now")
        if entry is None:
            self.platform._resolve(update_id, [])  # a redelivery: handled (or being handled) already
        else:
            self.schedule(entry)
        return web.Response(text="ok")

    # --- handling --------------------------------------------------------------------------------
    def schedule(self, entry: InboxItem) -> None:
        """Handle `entry` in a task, after the updates of the same chat received before it."""
        key = chat_key(entry.payload)
        before = self._tails.get(key)
        task = asyncio.create_task(self._run(entry, before), name=f"telegram-update-{entry.key}")
        self._tails[key] = task
        self._tasks.add(task)

        def finished(t: asyncio.Task, key=key) -> None:
            self._tasks.discard(t)
            if len(self._tasks) < self._backlog:
                self._room.set()
            if self._tails.get(key) is t:
                del self._tails[key]

        task.add_done_callback(finished)

    async def _run(self, entry: InboxItem, before: asyncio.Task | None) -> None:
        if before is not None:
            await asyncio.wait([before])  # its outcome is its own business; only the order matters here
        async with self._slots:
            await self.platform._handle_entry(entry)

    def events_of(self, entry: InboxItem) -> list[Event]:
        """Parse and translate one stored update; an unreadable one is logged once, counted, and salvaged."""
        platform = self.platform
        raw = entry.payload
        try:
            update = Update.de_json(raw, platform.bot)
        except Exception as exc:
            return self._unparseable(entry, exc)
        if update is None:
            return self._unparseable(entry, ValueError("empty update"))
        return platform.translate(update)

    def _unparseable(self, entry: InboxItem, exc: BaseException) -> list[Event]:
        platform = self.platform
        kind = update_kind(entry.payload)
        platform.unparseable_updates += 1
        platform.unparseable_by_kind[kind] = platform.unparseable_by_kind.get(kind, 0) + 1
        metrics.UPDATES_UNPARSEABLE.labels(platform=PLATFORM, kind=kind).inc()
        events = salvage(entry.payload, self.sink.clock.now(), platform.bot_id)
        log.warning("telegram: update %s (%s) cannot be read by python-telegram-bot (%s); skipped%s",
                    entry.key, kind, fault(exc, self.cfg.token), ", its message is still judged" if events else "")
        return events
