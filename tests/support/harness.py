"""Build a real App (real config validation, real SQLite/PostgreSQL, real routers) on the console
platform with a controllable clock."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

from bot.app import App
from bot.clock import FakeClock
from bot.config import deep_merge, parse_config
from bot.platform import Capability
from bot.platforms.console import ConsolePlatform

START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Shanghai


def make_config(db_url: str, data_dir: str, extra: dict[str, Any] | None = None):
    base = {"bot": {"data_dir": data_dir}, "database": {"url": db_url}}
    return parse_config(deep_merge(base, extra or {}), env={})


@asynccontextmanager
async def running_app(
    db_url: str,
    data_dir: str,
    config: dict[str, Any] | None = None,
    *,
    clock: FakeClock | None = None,
    capabilities: Capability | None = None,
    dm_blocked: set[str] | None = None,
    routers=None,
):
    cfg = make_config(db_url, data_dir, config)
    app = App(cfg, clock=clock or FakeClock(START), run_scheduler=False, routers=routers)
    console = ConsolePlatform(app.config.console, app, capabilities=capabilities, dm_blocked=dm_blocked)
    app.platforms["console"] = console
    await app.start()
    try:
        yield app, console
    finally:
        await app.stop()
