"""Updates per second through the whole Telegram stack: the fake Bot API over loopback HTTP → the real
python-telegram-bot Application (getUpdates long polling) → TelegramPlatform → App.dispatch → the routers
→ SQLite (a file, WAL) → Bot API calls back out — once with every feature router (handlers.all_routers())
and once with a do-nothing router, in one run, printed with the ratio.

    .venv/bin/python bench/telegram_throughput.py [--updates 2000] [--groups 10] [--users 50]

The traffic is group chatter in Chinese and English with some joins and a few commands, spread over
several groups. Pacing is lifted (per_group_per_minute / per_bot_per_second set high) so the number
measures our stack, not Telegram's send limits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.dispatch import Router  # noqa: E402
from tests.support.telegram_harness import running_telegram_app  # noqa: E402

CHATTER = [
    "大家早上好！", "今天的分享什么时候开始？", "收到，谢谢群主", "这个课程第三节我没太懂",
    "有人一起打卡吗", "晚上好～", "Good morning everyone", "Thanks for the notes!",
    "请问周末有活动吗？", "我来自杭州，做电商的", "Where can I find yesterday's recording?",
    "同意楼上", "哈哈哈哈", "学到了", "明天见", "Has anyone tried the new feature?",
]
COMMANDS = ["/help", "/checkin", "/签到", "/points", "/rank"]


def build_updates(fake, n: int, groups: int, users: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    chats = [fake.group(-1002000000000 - i, f"Bench group {i}") for i in range(groups)]
    people = [fake.user(f"member{i}") for i in range(users)]
    joined: set[tuple[int, int]] = set()
    updates = []
    for _ in range(n):
        chat, user = rng.choice(chats), rng.choice(people)
        key = (chat["id"], user["id"])
        roll = rng.random()
        if key not in joined and roll < 0.3:
            joined.add(key)
            updates.append(fake.chat_member_update(chat, user, old="left", new="member"))
        elif roll < 0.05:
            updates.append(fake.command_update(chat, user, rng.choice(COMMANDS)))
        else:
            updates.append(fake.text_update(chat, user, rng.choice(CHATTER)))
    return updates


def noop_router() -> Router:
    router = Router("noop", 0)

    @router.message()
    async def nothing(ctx):
        return None

    return router


async def measure(label: str, routers, args) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        config = {"telegram": {"per_group_per_minute": 1_000_000, "per_bot_per_second": 1_000_000}}
        async with running_telegram_app(db_url, tmp, config, routers=routers) as h:
            updates = build_updates(h.fake, args.updates, args.groups, args.users)
            waiters = [h.platform.expect(u["update_id"]) for u in updates]
            start = time.perf_counter()
            await h.fake.push(*updates)
            results = await asyncio.wait_for(asyncio.gather(*waiters), timeout=args.timeout)
            elapsed = time.perf_counter() - start
            failed = [(name, exc) for rs in results for r in rs for name, exc in r.errors]
            errors = len(failed)
            kinds = sorted({f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}" for name, exc in failed})
            calls = len([c for c in h.fake.calls if c.method not in ("getUpdates", "getMe", "setMyCommands", "deleteWebhook")])
        rate = len(updates) / elapsed
        print(f"{label:<22} {len(updates):>6} updates in {elapsed:6.2f} s = {rate:8.1f} updates/s"
              f"  (Bot API calls out: {calls}, handler errors: {errors})")
        for kind in kinds[:5]:
            print(f"    handler error: {kind}")
        return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # handler errors are counted and summarised instead
    from handlers import all_routers

    full = await measure("all feature routers", all_routers(), args)
    empty = await measure("do-nothing router", [noop_router()], args)
    print(f"ratio (all routers / do-nothing): {full / empty:.2f}  — the features keep {full / empty:.0%} of the bare throughput")


if __name__ == "__main__":
    asyncio.run(main())
