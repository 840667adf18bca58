"""APScheduler is armed to wake the engine exactly at the next column slot (the interval tick is
only the backstop), and re-armed after each tick."""

from __future__ import annotations

from bot.app import App
from bot.clock import FakeClock
from bot.platforms.console import ConsolePlatform
from tests.columns.helpers import column_config, utc
from tests.support.harness import make_config


async def test_the_scheduler_is_armed_for_the_next_slot(sqlite_url, tmp_path):
    config = column_config(times=["08:00", "20:00"])
    config["columns"]["campaign"] = {"launch": {"steps": [{"day": 1, "time": "10:00", "text": "A"}]}}
    clock = FakeClock(utc(2030, 3, 1, 23, 0))  # 07:00 Shanghai; in the real future, so APScheduler waits for it
    app = App(make_config(sqlite_url, str(tmp_path), config), clock=clock, run_scheduler=True)
    app.platforms["console"] = ConsolePlatform(app.config.console, app)
    async with app:
        job = app.scheduler.get_job("qunzhu-columns-wake")
        assert job is not None and job.next_run_time == utc(2030, 3, 2, 0, 0)
        assert app.scheduler.get_job("qunzhu-tick") is not None
        clock.set(utc(2030, 3, 2, 0, 0))
        await app.tick()
        assert app.scheduler.get_job("qunzhu-columns-wake").next_run_time == utc(2030, 3, 2, 12, 0)
        await app.platforms["console"].say("admin", "/campaign start launch")
        await app.tick()
        # the campaign's step (10:00) now comes before the 20:00 slot
        assert app.scheduler.get_job("qunzhu-columns-wake").next_run_time == utc(2030, 3, 2, 2, 0)
