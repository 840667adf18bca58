"""One column post fanned out to 600 Telegram groups through the whole stack: the column engine
(claims in SQLite, concurrent fan-out) → TelegramPlatform (python-telegram-bot, its paced send path)
→ the fake Bot API over loopback HTTP, which here enforces Telegram's 30 messages per second per bot
and answers 429 "Too Many Requests" to anything beyond. The limit allows 600 / 30 = 20 s; the goal is
zero 429 responses and a total within 10 % of those 20 s.

    .venv/bin/python bench/columns_fanout.py [--groups 600] [--rate 30] [--pace N] [--concurrency 32] [--db sqlite|postgresql]

Prints the posts delivered, the 429 responses, the elapsed time, the time the limit allows and the
ratio between them; exits 1 if a group did not get exactly one post.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import FakeClock  # noqa: E402
from tests.support import fake_telegram, telegram_harness  # noqa: E402
from tests.columns.helpers import utc  # noqa: E402

SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "copyMessage", "forwardMessage"}


class RateLimitedFakeTelegram(fake_telegram.FakeTelegram):
    """The fake Bot API, answering 429 to sends beyond `rate` in any one-second window."""

    rate = 30

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._window: collections.deque[float] = collections.deque()
        self.too_many = 0
        self.too_many_at: list[float] = []

    def _scripted(self, method, params):
        if method in SEND_METHODS:
            now = time.monotonic()
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate:
                self.too_many += 1
                self.too_many_at.append(now)
                return fake_telegram.Failure(method, 429, "Too Many Requests: retry after 1", retry_after=1)
            self._window.append(now)
        return super()._scripted(method, params)


async def run(args) -> int:
    RateLimitedFakeTelegram.rate = args.rate
    telegram_harness.FakeTelegram = RateLimitedFakeTelegram  # the harness builds its fake from this name
    groups = [f"telegram:{-1003000000000 - i}" for i in range(args.groups)]
    config = {
        "telegram": {"per_bot_per_second": args.pace or args.rate, "per_group_per_minute": 20},
        "columns": {
            "fanout_concurrency": args.concurrency,
            "column": {"zaobao": {"title": "早报", "source": "morning", "times": ["08:00"], "groups": groups}},
        },
    }
    clock = FakeClock(utc(2026, 3, 1, 23, 59))
    pg_name = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "postgresql":
            from tests.support.databases import create_pg_database

            db_url, pg_name = await create_pg_database()  # a fresh database (QUNZHU_TEST_PG_URL), dropped after
        else:
            db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        async with telegram_harness.running_telegram_app(db_url, tmp, config, clock=clock) as h:
            h.fake.clear_calls()
            clock.set(utc(2026, 3, 2, 0, 0))
            start, mono_start = time.perf_counter(), time.monotonic()
            await h.tick()
            elapsed = time.perf_counter() - start
            arrivals = sorted(c.at for c in h.fake.calls if c.method == "sendMessage")
            delivered = collections.Counter(
                int(c.params["chat_id"]) for c in h.fake.calls if c.method == "sendMessage" and c.status == 200
            )
            too_many = h.fake.too_many
            too_many_at = [f"{t - mono_start:.2f}" for t in h.fake.too_many_at]
        if pg_name:
            from tests.support.databases import drop_pg_database

            await drop_pg_database(pg_name)
    ideal = args.groups / args.rate
    if arrivals:
        print(f"first post reached the Bot API {arrivals[0] - mono_start:.2f} s after the slot (claims, rendering); "
              f"first to last post: {arrivals[-1] - arrivals[0]:.2f} s")
    print(f"fake Bot API limit: {args.rate}/s  bot paces at: {args.pace or args.rate}/s  fan-out concurrency: {args.concurrency}")
    print(f"groups: {args.groups}  delivered: {sum(delivered.values())}  429 responses: {too_many}"
          + (f" (at {', '.join(too_many_at[:10])} s)" if too_many_at else ""))
    print(f"elapsed: {elapsed:.2f} s  limit allows: {ideal:.2f} s  ratio: {elapsed / ideal:.3f} (goal: <= 1.10, zero 429)")
    exact = len(delivered) == args.groups and set(delivered.values()) == {1}
    if not exact:
        print("ERROR: not every group got exactly one post")
    return 0 if exact else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=600)
    parser.add_argument("--rate", type=int, default=30, help="messages per second the fake Bot API allows")
    parser.add_argument("--pace", type=int, default=None, help="[telegram] per_bot_per_second the bot paces at (default: --rate)")
    parser.add_argument("--concurrency", type=int, default=32, help="[columns] fanout_concurrency")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite",
                        help="a temporary SQLite file, or a fresh PostgreSQL database (QUNZHU_TEST_PG_URL)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
