"""A raid on one group: N joins in a few seconds through the real App on the console platform, every
newcomer restricted and asked the example questionnaire of config.example.toml (in strict mode the
first question is shared, posted by the next tick); then the clock passes the deadline and one tick
removes them all. Prints joins/s, the ticks' durations and the counts.

    .venv/bin/python bench/onboarding_raid.py [--joins 200] [--db sqlite|postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.app import App  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import parse_config  # noqa: E402
from bot.platforms.console import ConsolePlatform  # noqa: E402
from storage.onboarding_models import OnboardingRun  # noqa: E402


async def main(joins: int, db: str) -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text("utf-8"))["defaults"]["onboarding"]
    with tempfile.TemporaryDirectory(prefix="qunzhu-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db" if db == "sqlite" else db
        config = parse_config({"bot": {"data_dir": tmp}, "database": {"url": url},
                               "defaults": {"language": "en", "onboarding": example}}, env={})
        app = App(config, clock=FakeClock(), run_scheduler=False)
        console = ConsolePlatform(app.config.console, app)
        app.platforms["console"] = console
        await app.start()
        try:
            started = time.perf_counter()
            await asyncio.gather(*(console.join(f"u{i}") for i in range(joins)))
            elapsed = time.perf_counter() - started
            async with app.sessions() as session:
                pending = await session.scalar(select(func.count()).select_from(OnboardingRun).where(OnboardingRun.status == "pending"))
            muted = sum(console.is_muted(f"u{i}") for i in range(joins))
            print(f"{joins} joins in {elapsed:.2f} s ({joins / elapsed:.0f} joins/s); pending questionnaires: {pending}; muted: {muted}")
            started = time.perf_counter()
            await app.tick()  # strict mode: the shared first questions go out
            elapsed = time.perf_counter() - started
            questions = sum("(1/" in m.text for m in console.bot_messages())
            print(f"first tick: {elapsed:.2f} s; question messages in the group: {questions} for {joins} newcomers")
            app.clock.advance(minutes=11)
            started = time.perf_counter()
            await app.tick()
            elapsed = time.perf_counter() - started
            removed = sum(not console.is_present(f"u{i}") for i in range(joins))
            print(f"deadline tick: {removed} removed in {elapsed:.2f} s ({removed / elapsed:.0f} removals/s)")
        finally:
            await app.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--db", default="sqlite", help="'sqlite' (a temporary file) or a PostgreSQL URL")
    args = parser.parse_args()
    asyncio.run(main(args.joins, args.db))
