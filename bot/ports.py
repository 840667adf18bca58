"""The narrow interfaces between the layers, as typing.Protocols (nothing here runs).

    platforms (translate) → EventSink          core (events, dispatch, context) ← handlers, scheduler
                                                         uses AppServices

The composition root (bot/app.py) implements both; no module but it and the CLI imports it.
tests/core/test_layers.py keeps the imports pointing this way.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from bot.actions import Actions, Outbox
    from bot.clock import Clock
    from bot.config import Config, GroupSettings
    from bot.dispatch import CommandSpec, Dispatcher, DispatchResult, IntakeMark
    from bot.events import ChatRef, Event, UserRef
    from bot.intake import InboxItem, Intake
    from bot.platform import Platform
    from bot.tally import Tally


class Inbox(Protocol):
    """The durable intake as an adapter sees it (bot/intake.py says what each call guarantees)."""

    async def receive(self, platform: str, key: str, payload: dict[str, Any]) -> InboxItem | None: ...

    async def receive_many(self, platform: str, updates: list[tuple[str, dict[str, Any]]]) -> list[InboxItem | None]: ...

    async def pending(self, platform: str) -> list[InboxItem]: ...

    async def handle(self, item: InboxItem, events: list[Event]) -> list[DispatchResult]: ...


class EventSink(Protocol):
    """What a platform adapter may ask of the bot: store and hand over updates, tell a group's
    admins something, name the commands. No database, no App."""

    @property
    def clock(self) -> Clock: ...

    @property
    def intake(self) -> Inbox: ...

    @property
    def bot_name(self) -> str: ...

    async def dispatch(self, event: Event) -> DispatchResult:
        """An event without an inbox row (the console; WeCom's archive, which has its own cursor)."""
        ...

    async def tell_admins(self, chat: ChatRef, compose: Callable[[str], str]) -> None:
        """`compose(language)` in the group's language, to its admins (DM where possible, else the group)."""
        ...

    def commands(self) -> list[CommandSpec]: ...


class AppServices(Protocol):
    """What the core, the scheduler and the handlers use of the running app."""

    config: Config
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    platforms: dict[str, Platform]
    dispatcher: Dispatcher
    outbox: Outbox
    intake: Intake
    tally: Tally
    started: bool
    up: bool

    def work(self) -> AbstractAsyncContextManager[tuple[AsyncSession, Actions]]: ...

    async def dispatch(self, event: Event, *, intake: IntakeMark | None = None) -> DispatchResult: ...

    async def tick(self) -> None: ...

    @property
    def ticking(self) -> bool:
        """A tick is running now."""
        ...

    async def flush_figures(self) -> None: ...

    def build_platforms(self, *, console_out: Callable[[str], None] | None = None) -> None: ...

    def settings_for(self, chat_key: str, stored: dict[str, Any] | None = None) -> GroupSettings: ...

    async def is_admin(self, chat: ChatRef, user: UserRef, settings: GroupSettings) -> bool: ...

    async def notify_admins(self, chat: ChatRef, text: str, admins: set[str] | GroupSettings) -> None: ...

    async def report_uncertain(self, chat_key: str, count: int) -> None: ...

    async def __aenter__(self) -> AppServices: ...

    async def __aexit__(self, *exc: object) -> None: ...


# How the CLI hands `bot.app.App` to the demo and the console (they must not import it):
# `make_app(config, clock=…, run_scheduler=…)`.
AppFactory = Callable[..., AppServices]
