"""SQLite planner statistics on a big file: what storage.db.analyze (run at start and hourly) costs
and how long it holds the write lock, against a plain unbounded ANALYZE.

    .venv/bin/python bench/sqlite_analyze.py [--members 1000000] [--activity 2000000] [--file PATH]

Seeds a fresh file (migrated schema) with MEMBERS members over 1,000 groups and ACTIVITY
daily_member_activity rows (raw sqlite3 bulk inserts; kept and reused with --file), then prints:
analyze() on the file with no statistics (what the first start after this change does), analyze()
again (the hourly run: PRAGMA optimize only), and a plain `ANALYZE` with no analysis_limit — each
with its number of write transactions, the longest and the total.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.write_lock import WriteTransactions  # noqa: E402
from storage.db import analyze, create_engine, upgrade  # noqa: E402


def seed(path: Path, members: int, activity: int) -> None:
    rng = random.Random(3)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO chats (id, platform, external_id, title, created_at) VALUES (?, 'telegram', ?, 'g', '2026-01-01 00:00:00.000000')",
        [(g, str(-1000 - g)) for g in range(1, 1001)],
    )
    db.executemany(
        "INSERT INTO members (id, chat_id, user_id, display_name, username, role, status, joined_at, last_seen_at) "
        "VALUES (?, ?, ?, ?, ?, 'member', 'active', '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')",
        ((i, i % 1000 + 1, str(i), f"member {i}", f"User{i}") for i in range(1, members + 1)),
    )
    db.executemany(
        "INSERT OR IGNORE INTO daily_member_activity (chat_id, day, member_id, messages) VALUES (?, ?, ?, ?)",
        (
            (m % 1000 + 1, f"2026-{1 + d // 28:02d}-{1 + d % 28:02d}", m, rng.randint(1, 9))
            for d, m in ((i // 20_000, rng.randint(1, members)) for i in range(activity))
        ),
    )
    db.execute("COMMIT")
    db.close()


async def run(url: str, label: str, job) -> None:
    engine = create_engine(url)
    lock = WriteTransactions(engine)
    started = time.perf_counter()
    result = await job(engine)
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed * 1000:.0f} ms; {lock.summary()}{result or ''}")
    await engine.dispose()


async def plain_analyze(engine) -> None:
    async with engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA analysis_limit=0")
        await connection.commit()
        async with connection.begin():
            await connection.exec_driver_sql("ANALYZE")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--activity", type=int, default=2_000_000)
    parser.add_argument("--file", help="SQLite file to build once and reuse (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qunzhu-bench-") as tmp:
        path = Path(args.file or f"{tmp}/analyze.db")
        url = f"sqlite+aiosqlite:///{path}"
        if not path.exists():
            engine = create_engine(url)
            await upgrade(engine)
            await engine.dispose()
            started = time.perf_counter()
            seed(path, args.members, args.activity)
            print(f"seeded {args.members:,} members and {args.activity:,} activity rows in {time.perf_counter() - started:.0f} s")
        db = sqlite3.connect(path)
        db.execute("DROP TABLE IF EXISTS sqlite_stat1")  # start from a file that was never analyzed
        rows = db.execute("SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM daily_member_activity)").fetchone()
        db.close()
        print(f"file {path.stat().st_size / 1e6:.0f} MB: {rows[0]:,} members, {rows[1]:,} activity rows")

        async def analyzed(engine):
            return f"; analyzed from scratch: {len(await analyze(engine))} tables"

        await run(url, "analyze(), no statistics yet (first start)", analyzed)
        await run(url, "analyze() again (hourly: PRAGMA optimize)", analyzed)
        await run(url, "plain ANALYZE, no analysis_limit", lambda engine: plain_analyze(engine))


if __name__ == "__main__":
    asyncio.run(main())
