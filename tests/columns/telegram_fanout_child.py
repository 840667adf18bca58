"""Run by test_telegram_kill in a subprocess: the real App on the real Telegram adapter, pointed at
a fake Bot API the test runs over HTTP, its clock at a column slot, fanning one post out to many
groups (paced, so it takes a few seconds) until the test kills it."""

from __future__ import annotations

import asyncio
import sys

from bot.app import App
from bot.clock import FakeClock
from tests.columns.helpers import utc
from tests.support.harness import make_config

GROUPS = 300
CONCURRENCY = 8
ADMIN = "5001"


def group_ids(groups: int = GROUPS) -> list[str]:
    return [str(-1003000000000 - i) for i in range(groups)]


def kill_config(base_url: str, base_file_url: str, token: str, groups: int = GROUPS) -> dict:
    return {
        "console": {"enabled": False},
        "defaults": {"admins": [ADMIN]},
        "telegram": {
            "enabled": True, "token": token, "mode": "polling", "base_url": base_url, "base_file_url": base_file_url,
            "poll_timeout": 10, "request_timeout": 20.0, "retry_backoff": 0.05,
            "per_group_per_minute": 20, "per_bot_per_second": 60,  # 300 groups: about 5 s
        },
        "columns": {
            "fanout_concurrency": CONCURRENCY,
            "column": {"zaobao": {"title": "早报", "source": "morning", "times": ["08:00"],
                                  "groups": [f"telegram:{g}" for g in group_ids(groups)]}},
        },
    }


async def main(db_url: str, data_dir: str, base_url: str, base_file_url: str, token: str) -> None:
    app = App(make_config(db_url, data_dir, kill_config(base_url, base_file_url, token)),
              clock=FakeClock(utc(2026, 3, 2, 0, 0)), run_scheduler=False)
    app.build_platforms()
    print("starting", flush=True)
    await app.start()  # start-up ticks: the 08:00 slot is due now
    print("fan-out done", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
