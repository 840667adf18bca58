"""APScheduler 3 (AsyncIOScheduler) wakes the app's tick: every router's due work is then found
in the database, so a restart or a crash loses no deadline and no column slot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from bot.ports import AppServices


def start_scheduler(app: "AppServices") -> AsyncIOScheduler:
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


def wake_at(app: "AppServices", when) -> None:
    """Wake the engine exactly at `when` (the next column slot or campaign step), on top of the
    interval tick; replaces the previous precise wake-up."""
    scheduler = getattr(app, "scheduler", None)
    if scheduler is None or not getattr(scheduler, "running", False):
        return
    scheduler.add_job(
        app.tick,
        "date",
        run_date=when,
        id="qunzhu-columns-wake",
        replace_existing=True,
        misfire_grace_time=None,
        coalesce=True,
    )
