"""A big history for the per-message-cost bench: a points ledger of N rows (default 10 million) and one
Telegram group of 100,000 members, bulk-loaded into an already migrated database (SQLite: sqlite3
executemany; PostgreSQL: COPY), so per-message cost can be compared between that group and a small one.

Layout: 1,000 background groups of 100 members hold half the ledger; the big Telegram group
(BIG_CHAT_ID, members with user ids BIG_USER_BASE + k, named big{k}) holds the other half, a fifth of
it on its first `posters` members, the ones the bench then has post (a long personal history each).
The ledger's secondary indexes are dropped during the load and rebuilt after. SQLite gets no ANALYZE,
as in production; PostgreSQL gets VACUUM (ANALYZE), as its autovacuum would do soon after such a load.
Built the way bench/points_leaderboard.py builds its ledger, whose builder is not reused: it is SQLite
only, names its groups for the console platform and runs ANALYZE.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

BIG_CHAT_ID = -1009000000001
BIG_USER_BASE = 900_000_000
BACKGROUND_GROUPS = 1000
BACKGROUND_MEMBERS = 100
BATCH = 100_000
SOURCES = ["checkin", "activity", "activity", "activity", "admin", "shop"]
HISTORY = timedelta(days=90)

CHAT_COLUMNS = ("id", "platform", "external_id", "title", "created_at")
MEMBER_COLUMNS = ("id", "chat_id", "user_id", "display_name", "username", "role", "status", "joined_at", "last_seen_at")
LEDGER_COLUMNS = ("chat_id", "member_id", "amount", "reason", "source", "key", "at")


def progress(text: str) -> None:
    print(f"  [seed] {text}", file=sys.stderr, flush=True)


class Layout:
    """The rows to load; `stamp` turns a datetime into what the driver takes for a timestamp column."""

    def __init__(self, rows: int, big_members: int, posters: int, now: datetime, stamp: Callable[[datetime], object]):
        self.rows, self.big_members, self.posters = rows, big_members, posters
        self.big_chat = BACKGROUND_GROUPS + 1
        self.first_big_member = BACKGROUND_GROUPS * BACKGROUND_MEMBERS + 1
        rng = random.Random(19)
        # A pool of timestamps instead of one per row: formatting 10M datetimes would dominate the load.
        self.stamps = [stamp(now - HISTORY + timedelta(seconds=rng.randrange(int(HISTORY.total_seconds()))))
                       for _ in range(50_000)]
        self.created = stamp(now - HISTORY)

    def chats(self) -> list[tuple]:
        rows = [(g, "console", f"bg{g}", f"Background {g}", self.created) for g in range(1, BACKGROUND_GROUPS + 1)]
        rows.append((self.big_chat, "telegram", str(BIG_CHAT_ID), "Big group", self.created))
        return rows

    def members(self) -> Iterator[tuple]:
        for g in range(1, BACKGROUND_GROUPS + 1):
            for m in range(BACKGROUND_MEMBERS):
                yield ((g - 1) * BACKGROUND_MEMBERS + m + 1, g, f"u{m}", f"user{m}", f"user{m}", "member", "active",
                       self.created, self.created)
        for k in range(self.big_members):
            yield (self.first_big_member + k, self.big_chat, str(BIG_USER_BASE + k), f"big{k}", f"big{k}",
                   "member", "active", self.created, self.created)

    def ledger(self) -> Iterator[list[tuple]]:
        rng = random.Random(7)
        stamps, n_stamps = self.stamps, len(self.stamps)
        big_rows = self.rows // 2
        poster_rows = big_rows // 5 if self.posters else 0
        batch: list[tuple] = []
        for n in range(self.rows):
            if n < poster_rows:
                chat, member = self.big_chat, self.first_big_member + n % self.posters
            elif n < big_rows:
                chat, member = self.big_chat, self.first_big_member + rng.randrange(self.big_members)
            else:
                chat = rng.randrange(BACKGROUND_GROUPS) + 1
                member = (chat - 1) * BACKGROUND_MEMBERS + rng.randrange(BACKGROUND_MEMBERS) + 1
            source = SOURCES[rng.randrange(len(SOURCES))]
            amount = -rng.randint(20, 80) if source == "shop" else rng.randint(1, 20)
            batch.append((chat, member, amount, source, source, f"seed{n}", stamps[rng.randrange(n_stamps)]))
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def seed_sqlite(path: str, layout: Layout) -> None:
    import sqlite3

    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")  # a throw-away file: no rollback journal during the load
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='points_ledger'"
                         " AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    db.execute("BEGIN")
    db.executemany(_insert_sql("chats", CHAT_COLUMNS), layout.chats())
    db.executemany(_insert_sql("members", MEMBER_COLUMNS), layout.members())
    db.execute("COMMIT")
    done = 0
    for batch in layout.ledger():
        db.execute("BEGIN")
        db.executemany(_insert_sql("points_ledger", LEDGER_COLUMNS), batch)
        db.execute("COMMIT")
        done += len(batch)
        _report(done, layout.rows, started)
    rebuilt = time.perf_counter()
    for _, sql in indexes:
        db.execute(sql)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    progress(f"ledger indexes rebuilt in {time.perf_counter() - rebuilt:.0f} s")


def _report(done: int, total: int, started: float) -> None:
    if done % 1_000_000 < BATCH or done == total:
        progress(f"{done:,} / {total:,} ledger rows ({done / (time.perf_counter() - started):,.0f} rows/s)")


async def seed_postgresql(url: str, layout: Layout) -> None:
    import asyncpg

    started = time.perf_counter()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        # Superuser only (the bench's own throw-away database): no foreign-key triggers during the load.
        await conn.execute("SET session_replication_role = replica")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'points_ledger'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)")
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.copy_records_to_table("chats", records=layout.chats(), columns=CHAT_COLUMNS)
        await conn.copy_records_to_table("members", records=list(layout.members()), columns=MEMBER_COLUMNS)
        for table in ("chats", "members"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        done = 0
        for batch in layout.ledger():
            await conn.copy_records_to_table("points_ledger", records=batch, columns=LEDGER_COLUMNS)
            done += len(batch)
            _report(done, layout.rows, started)
        rebuilt = time.perf_counter()
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM (ANALYZE)")  # sets the visibility map too, so index-only scans stay index-only
        progress(f"ledger indexes rebuilt and VACUUM (ANALYZE) in {time.perf_counter() - rebuilt:.0f} s")
    finally:
        await conn.close()


def sqlite_stamp(at: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC), so comparisons with its parameters hold.
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def postgresql_stamp(at: datetime) -> datetime:
    return at
