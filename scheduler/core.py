"""APScheduler 3 (AsyncIOScheduler) wakes the app's tick: every router's due work is then found
in the database, so a restart or a crash loses no deadline and no column slot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from bot.ports import AppServices


async def _tick_unless_ticking(app: "AppServices") -> None:
    """A tick that comes while the last one still runs (slow database, big fan-out) is skipped: the
    next one finds the due work in the database. (APScheduler would log a warning for each.)"""
    if not app.ticking:
        await app.tick()


def start_scheduler(app: "AppServices") -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        _tick_unless_ticking,
        "interval",
        args=[app],
        seconds=app.config.scheduler.tick_seconds,
        id="qunzhu-tick",
        max_instances=2,
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
