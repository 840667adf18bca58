"""@handle lookups in a 100,000-member group, with the (chat_id, lower(username)) index and without.

    .venv/bin/python bench/member_lookups.py [--members 100000] [--db URL]

Seeds one group of MEMBERS members with usernames (statistics gathered: ANALYZE / VACUUM ANALYZE),
then for rules_repo.known_usernames, rules_repo.find_member and points_repo.find_member prints the
median of 20 calls and the plan of the @handle query (EXPLAIN QUERY PLAN / EXPLAIN), first with
the index, then after dropping it. --db takes a PostgreSQL URL (postgresql+asyncpg://…) of an empty
database (the index is dropped there too).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, insert, text  # noqa: E402

from storage import points_repo, rules_repo  # noqa: E402
from storage.db import create_engine, session_factory, upgrade  # noqa: E402
from storage.models import Chat, Member  # noqa: E402

LOOKUPS = (
    ("rules_repo.known_usernames", lambda s, chat: rules_repo.known_usernames(s, chat, ["user5", "USER77777", "nobody"])),
    ("rules_repo.find_member", lambda s, chat: rules_repo.find_member(s, chat, "@user99999")),
    ("points_repo.find_member", lambda s, chat: points_repo.find_member(s, chat, "@User94242")),
)


async def seed(sessions, members: int) -> int:
    now = datetime.now(timezone.utc)
    async with sessions() as session, session.begin():
        chat = Chat(platform="telegram", external_id="-100", created_at=now)
        session.add(chat)
        await session.flush()
        rows = [
            {"chat_id": chat.id, "user_id": str(i), "display_name": f"member {i}", "username": f"User{i}",
             "role": "member", "status": "active", "joined_at": now, "last_seen_at": now}
            for i in range(members)
        ]
        for i in range(0, len(rows), 5000):
            await session.execute(insert(Member), rows[i : i + 5000])
        return chat.id


async def gather_statistics(engine) -> None:
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE members"))
        else:
            await connection.execute(text("ANALYZE"))
            await connection.commit()


async def main(url: str, members: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    chat_id = await seed(sessions, members)
    await gather_statistics(engine)
    handle_queries = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _grab(_conn, _cursor, statement, parameters, _context, _many):
        if "lower(members.username)" in statement and not statement.startswith("EXPLAIN"):
            handle_queries.append((statement, parameters))

    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    for label in ("with the index", "without it"):
        if label == "without it":
            async with engine.begin() as connection:
                await connection.execute(text("DROP INDEX ix_members_chat_username"))
            await gather_statistics(engine)
        for name, lookup in LOOKUPS:
            times = []
            for _ in range(20):
                async with sessions() as session:
                    started = time.perf_counter()
                    await lookup(session, chat_id)
                    times.append((time.perf_counter() - started) * 1000)
            handle_queries.clear()
            async with sessions() as session:
                await lookup(session, chat_id)
                statement, parameters = handle_queries[0]
                rows = (await (await session.connection()).exec_driver_sql(explain + statement, parameters)).all()
            plan = " | ".join(str(row[-1]).strip() for row in rows)
            print(f"{engine.dialect.name}, {label}: {name} median {statistics.median(times):.2f} ms; plan: {plan}")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", help="database URL of an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qunzhu-bench-") as tmp:
        asyncio.run(main(args.db or f"sqlite+aiosqlite:///{tmp}/lookups.db", args.members))
