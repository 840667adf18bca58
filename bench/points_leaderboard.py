"""/top and /me latency on a big SQLite ledger: 1,000 groups × 1,000 members, 10 million ledger rows.

    .venv/bin/python bench/points_leaderboard.py                # full size (builds bench/out/points_leaderboard.db once, a few minutes)
    .venv/bin/python bench/points_leaderboard.py --rows 1000000 # quick run
    .venv/bin/python bench/points_leaderboard.py --rebuild      # regenerate the file

The schema comes from the real migrations (so the real indexes); rows are bulk-inserted with sqlite3
executemany. Then, for random groups and members, it times
  * the queries behind /top (all-time, week) and /me (balance, growth points, rank, streak), through
    storage.points_repo on the async engine, and
  * the whole commands end to end: a real App (with the points router) on the console platform
    dispatching "/top" and "/me" (session, chat/member tracking, settings, the queries, the reply, commit).
It prints median / p95 / max in milliseconds. Goal: under 50 ms each.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.db import create_engine, session_factory, upgrade  # noqa: E402

OUT = ROOT / "bench" / "out"
NOW = datetime(2026, 3, 20, 4, 0, tzinfo=timezone.utc)
SOURCES = ["checkin", "activity", "activity", "activity", "admin", "shop"]


def fmt(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")


async def create_schema(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()


def fill(path: Path, groups: int, members: int, rows: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='points_ledger' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    created = fmt(NOW - timedelta(days=90))
    t0 = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO chats (id, platform, external_id, title, created_at) VALUES (?, 'console', ?, ?, ?)",
        ((g, f"g{g}", f"Group {g}", created) for g in range(1, groups + 1)),
    )
    db.executemany(
        "INSERT INTO members (id, chat_id, user_id, display_name, username, role, status, joined_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?, 'member', 'active', ?, ?)",
        (
            ((g - 1) * members + m, g, f"u{m}", f"user{m}", f"user{m}", created, created)
            for g in range(1, groups + 1)
            for m in range(1, members + 1)
        ),
    )
    db.execute("COMMIT")
    per_group = rows // groups
    rng = random.Random(7)
    span = 60 * 24 * 3600
    start = NOW - timedelta(seconds=span)
    n = 0
    for g in range(1, groups + 1):
        base = (g - 1) * members
        batch = []
        for i in range(per_group):
            n += 1
            source = SOURCES[rng.randrange(len(SOURCES))]
            amount = -rng.randint(20, 80) if source == "shop" else rng.randint(1, 20)
            at = fmt(start + timedelta(seconds=rng.randrange(span)))
            batch.append((g, base + rng.randint(1, members), amount, source, source, f"b{n:09d}", at))
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO points_ledger (chat_id, member_id, amount, reason, source, key, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        db.execute("COMMIT")
        if g % 100 == 0:
            print(f"  {n:,} ledger rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    t1 = time.perf_counter()
    for name, sql in indexes:
        db.execute(sql)
    db.execute("ANALYZE")
    print(f"  rows in {t1 - t0:.0f} s, indexes + ANALYZE in {time.perf_counter() - t1:.0f} s", flush=True)
    db.close()


def summary(label: str, samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    return f"{label:<34} median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms   max {samples[-1]:7.2f} ms   (n={len(samples)})"


async def time_queries(path: Path, groups: int, members: int, samples: int) -> None:
    from handlers.points.settings import PointsSettings
    from handlers.points import service
    from handlers.points.router import period_start
    from storage import points_repo as repo
    from zoneinfo import ZoneInfo

    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    settings = PointsSettings()
    tz = ZoneInfo("Asia/Shanghai")
    rng = random.Random(11)
    top_all, top_week, me = [], [], []
    async with sessions() as session:
        await repo.board(session, 1, limit=10)  # warm the connection
        for _ in range(samples):
            g = rng.randint(1, groups)
            m = (g - 1) * members + rng.randint(1, members)
            t = time.perf_counter()
            await repo.board(session, g, limit=10)
            top_all.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await repo.board(session, g, since=period_start("week", NOW, tz), limit=10)
            top_week.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await service.balance(session, chat_id=g, member_id=m)
            await service.level_of(session, chat_id=g, member_id=m, settings=settings)
            await repo.rank(session, g, m)
            await repo.current_streak(session, g, m, NOW.date())
            me.append((time.perf_counter() - t) * 1000)
    await engine.dispose()
    print(summary("/top all (queries)", top_all))
    print(summary("/top week (queries)", top_week))
    print(summary("/me (queries)", me))


async def time_commands(path: Path, groups: int, members: int, samples: int) -> None:
    from bot.app import App
    from bot.clock import FakeClock
    from bot.config import parse_config
    from bot.platforms.console import ConsolePlatform

    config = parse_config({"bot": {"data_dir": str(OUT)}, "database": {"url": f"sqlite+aiosqlite:///{path}"}}, env={})
    from handlers.points import router as points_router

    # Only the points router: the figure is this feature's, and other features' schema changes after
    # the file was built cannot break the run.
    app = App(config, clock=FakeClock(NOW), run_scheduler=False, routers=[points_router])
    console = ConsolePlatform(app.config.console, app)
    app.platforms["console"] = console
    rng = random.Random(13)
    top, me = [], []
    async with app:
        for i in range(samples + 1):
            g = f"g{rng.randint(1, groups)}"
            user = f"u{rng.randint(1, members)}"
            chat = console.chat(g)
            if user not in chat.members:
                from bot.platforms.console import ConsoleMember

                chat.members[user] = ConsoleMember(console.user(user))
            t = time.perf_counter()
            await console.say(user, "/top", chat_id=g)
            elapsed_top = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            await console.say(user, "/me", chat_id=g)
            elapsed_me = (time.perf_counter() - t) * 1000
            if i:  # the first pair warms caches and the connection pool
                top.append(elapsed_top)
                me.append(elapsed_me)
        assert "🏆" in console.bot_messages(g)[-2].text, console.bot_messages(g)[-2].text
    print(summary("/top end to end (console)", top))
    print(summary("/me end to end (console)", me))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--members", type=int, default=1000, help="members per group")
    parser.add_argument("--rows", type=int, default=10_000_000, help="ledger rows in all")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the database file")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"points_leaderboard_{args.groups}x{args.members}_{args.rows}.db"
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"building {path} ({args.groups:,} groups × {args.members:,} members, {args.rows:,} ledger rows)")
        asyncio.run(create_schema(path))
        fill(path, args.groups, args.members, args.rows)
    size = path.stat().st_size / 1e9
    print(f"database {path} ({size:.2f} GB)")
    asyncio.run(time_queries(path, args.groups, args.members, args.samples))
    asyncio.run(time_commands(path, args.groups, args.members, args.samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
