"""Composition root: config → storage → platforms → dispatcher → scheduler; start/stop order.

The only module (with the CLI) that imports every layer. The App is the adapters' EventSink and the
core's AppServices (bot/ports.py); nothing else imports it."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
from datetime import timedelta
from collections.abc import Callable
from typing import Any

from contextlib import asynccontextmanager

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.actions import Actions, Outbox
from bot.clock import Clock
from bot.config import Config, GroupSettings
from bot.dispatch import CommandSpec, Dispatcher, DispatchResult, IntakeMark, Router
from bot.events import ChatRef, Event, UserRef
from bot.intake import Intake
from bot.platform import ActionFailed, Capability, CapabilityMissing, Platform
from bot.tally import Tally
from bot.stored_scope import stored_group
from storage.db import analyze, check_writable, create_engine, session_factory, upgrade

log = logging.getLogger(__name__)

KEEP_DAYS = 7
STOP_TICK_WAIT = 10  # seconds stop() waits for a tick under way


def freeze_startup_objects() -> None:
    """What start-up built (imports, word lists, settings) lives as long as the process: take it out of
    the garbage collector's sight, so the collections that allocation triggers all day do not walk it
    again each time (`qunzhu run` calls this once the bot is up)."""
    gc.collect()
    gc.freeze()
    trim_heap()


def trim_heap() -> None:
    """glibc: hand the free pages inside the heap back to the system (what start-up or a burst of
    events freed stays resident otherwise; ~3 MB after 1,000 groups at once). A few ms; at start-up
    and after each tick."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # another C library: nothing to do
        pass


def _tally(routers: list[Router]) -> Tally:
    """The batched figures: the core's (daily counters, last seen) and those the routers declare."""
    from storage import core_repo, metrics

    tally = Tally()
    tally.register(metrics.DAILY, metrics.write_daily)
    tally.register("core.last_seen", core_repo.write_last_seen, max)
    for router in routers:
        for kind, writer, combine in router.figures:
            tally.register(kind, writer, combine)
    return tally


