"""storage.db.analyze gives SQLite's planner statistics: the tables that have rows and none yet."""

from datetime import datetime, timezone

from sqlalchemy import text

from storage.db import analyze, create_engine, upgrade


async def test_tables_get_statistics_once_they_have_rows(sqlite_url):
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
        assert "chats" in await analyze(engine)  # empty: looked at, no statistics to keep
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO chats (platform, external_id, created_at) VALUES ('console', 'lobby', :at)"),
                {"at": datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(sep=" ")},
            )
        assert "chats" in await analyze(engine)
        assert "chats" not in await analyze(engine)  # has statistics now: PRAGMA optimize's to refresh
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'chats'")) > 0
    finally:
        await engine.dispose()


async def test_postgresql_is_left_to_autovacuum(pg_url):
    engine = create_engine(pg_url)
    try:
        assert await analyze(engine) == []
    finally:
        await engine.dispose()
