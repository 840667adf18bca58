"""Routers, priorities and stop-propagation; one DB session and one Context per event.

An event runs in one transaction, without a SAVEPOINT per handler: if a handler raises, the whole
transaction is rolled back (its writes and the actions it queued go) and the event is run again
without that handler, so the others' work still commits — at the price of re-running them, which
only happens when something is broken. A handler calls `ctx.stop()` to keep lower-priority routers
from seeing the event (e.g. the rules router after removing an ad, so points don't reward it).

What an event needs before the handlers run costs one statement for an established member: the chat
and the group's settings come from memory (bot.groups), and the member is read together with the
version of the stored settings and the rows the features keep per member (`router.with_member`).

No platform is called while the transaction is open: what the handlers ask of the platform is
queued (bot.actions), written to the outbox in the same transaction, and carried out after the
commit, in order. An event from the intake (`intake=IntakeMark`) marks its inbox row done in that
transaction too, so "handled" and "what it changed" commit together or not at all. A database error
(the database cannot do it now) propagates to the caller: the intake retries the event; nothing was sent.
"""

from __future__ import annotations

import asyncio
import logging
import operator
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
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

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

    def fits(self, event_type: type[Event], command: str | None) -> bool:
        """Whether events of this type (and, for a command, this name) can match at all."""
        return issubclass(event_type, self.event_types) and (self.command is None or command in self.command.names)

    async def matches(self, ctx: "Context") -> bool:
        event = ctx.event
        if not self.fits(type(event), event.name if isinstance(event, CommandInvoked) else None):
            return False
        if event.chat.private and not self.router.private_chats:
            return False
        if event.chat.is_channel and not self.router.channels:
            return False  # a channel's subscribers are not members: no onboarding, rules or points
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
        self.member_joins: list[tuple[type, Callable[[], Any]]] = []
        self.figures: list[tuple[str, Callable, Callable[[Any, Any], Any]]] = []
        self.seconds = metrics.HANDLER_SECONDS.labels(router=name)  # labelled once, not per handler run

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

    def with_member(self, model: type, on: Callable[[], Any]) -> None:
        """Read `model`'s row of the event's member in the event's one query: `on()` returns the ON
        clause against storage.models.Member (at most one row per member). Handlers find it in
        `ctx.member_rows[model]` (None when the member has none; the key is absent when the event
        had no stored member to read it with)."""
        self.member_joins.append((model, on))

    def figure(self, kind: str, combine: Callable[[Any, Any], Any] = operator.add):
        """Register the writer of a batched figure (bot.tally): `async def write(session, {key: value})`."""
        def register(fn):
            self.figures.append((kind, fn, combine))
            return fn

        return register

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
    # What the handlers replied to a command given in the web console (CommandInvoked.via_web).
    replies: list[str] = field(default_factory=list)


# Errors that mean "the database cannot do it now": the whole event is retried by the caller, rather
# than run again without the handler that happened to meet them.
RETRY_EVENT = (OperationalError, InterfaceError, PoolTimeout, OSError)


def _checked_by_console(event: Event) -> bool:
    """A command from the web console, whose rights the console checked (CommandInvoked.via_web)."""
    return isinstance(event, CommandInvoked) and event.via_web


class _HandlerFailed(Exception):
    def __init__(self, handler: Handler, error: BaseException):
        self.handler, self.error = handler, error