class App:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        routers: list[Router] | None = None,
        platforms: dict[str, Platform] | None = None,
        run_scheduler: bool = True,
    ):
        from handlers import all_routers

        self.config = config
        self.clock = clock or Clock()
        self.engine = create_engine(config.database_url, echo=config.database.echo,
                                    busy_timeout=config.database.busy_timeout_seconds,
                                    sqlite_driver=config.database.sqlite_driver, pool_size=config.database.pool_size)
        self.sessions = session_factory(self.engine)
        self.routers = all_routers() if routers is None else routers
        self.dispatcher = Dispatcher(self, self.routers)
        self.tally = _tally(self.routers)
        self.outbox = Outbox(self, scope_for=stored_group)
        self.intake = Intake(self)
        self.platforms: dict[str, Platform] = dict(platforms or {})
        self.run_scheduler = run_scheduler
        self.scheduler = None
        self.http = None  # bot.httpserver.HttpServer when [health] or [web] is enabled
        self._tick_lock = asyncio.Lock()
        self._last_purge = None
        self._tick_failing: str | None = None
        self.started = False
        self.up = False  # start() has finished and stop() has not begun (for /readyz)

    # --- lifecycle ---------------------------------------------------------------------------
    def build_platforms(self, *, console_out=None) -> None:
        """Create the platforms the config enables (tests and the demo may pass their own)."""
        cfg = self.config
        if cfg.console.enabled and "console" not in self.platforms:
            from bot.platforms.console import ConsolePlatform

            self.platforms["console"] = ConsolePlatform(cfg.console, self, out=console_out)
        if cfg.telegram and cfg.telegram.enabled and "telegram" not in self.platforms:
            from bot.platforms.telegram import TelegramPlatform

            self.platforms["telegram"] = TelegramPlatform(cfg.telegram, self)
        if cfg.wecom and cfg.wecom.enabled and "wecom" not in self.platforms:
            from bot.member_lists import MemberLists
            from bot.platforms.wecom import WecomPlatform
            from bot.wecom_state import WecomState

            self.platforms["wecom"] = WecomPlatform(
                cfg.wecom, self, member_lists=MemberLists(self.sessions), state=WecomState(self.sessions),
                resolve_path=cfg.resolve_path,
            )

    async def start(self) -> None:
        await check_writable(self.engine, self.config.database_url)
        await upgrade(self.engine)
        await analyze(self.engine)
        if self.http is None:
            # Up before the platforms: /healthz answers and /readyz says "starting" while Telegram is awaited.
            self.http = self._http_server()
            if self.http is not None:
                await self.http.start()
        try:
            await self._start()
        except BaseException:
            await self._stop_http()
            raise

    def _http_server(self):
        health, console = self.config.health, self.config.web
        if not health.enabled and not console.enabled:
            return None
        from bot.httpserver import HttpServer

        installers, what = [], []
        if health.enabled:
            from bot.health import HealthRoutes

            installers.append(HealthRoutes(self).install)
            what.append("/healthz, /readyz, /metrics")
        if console.enabled:
            from handlers.web.server import WebConsole

            installers.append(WebConsole(self, console).install)
            what.append("the web console at /console/")
        section = health if health.enabled else console
        return HttpServer(section.listen, section.port, "health" if health.enabled else "web", installers, "; ".join(what))

    async def _stop_http(self) -> None:
        if self.http is not None:
            await self.http.stop()
            self.http = None

    async def _start(self) -> None:
        for router in self.routers:
            for hook in router.startup:
                await hook(self)
        for platform in self.platforms.values():
            await platform.start()
        if self.run_scheduler:
            from scheduler.core import start_scheduler

            self.scheduler = start_scheduler(self)
        # Actions a previous run committed and did not carry out (a kill between commit and send).
        await self.outbox.recover()
        self.started = True
        # Deadlines that passed while the bot was down are handled now, not at the next tick.
        await self.tick()
        self.up = True

    async def stop(self) -> None:
        self.intake.stopping = True
        self.up = False
        await self._stop_http()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        # A tick under way finishes (and records what it did) before the platforms and the database go.
        try:
            await asyncio.wait_for(self._tick_lock.acquire(), STOP_TICK_WAIT)
            self._tick_lock.release()
        except asyncio.TimeoutError:
            log.warning("a scheduler tick was still running %d s after stop began", STOP_TICK_WAIT)
        for platform in reversed(list(self.platforms.values())):
            try:
                await platform.stop()
            except Exception:
                log.exception("stopping platform %s failed", platform.name)
        for router in self.routers:
            for hook in router.shutdown:
                await hook(self)
        try:
            await self.flush_figures()
        except Exception as exc:
            log.warning("%d batched figures could not be written at shutdown: %s", len(self.tally), exc)
        await self.engine.dispose()
        self.started = False

    async def __aenter__(self) -> "App":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # --- work --------------------------------------------------------------------------------
    @asynccontextmanager
    async def work(self):
        """A transaction for work that is not an event (ticks): `async with app.work() as (session,
        actions):` — what is queued on `actions` is carried out once the transaction has committed."""
        actions = Actions(self)
        try:
            async with self.sessions() as session:
                async with session.begin():
                    yield session, actions
                    await actions.persist(session)
        except BaseException:
            actions.rolled_back()
            raise
        await actions.carry_out()

    async def flush_figures(self) -> None:
        """Write the batched figures (bot.tally) in a transaction of their own; kept for the next
        try if the database fails."""
        taken = self.tally.take()
        if not taken:
            return
        try:
            async with self.sessions() as session, session.begin():
                await self.tally.write(session, taken)
        except (OperationalError, InterfaceError, OSError):
            self.tally.restore(taken)  # the database cannot now: the next tick tries again
            raise
        except Exception:
            # Anything else would fail again at every tick and hold all later figures back.
            log.exception("%d batched figures could not be written and are dropped", sum(map(len, taken.values())))
        except BaseException:
            self.tally.restore(taken)
            raise

    async def dispatch(self, event: Event, *, intake: IntakeMark | None = None) -> DispatchResult:
        return await self.dispatcher.dispatch(event, intake=intake)

    @property
    def ticking(self) -> bool:
        return self._tick_lock.locked()

    async def tick(self) -> None:
        """Run every router's due work once. Ticks never overlap. A database that fails (locked,
        unreachable …) is said once at WARNING, without a traceback, and once more when a tick
        gets through again; the next tick retries the work (it is found in the database)."""
        from sqlalchemy.exc import DBAPIError, OperationalError

        from bot.intake import _short

        async with self._tick_lock:
            failing: str | None = None
            # Figures first: the routers' due work (snapshots of closed days, digests) reads them.
            steps = [("figures", lambda _app: self.flush_figures())]
            steps += [(router.name, ticker) for router in self.dispatcher.routers for ticker in router.tickers]
            steps.append(("housekeeping", lambda _app: self._housekeeping()))
            for name, step in steps:
                try:
                    await step(self)
                except (OperationalError, DBAPIError) as exc:
                    failing = failing or f"{name}: {_short(exc)}"
                except Exception:
                    log.exception("tick of %s failed", name)
            if failing and not self._tick_failing:
                log.warning("tick: the database is failing (%s); due work waits for the next tick", failing)
            elif self._tick_failing and not failing:
                log.warning("tick: the database works again")
            self._tick_failing = failing
            trim_heap()

    async def _housekeeping(self) -> None:
        """Actions another process left stale (it died) are recovered; de-duplication keys, handled
        updates and finished actions older than KEEP_DAYS go (redeliveries come within minutes); SQLite's
        planner statistics are refreshed (storage.db.analyze)."""
        await self.outbox.recover()
        now = self.clock.now()
        if self._last_purge is not None and now - self._last_purge < timedelta(hours=1):
            return
        self._last_purge = now
        from storage import core_repo, intake_repo

        before = now - timedelta(days=KEEP_DAYS)
        async with self.sessions() as session, session.begin():
            await core_repo.forget_seen_before(session, before)
            await intake_repo.forget_done_before(session, before)
            await intake_repo.forget_actions_before(session, before)
        await analyze(self.engine)

    # --- what the adapters may ask (bot.ports.EventSink) ------------------------------------------
    @property
    def bot_name(self) -> str:
        return self.config.bot.name

    def commands(self) -> list[CommandSpec]:
        return self.dispatcher.commands()

    async def tell_admins(self, chat: ChatRef, compose: Callable[[str], str]) -> None:
        # Settings from the file only: an adapter calls this outside any transaction.
        settings = self.config.group_settings(chat.key, None)
        await self.notify_admins(chat, compose(settings.language), settings)

    def settings_for(self, chat_key: str, stored: dict[str, Any] | None = None) -> GroupSettings:
        return self.config.group_settings(chat_key, stored)

    async def is_admin(self, chat: ChatRef, user: UserRef, settings: GroupSettings) -> bool:
        if user.id in settings.admins:
            return True
        platform = self.platforms.get(chat.platform)
        if platform is None or not platform.can(Capability.ADMIN_LIST):
            return False
        try:
            return user.id in await platform.admin_ids(chat)
        except (ActionFailed, CapabilityMissing):
            log.warning("could not read the admin list of %s", chat.key)
            return False

    async def notify_admins(self, chat: ChatRef, text: str, admins: set[str] | GroupSettings) -> None:
        """DM each admin (the platform's admin list and `admins`, the configured extra ones) where the
        platform allows; otherwise (or if every DM fails) say it in the group. Calls the platform at
        once: inside a transaction, queue it with `scope.notify_admins` instead."""
        platform = self.platforms[chat.platform]
        delivered = False
        if platform.can(Capability.DM):
            ids = set(admins.admins if isinstance(admins, GroupSettings) else admins)
            if platform.can(Capability.ADMIN_LIST):
                try:
                    ids |= await platform.admin_ids(chat)
                except (ActionFailed, CapabilityMissing):
                    pass
            for admin_id in sorted(ids):
                try:
                    await platform.dm(UserRef(chat.platform, admin_id), text)
                    delivered = True
                except (ActionFailed, CapabilityMissing):
                    continue
        if not delivered:
            await platform.send(chat, text)

    async def report_uncertain(self, chat_key: str, count: int) -> None:
        """Messages interrupted mid-send (a crash, a timeout after the request left) are never sent
        again: tell the group's admins, who can check and post by hand."""
        from bot.i18n import t

        platform_name, _, chat_id = chat_key.partition(":")
        if platform_name not in self.platforms or not chat_id or chat_id == "-":
            log.warning("%d messages to %s may not have arrived", count, chat_key)
            return
        settings = self.config.group_settings(chat_key, None)
        try:
            await self.notify_admins(ChatRef(platform_name, chat_id), t(settings.language, "core.uncertain_sends", count=count), settings)
        except (ActionFailed, CapabilityMissing) as exc:
            log.warning("could not tell the admins of %s about %d uncertain messages: %s", chat_key, count, exc)
