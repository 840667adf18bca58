"""/stats over 90 days for a group with 100,000 members, answered from the daily aggregates.

    .venv/bin/python bench/stats_90d.py [--members 100000] [--active 2000] [--audit 100000] [--db URL]

Seeds (bulk inserts) a fresh database: 100,000 members who joined over the last 180 days (12 %
have left), ABCD tags on 60 % of them, 90 days of daily counters, and ~ACTIVE members posting per
day in daily_member_activity (a few heavy posters, many occasional ones). Then times the /stats
computation (storage.stats_repo.summary: every figure, top contributors, tags, 4 weekly retention
cohorts) for 7, 30 and 90 days, 6 runs each: the first of the day (which computes the snapshot of
the closed days: per-member totals and cohorts) and the median and worst of the 5 after it (closed
days from the snapshot, today live). Goal: 90 days under 200 ms. Then, the next day, the
scheduler's two stats jobs through a real App: the snapshot warm-up (handlers.stats.router.
warm_snapshots) and the evidence purge (purge_evidence, over AUDIT audit entries with evidence, two
thirds past the 30-day retention), each with its write transactions: count, longest, total (the
longest is how long every other writer, i.e. every incoming message, waits). Default database: a
SQLite file in a temporary folder; --db takes a PostgreSQL URL (postgresql+asyncpg://…) of an empty
database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from bench.write_lock import WriteTransactions  # noqa: E402
from storage import stats_repo  # noqa: E402
from storage.db import analyze, create_engine, session_factory, upgrade  # noqa: E402
from storage.models import AuditEntry, Chat, DailyCounter, DailyMemberActivity, Member, MemberTag  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 6, 30)


async def seed(sessions, members: int, active: int, audit: int) -> int:
    rng = random.Random(7)
    now = datetime(2026, 6, 30, 4, 0, tzinfo=timezone.utc)
    async with sessions() as session, session.begin():
        chat = Chat(platform="telegram", external_id="-100123", title="Big group", created_at=now - timedelta(days=400))
        session.add(chat)
        await session.flush()
        chat_id = chat.id
    rows = []
    for i in range(members):
        joined = now - timedelta(days=rng.uniform(0, 180))
        left = joined + timedelta(days=rng.uniform(0, 30)) if rng.random() < 0.12 else None
        if left and left > now:
            left = None
        rows.append(
            {
                "id": i + 1, "chat_id": chat_id, "user_id": str(10_000_000 + i), "display_name": f"member {i}",
                "username": None, "role": "member", "status": "left" if left else "active",
                "joined_at": joined, "left_at": left, "last_seen_at": left or joined,
            }
        )
    async with sessions() as session, session.begin():
        for i in range(0, len(rows), 5000):
            await session.execute(insert(Member), rows[i : i + 5000])
    tags = [
        {"member_id": r["id"], "tag": rng.choice("ABCD"), "source": "onboarding", "created_at": now}
        for r in rows
        if rng.random() < 0.6
    ]
    async with sessions() as session, session.begin():
        for i in range(0, len(tags), 5000):
            await session.execute(insert(MemberTag), tags[i : i + 5000])
    # 90 days of activity: heavy posters (the first 200 members) and a rotating crowd.
    counters, activity = [], []
    for d in range(90):
        day = TODAY - timedelta(days=d)
        posters = set(rng.sample(range(1, 201), 100)) | set(rng.sample(range(201, members + 1), active - 100))
        total = 0
        for member_id in posters:
            n = rng.randint(5, 40) if member_id <= 200 else rng.randint(1, 4)
            total += n
            activity.append({"chat_id": chat_id, "day": day, "member_id": member_id, "messages": n})
        for metric, key, value in (
            ("messages", "", total), ("active", "", len(posters)), ("joins", "", rng.randint(300, 800)),
            ("leaves", "", rng.randint(30, 100)), ("checkins", "", rng.randint(500, 900)),
            ("violations", "ads", rng.randint(0, 30)), ("violations", "links", rng.randint(0, 20)),
            ("violations", "contact", rng.randint(0, 10)), ("violations", "flood", rng.randint(0, 5)),
        ):
            counters.append({"chat_id": chat_id, "day": day, "metric": metric, "key": key, "value": value})
    async with sessions() as session, session.begin():
        await session.execute(insert(DailyCounter), counters)
        for i in range(0, len(activity), 10000):
            await session.execute(insert(DailyMemberActivity), activity[i : i + 10000])
    entries = [
        {
            "chat_id": chat_id, "at": now - timedelta(days=90 * i / audit), "actor": "bot", "action": "delete",
            "target_user_id": str(10_000_000 + rng.randrange(members)), "rule": "ads",
            "evidence": f"spam text number {i} " * 4, "details": {},
        }
        for i in range(audit)
    ]
    async with sessions() as session, session.begin():
        for i in range(0, len(entries), 5000):
            await session.execute(insert(AuditEntry), entries[i : i + 5000])
    print(f"seeded {members} members, {len(tags)} tags, {len(activity)} member-days of activity, {len(counters)} counters, {audit} audit entries")
    return chat_id


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=2_000, help="members posting per day")
    parser.add_argument("--audit", type=int, default=100_000, help="audit entries with evidence (90 days)")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qunzhu-bench-") as tmp:
        url = args.db or f"sqlite+aiosqlite:///{tmp}/bench.db"
        engine = create_engine(url)
        await upgrade(engine)
        sessions = session_factory(engine)
        started = time.perf_counter()
        chat_id = await seed(sessions, args.members, args.active, args.audit)
        print(f"seeding took {time.perf_counter() - started:.1f} s ({url.split('://')[0]})")
        if url.startswith("postgresql"):
            # What autovacuum does after a bulk load: statistics and the visibility map (index-only scans).
            from sqlalchemy import text

            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
        else:
            await analyze(engine)  # what the App does at start (SQLite's planner statistics)
        for days in (7, 30, 90):
            times = []
            for _ in range(6):
                async with sessions() as session, session.begin():
                    t0 = time.perf_counter()
                    summary = await stats_repo.summary(session, chat_id, tz=TZ, today=TODAY, days=days)
                    times.append((time.perf_counter() - t0) * 1000)
            cold, warm = times[0], times[1:]
            print(
                f"/stats {days}d: first of the day {cold:.0f} ms (makes the snapshot of closed days); "
                f"then median {statistics.median(warm):.0f} ms, worst {max(warm):.0f} ms "
                f"(members {summary.members_now}, messages {summary.totals['messages']}, "
                f"distinct active {summary.active_distinct}, cohorts {[c.size for c in summary.cohorts]})"
            )
        await engine.dispose()
        await scheduler_jobs(url)


async def scheduler_jobs(url: str) -> None:
    """The next day's warm-up and the evidence purge, through a real App, with their write transactions."""
    from bot.app import App
    from bot.clock import FakeClock
    from bot.config import Config
    from handlers.stats.router import purge_evidence, warm_snapshots

    app = App(Config(database={"url": url}), clock=FakeClock(datetime(2026, 7, 1, 4, 0, tzinfo=timezone.utc)),
              routers=[], run_scheduler=False)
    lock = WriteTransactions(app.engine)
    for name, job in (("warm-up", warm_snapshots), ("evidence purge", purge_evidence)):
        lock.reset()
        t0 = time.perf_counter()
        done = await job(app)
        print(f"{name}: {(time.perf_counter() - t0) * 1000:.0f} ms ({done} {'groups warmed' if job is warm_snapshots else 'entries blanked'}); "
              f"write transactions: {lock.summary()}")
    await app.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
