"""APScheduler 3 (AsyncIOScheduler) wakes the app's tick: every router's due work is then found
in the database, so a restart or a crash loses no deadline and no column slot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from bot.app import App


def start_scheduler(app: "App") -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        app.tick,
        "interval",
        seconds=app.config.scheduler.tick_seconds,
        id="qunzhu-tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.start()
    return scheduler
