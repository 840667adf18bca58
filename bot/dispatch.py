"""Routers, priorities and stop-propagation; one DB session and one Context per event.

An event runs in one transaction. Each handler runs in its own SAVEPOINT: if it raises, its
writes are rolled back (and the actions it queued dropped), the error is logged, and the remaining
handlers still run. A handler calls `ctx.stop()` to keep lower-priority routers from seeing the
event (e.g. the rules router after removing an ad, so the points router doesn't reward it).

No platform is called while the transaction is open: what the handlers ask of the platform is
queued (bot.actions), written to the outbox in the same transaction, and carried out after the
commit, in order. An event from the intake (`intake=IntakeMark`) marks its inbox row done in that
transaction too, so "handled" and "what it changed" commit together or not at all. A database error
propagates to the caller (the intake retries the event; nothing was sent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.events import (
    ButtonPressed,
    ChatMigrated,
    CommandInvoked,
    Event,
    JoinRequested,
    MemberJoined,
    MemberLeft,
    MessageEdited,
    MessageReceived,
)
from bot import metrics
from bot.actions import Actions
from bot.platform import ActionFailed, Capability, CapabilityMissing
from storage import core_repo, intake_repo

if TYPE_CHECKING:
    from bot.ports import AppServices
    from bot.context import Context

log = logging.getLogger(__name__)

HandlerFn = Callable[["Context"], Awaitable[Any]]
Filter = Callable[["Context"], bool | Awaitable[bool]]


@dataclass
class CommandSpec:
    names: tuple[str, ...]
    description: dict[str, str]  # language → one line, for /help and the platform's command menu
    admin_only: bool = False


@dataclass
class Handler:
    router: "Router"
    event_types: tuple[type[Event], ...]
    fn: HandlerFn
    filter: Filter | None = None
    command: CommandSpec | None = None
    button_prefix: str | None = None

    async def matches(self, ctx: "Context") -> bool:
        event = ctx.event
        if not isinstance(event, self.event_types):
            return False
        if event.chat.private and not self.router.private_chats:
            return False
        if event.chat.is_channel and not self.router.channels:
            return False  # a channel's subscribers are not members: no onboarding, rules or points
        if self.command and not (isinstance(event, CommandInvoked) and event.name in self.command.names):
            return False
        if self.button_prefix is not None and not (
            isinstance(event, ButtonPressed) and event.data.startswith(self.button_prefix)
        ):
            return False
        if self.filter is not None:
            result = self.filter(ctx)
            if asyncio.iscoroutine(result):
                result = await result
            return bool(result)
        return True


class Router:
    """One per feature. Higher priority runs first. `private_chats=False`: the router sees only
    group chats, never a member's one-to-one chat with the bot. `channels=True`: it also sees
    broadcast channels (no router does by default)."""

    def __init__(self, name: str, priority: int = 0, *, private_chats: bool = True, channels: bool = False):
        self.name = name
        self.priority = priority
        self.private_chats = private_chats
        self.channels = channels
        self.handlers: list[Handler] = []
        self.startup: list[Callable[["AppServices"], Awaitable[None]]] = []
        self.shutdown: list[Callable[["AppServices"], Awaitable[None]]] = []
        self.tickers: list[Callable[["AppServices"], Awaitable[None]]] = []
        self.preparers: list[Callable[["AppServices", Event], Awaitable[dict[str, Any]]]] = []

    def on(self, *event_types: type[Event], filter: Filter | None = None):
        def register(fn: HandlerFn) -> HandlerFn:
            self.handlers.append(Handler(self, event_types, fn, filter))
            return fn

        return register

    def message(self, filter: Filter | None = None):
        return self.on(MessageReceived, filter=filter)

    def command(self, *names: str, description: dict[str, str], admin_only: bool = False, filter: Filter | None = None):
        spec = CommandSpec(tuple(n.lower() for n in names), description, admin_only)

        def register(fn: HandlerFn) -> HandlerFn:
            self.handlers.append(Handler(self, (CommandInvoked,), fn, filter, command=spec))
            return fn

        return register

    def member_joined(self, filter: Filter | None = None):
        return self.on(MemberJoined, filter=filter)

    def member_left(self, filter: Filter | None = None):
        return self.on(MemberLeft, filter=filter)

    def join_requested(self, filter: Filter | None = None):
        return self.on(JoinRequested, filter=filter)

    def button(self, prefix: str, filter: Filter | None = None):
        def register(fn: HandlerFn) -> HandlerFn:
            self.handlers.append(Handler(self, (ButtonPressed,), fn, filter, button_prefix=prefix))
            return fn

        return register

    def on_startup(self, fn):
        self.startup.append(fn)
        return fn

    def on_shutdown(self, fn):
        self.shutdown.append(fn)
        return fn

    def prepare(self, fn):
        """`async def fn(app, event) -> dict` runs before the event's transaction opens, for reads from
        the platform (downloads) that must not hold the database's write lock; what it returns is in
        `ctx.data` for the handlers."""
        self.preparers.append(fn)
        return fn

    def on_tick(self, fn):
        """Runs on every scheduler tick (and on `app.tick()` in tests): find and do due work
        (deadlines, column slots) from the database, so nothing depends on in-memory timers."""
        self.tickers.append(fn)
        return fn

    def commands(self) -> list[CommandSpec]:
        return [h.command for h in self.handlers if h.command]


@dataclass(frozen=True)
class IntakeMark:
    """Where an event came from in the inbox: the `index`-th of `count` events of entry `entry_id`."""

    entry_id: int
    index: int = 0
    count: int = 1

    @property
    def last(self) -> bool:
        return self.index == self.count - 1


@dataclass
class DispatchResult:
    handled_by: list[str] = field(default_factory=list)
    stopped_by: str | None = None
    errors: list[tuple[str, BaseException]] = field(default_factory=list)
    duplicate: bool = False


class Dispatcher:
    def __init__(self, app: "AppServices", routers: list[Router]):
        self.app = app
        self.routers = sorted(routers, key=lambda r: -r.priority)
        self._chat_locks: dict[str, asyncio.Lock] = {}

    @property
    def handlers(self) -> list[Handler]:
        return [h for r in self.routers for h in r.handlers]

    def commands(self) -> list[CommandSpec]:
        return [c for r in self.routers for c in r.commands()]

    async def dispatch(self, event: Event, *, intake: IntakeMark | None = None) -> DispatchResult:
        # Events of one chat are handled in order; different chats run concurrently.
        lock = self._chat_locks.setdefault(event.chat.key, asyncio.Lock())
        async with lock:
            prepared = await self._prepare(event)
            ctx, result = await self._handle(event, intake, prepared)
            if ctx is not None:
                await ctx.actions.carry_out()
            return result

    async def _prepare(self, event: Event) -> dict[str, Any]:
        """Read what handlers will ask the platform before the transaction opens (the admin list,
        cached by the adapter; the routers' preparers), so no HTTP request waits inside it."""
        data: dict[str, Any] = {}
        platform = self.app.platforms.get(event.chat.platform)
        if platform is not None and not event.chat.private and platform.can(Capability.ADMIN_LIST):
            try:
                await platform.admin_ids(event.chat)
            except (ActionFailed, CapabilityMissing):
                pass
        for router in self.routers:
            for prepare in router.preparers:
                try:
                    data.update(await prepare(self.app, event))
                except Exception:
                    log.exception("preparing %s for %s failed", type(event).__name__, router.name)
        return data

    async def _handle(self, event: Event, intake: IntakeMark | None, prepared: dict[str, Any]) -> tuple["Context | None", DispatchResult]:
        from bot.context import Context

        result = DispatchResult()
        now = self.app.clock.now()
        actions = Actions(self.app)
        async with self.app.sessions() as session:
            async with session.begin():
                if intake is not None:
                    if intake.last:
                        await intake_repo.mark_done(session, intake.entry_id, now)
                    if intake.count > 1 and not await core_repo.first_time_seen(session, f"inbox:{intake.entry_id}:{intake.index}", now):
                        result.duplicate = True
                        return None, result
                elif isinstance(event, (MessageReceived, MessageEdited)) and event.dedupe_key:
                    if not await core_repo.first_time_seen(session, event.dedupe_key, now):
                        result.duplicate = True
                        return None, result
                if isinstance(event, ChatMigrated) and event.new_chat is not None:
                    chat_row = await core_repo.migrate_chat(session, event.chat, event.new_chat)
                    chat_row = chat_row or await core_repo.ensure_chat(session, event.new_chat, now)
                else:
                    chat_row = await core_repo.ensure_chat(session, event.chat, now)
                member_row = await self._track_member(session, chat_row.id, event, now)
                stored = await core_repo.stored_overrides(session, chat_row.id)
                settings = self.app.config.group_settings(chat_row.key, stored)
                if member_row is not None and not event.chat.private and not isinstance(event, MemberLeft):
                    await self._refresh_role(session, event, member_row, settings)
                ctx = Context(self.app, event, session, chat_row, member_row, settings, actions)
                ctx.data.update(prepared)
                for handler in self.handlers:
                    if ctx.stopped:
                        break
                    mark = actions.mark()
                    try:
                        if not await handler.matches(ctx):
                            continue
                        if handler.command and handler.command.admin_only and not await ctx.is_admin():
                            await ctx.reply(ctx.t("core.admin_only", command=handler.command.names[0]))
                            ctx.stop()
                            continue
                        started = time.perf_counter()
                        try:
                            async with session.begin_nested():
                                await handler.fn(ctx)
                        finally:
                            metrics.HANDLER_SECONDS.labels(router=handler.router.name).observe(time.perf_counter() - started)
                        result.handled_by.append(f"{handler.router.name}.{handler.fn.__name__}")
                        if ctx.stopped:
                            result.stopped_by = handler.router.name
                    except Exception as exc:  # one handler's failure must not stop the bot
                        actions.drop_since(mark)
                        log.exception("handler %s.%s failed on %s", handler.router.name, handler.fn.__name__, type(event).__name__)
                        result.errors.append((f"{handler.router.name}.{handler.fn.__name__}", exc))
                await actions.persist(session)
        return ctx, result

    async def _refresh_role(self, session, event: Event, member, settings) -> None:
        """Keep members.role (owner | admin | member) as the platform's admin list says, read from
        the adapter's cache that _prepare filled; unchanged when the list cannot be read."""
        platform = self.app.platforms.get(event.chat.platform)
        user = event.user
        if platform is None or user is None:
            return
        try:
            owners = await platform.owner_ids(event.chat) if platform.can(Capability.ADMIN_LIST) else set()
            admin = user.id in owners or await self.app.is_admin(event.chat, user, settings)
        except (ActionFailed, CapabilityMissing):
            return
        role = "owner" if user.id in owners else "admin" if admin else "member"
        if member.role != role:
            await core_repo.set_role(session, member, role)

    async def _track_member(self, session, chat_id: int, event: Event, now):
        if isinstance(event, (ChatMigrated, JoinRequested)):
            return None
        member = await core_repo.ensure_member(session, chat_id, event.user, now, seen=not isinstance(event, MemberLeft))
        if isinstance(event, MemberJoined) and (member.status != "active" or member.left_at is not None):
            await core_repo.mark_joined(session, member, now)
        elif isinstance(event, MemberLeft) and member.status == "active":
            await core_repo.mark_left(session, member, now, "removed" if event.removed_by else "left")
        return member
