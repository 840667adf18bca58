"""SQLite through SQLAlchemy's asyncio engine: the inline driver (storage/sqlite_inline.py, sqlite3
on the event loop's thread) against aiosqlite (a thread hop per call), and raw sqlite3 as the floor.

    .venv/bin/python bench/sqlite_driver.py [--seconds 3] [--members 10000] [--messages 300]

On a fresh migrated file with MEMBERS members in one group, for each driver, for SECONDS each:
statements/s of a SELECT by primary key (one connection, one transaction), and transactions/s of
an ordinary write transaction — BEGIN IMMEDIATE; SELECT the member by primary key; INSERT a
de-duplication key; UPDATE the member's last_seen_at; COMMIT — through an AsyncSession, as the
dispatcher does; then ordinary group messages/s through a real App (console platform, every
feature router; MESSAGES messages from 50 members, a second apart on the App's clock). Prints one
line per figure with the drivers side by side and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update  # noqa: E402

from storage.db import create_engine, session_factory, upgrade  # noqa: E402
from storage.models import Chat, Member, SeenEvent  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


async def seed(url: str, members: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    async with session_factory(engine)() as session, session.begin():
        await session.execute(insert(Chat), [{"id": 1, "platform": "telegram", "external_id": "-1", "created_at": NOW}])
        rows = [
            {"id": i, "chat_id": 1, "user_id": str(i), "display_name": f"m{i}", "role": "member", "status": "active", "joined_at": NOW}
            for i in range(1, members + 1)
        ]
        for i in range(0, len(rows), 5000):
            await session.execute(insert(Member), rows[i : i + 5000])
    await engine.dispose()


def rate(count: int, started: float) -> float:
    return count / (time.perf_counter() - started)


async def measure(url: str, driver: str, seconds: float, members: int) -> tuple[float, float]:
    engine = create_engine(url, sqlite_driver=driver)
    sessions = session_factory(engine)
    by_pk = select(Member.id, Member.display_name, Member.last_seen_at).where(Member.id == 1)
    async with engine.connect() as connection:
        await connection.execute(by_pk)  # connect, compile once
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for i in range(100):
                (await connection.execute(by_pk.where(Member.id == 1 + (n + i) % members))).first()
            n += 100
        statements = rate(n, started)
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        async with sessions() as session, session.begin():
            member_id = 1 + n % members
            (await session.execute(by_pk.where(Member.id == member_id))).first()
            await session.execute(insert(SeenEvent).values(key=f"{driver}:{n}", at=NOW))
            await session.execute(update(Member).where(Member.id == member_id).values(last_seen_at=NOW))
        n += 1
    transactions = rate(n, started)
    await engine.dispose()
    return statements, transactions


def measure_raw(path: Path, seconds: float, members: int) -> tuple[float, float]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    sql = "SELECT id, display_name, last_seen_at FROM members WHERE id = ?"
    db.execute("BEGIN")
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for i in range(100):
            db.execute(sql, (1 + (n + i) % members,)).fetchone()
        n += 100
    statements = rate(n, started)
    db.execute("COMMIT")
    n, started = 0, time.perf_counter()
    stamp = NOW.isoformat(sep=" ")
    while time.perf_counter() - started < seconds:
        member_id = 1 + n % members
        db.execute("BEGIN IMMEDIATE")
        db.execute(sql, (member_id,)).fetchone()
        db.execute("INSERT INTO seen_events (key, at) VALUES (?, ?)", (f"raw:{n}", stamp))
        db.execute("UPDATE members SET last_seen_at = ? WHERE id = ?", (stamp, member_id))
        db.execute("COMMIT")
        n += 1
    transactions = rate(n, started)
    db.close()
    return statements, transactions


async def through_the_app(tmp: str, driver: str, messages: int) -> float:

    from bot.app import App
    from bot.clock import FakeClock
    from bot.config import parse_config
    from bot.platforms.console import ConsolePlatform

    config = parse_config({"bot": {"data_dir": tmp}, "database": {"url": f"sqlite+aiosqlite:///{tmp}/app-{driver}.db", "sqlite_driver": driver}}, env={})
    clock = FakeClock(datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc))
    app = App(config, clock=clock, run_scheduler=False)
    console = ConsolePlatform(app, out=None)
    app.platforms["console"] = console
    await app.start()
    try:
        for i in range(50):  # every member known before the timing: an established member's message
            await console.say(f"member{i}", "hello")
            clock.advance(seconds=1)
        started = time.perf_counter()
        for i in range(messages):
            await console.say(f"member{i % 50}", f"an ordinary message number {i}")
            clock.advance(seconds=1)
        return rate(messages, started)
    finally:
        await app.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qunzhu-bench-") as tmp:
        path = Path(tmp) / "driver.db"
        url = f"sqlite+aiosqlite:///{path}"
        await seed(url, args.members)
        aio = await measure(url, "aiosqlite", args.seconds, args.members)
        inline = await measure(url, "inline", args.seconds, args.members)
        raw = measure_raw(path, args.seconds, args.members)
        app = [await through_the_app(tmp, driver, args.messages) for driver in ("aiosqlite", "inline")]
    for i, what in enumerate(("SELECT by primary key, statements/s", "write transactions/s (BEGIN IMMEDIATE; SELECT; INSERT; UPDATE; COMMIT)")):
        print(f"{what}: aiosqlite {aio[i]:,.0f}, inline {inline[i]:,.0f} ({inline[i] / aio[i]:.1f}x), raw sqlite3 {raw[i]:,.0f}")
    print(f"ordinary messages/s through the App (console, every router): aiosqlite {app[0]:,.0f}, inline {app[1]:,.0f} ({app[1] / app[0]:.1f}x)")


if __name__ == "__main__":
    asyncio.run(main())
