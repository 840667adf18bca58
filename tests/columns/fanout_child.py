"""Run by test_exactly_once in a subprocess: the real App on the console platform, its clock at a
column slot, fanning one post out to many groups and printing each post, until the test kills it."""

from __future__ import annotations

import asyncio
import sys

from bot.app import App
from bot.clock import FakeClock
from bot.platforms.console import ConsolePlatform
from tests.columns.helpers import column_config, utc
from tests.support.harness import make_config

GROUPS = 300


def fanout_config(groups: int = GROUPS) -> dict:
    config = column_config(groups=[f"console:g{i}" for i in range(groups)])
    config["columns"]["fanout_concurrency"] = 8
    return config


async def main(db_url: str, data_dir: str) -> None:
    app = App(make_config(db_url, data_dir, fanout_config()), clock=FakeClock(utc(2026, 3, 2, 0, 0)), run_scheduler=False)
    app.platforms["console"] = ConsolePlatform(app.config.console, app, out=lambda line: print(line, flush=True))
    print("starting", flush=True)
    await app.start()  # start-up ticks: the 08:00 slot is due now
    print("fan-out done", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