class Dispatcher:
    def __init__(self, app: "AppServices", routers: list[Router]):
        from bot.groups import GroupDirectory

        self.app = app
        self.routers = sorted(routers, key=lambda r: -r.priority)
        self.groups = GroupDirectory()
        joins: dict[type, Callable[[], Any]] = {}
        for router in self.routers:
            for model, on in router.member_joins:
                joins.setdefault(model, on)
        self._member_joins = tuple(joins.items())
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._by_kind: dict[tuple[type, str | None], list[Handler]] = {}
        self._indexed = -1

    @property
    def handlers(self) -> list[Handler]:
        return [h for r in self.routers for h in r.handlers]

    def handlers_for(self, event: Event) -> list[Handler]:
        """The handlers that can match `event`, in order: those of its type, and for a command those
        of its name (about 50 handlers in all, a handful for any one event). Kept per type and
        command name; rebuilt when a router gains a handler."""
        count = sum(len(r.handlers) for r in self.routers)
        if count != self._indexed:
            self._by_kind.clear()
            self._indexed = count
        kind = (type(event), event.name if isinstance(event, CommandInvoked) else None)
        found = self._by_kind.get(kind)
        if found is None:
            if len(self._by_kind) >= 1024:  # command names come from members: bound the index
                self._by_kind.clear()
            found = self._by_kind[kind] = [h for h in self.handlers if h.fits(*kind)]
        return found

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
        """Run the event; when a handler fails, roll back and run it again without that handler."""
        skip: set[int] = set()
        errors: list[tuple[str, BaseException]] = []
        while True:
            try:
                ctx, result = await self._attempt(event, intake, prepared, skip)
            except _HandlerFailed as failed:
                handler = failed.handler
                skip.add(id(handler))
                errors.append((f"{handler.router.name}.{handler.fn.__name__}", failed.error))
                continue
            result.errors[:0] = errors
            return ctx, result

    async def _attempt(self, event: Event, intake: IntakeMark | None, prepared: dict[str, Any],
                       skip: set[int]) -> tuple["Context | None", DispatchResult]:
        result = DispatchResult()
        now = self.app.clock.now()
        actions = Actions(self.app)
        try:
            return await self._in_transaction(event, intake, prepared, skip, result, now, actions)
        except BaseException:
            actions.rolled_back()
            raise

    async def _in_transaction(self, event, intake, prepared, skip, result, now, actions):
        from bot.context import Context

        async with self.app.sessions() as session:
            async with session.begin():
                # The update's inbox row is marked done in this transaction: with the member read
                # when there is one (one statement on PostgreSQL), else first.
                inbox_done = (intake.entry_id, now) if intake is not None and intake.last else None
                if inbox_done is not None and (intake.count > 1 or not self._reads_member(event)):
                    await intake_repo.mark_done(session, *inbox_done)
                    inbox_done = None
                if intake is not None:
                    if intake.count > 1 and not await core_repo.first_time_seen(session, f"inbox:{intake.entry_id}:{intake.index}", now):
                        result.duplicate = True
                        return None, result
                elif isinstance(event, (MessageReceived, MessageEdited)) and event.dedupe_key:
                    if not await core_repo.first_time_seen(session, event.dedupe_key, now):
                        result.duplicate = True
                        return None, result
                chat_row = await self._chat_row(session, event, now)
                member_row, version, member_rows = await self._track_member(session, chat_row.id, event, now, inbox_done)
                settings = await self._settings(session, chat_row, version)
                if member_row is not None and not event.chat.private and not isinstance(event, MemberLeft):
                    await self._refresh_role(session, event, member_row, settings)
                ctx = Context(self.app, event, session, chat_row, member_row, settings, actions)
                result.replies = ctx.web_replies
                ctx.member_rows = member_rows
                ctx.data.update(prepared)
                actions.after_commit(lambda: self.groups.remember_chat(chat_row))
                if member_row is not None and not isinstance(event, (MemberLeft, ChatMigrated, JoinRequested)):
                    actions.after_commit(lambda: self.app.tally.add("core.last_seen", member_row.id, now))
                for handler in self.handlers_for(event):
                    if ctx.stopped:
                        break
                    if id(handler) in skip:
                        continue
                    await self._run(handler, ctx, result)
                await actions.persist(session)
        return ctx, result

    async def _run(self, handler: Handler, ctx: "Context", result: DispatchResult) -> None:
        try:
            if not await handler.matches(ctx):
                return
            if handler.command and handler.command.admin_only and not _checked_by_console(ctx.event) and not await ctx.is_admin():
                await ctx.reply(ctx.t("core.admin_only", command=handler.command.names[0]))
                ctx.stop()
                return
            started = time.perf_counter()
            try:
                await handler.fn(ctx)
            finally:
                handler.router.seconds.observe(time.perf_counter() - started)
        except RETRY_EVENT:
            raise
        except Exception as exc:  # one handler's failure must not stop the others
            log.exception("handler %s.%s failed on %s", handler.router.name, handler.fn.__name__, type(ctx.event).__name__)
            raise _HandlerFailed(handler, exc) from exc
        result.handled_by.append(f"{handler.router.name}.{handler.fn.__name__}")
        if ctx.stopped:
            result.stopped_by = handler.router.name

    async def _chat_row(self, session, event: Event, now):
        if isinstance(event, ChatMigrated) and event.new_chat is not None:
            self.groups.forget_chat(event.chat.key)
            self.groups.forget_chat(event.new_chat.key)
            chat_row = await core_repo.migrate_chat(session, event.chat, event.new_chat)
            return chat_row or await core_repo.ensure_chat(session, event.new_chat, now)
        chat_row = self.groups.chat_row(session, event.chat.key, event.chat.title)
        return chat_row or await core_repo.ensure_chat(session, event.chat, now)

    async def _settings(self, session, chat_row, version):
        """The group's settings from memory while their stored version is the one read with the member
        (`version` is ... when the event read no member: then the overrides are read)."""
        if version is not ...:
            settings = self.groups.settings(chat_row.id, version)
            if settings is not None:
                return settings
        stored, version = await core_repo.overrides_with_version(session, chat_row.id)
        settings = self.app.config.group_settings(chat_row.key, stored)
        self.groups.remember_settings(chat_row.id, version, settings)
        return settings

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

    @staticmethod
    def _reads_member(event: Event) -> bool:
        return not isinstance(event, (ChatMigrated, JoinRequested)) and not _checked_by_console(event)

    async def _track_member(self, session, chat_id: int, event: Event, now, inbox_done=None):
        """(member row or None, stored-settings version or ... when not read, the features' member rows).
        `inbox_done`: the update's inbox mark, made with the member read."""
        if not self._reads_member(event):
            return None, ..., {}
        seen = not isinstance(event, MemberLeft)
        loaded = await core_repo.load_member(session, chat_id, event.user.id, self._member_joins, inbox_done)
        if loaded is None:  # first seen: stored, then read like any member (the features' rows with it)
            await core_repo.add_member(session, chat_id, event.user, now, seen=seen)
            loaded = await core_repo.load_member(session, chat_id, event.user.id, self._member_joins)
            assert loaded is not None
        member, version, member_rows = loaded
        core_repo.note_names(member, event.user)
        if isinstance(event, MemberJoined) and (member.status != "active" or member.left_at is not None):
            await core_repo.mark_joined(session, member, now)
        elif isinstance(event, MemberLeft) and member.status == "active":
            await core_repo.mark_left(session, member, now, "removed" if event.removed_by else "left")
        return member, version, member_rows
