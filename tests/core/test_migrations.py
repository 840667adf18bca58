from sqlalchemy import inspect

from alembic.script import ScriptDirectory
from storage.db import alembic_config, create_engine, current_heads, upgrade


async def test_migrations_create_the_schema_from_empty(db_url):
    engine = create_engine(db_url)
    try:
        assert await current_heads(engine) == set()
        await upgrade(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"chats", "members", "member_tags", "audit_log", "chat_settings", "seen_events"} <= tables
        expected = set(ScriptDirectory.from_config(alembic_config()).get_heads())
        assert await current_heads(engine) == expected
        await upgrade(engine)  # a second run is a no-op, not an error
        assert await current_heads(engine) == expected
    finally:
        await engine.dispose()


async def test_models_match_the_migrations(db_url):
    """A model changed without a migration would make the bot fail at run time; catch it here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import storage.all_models  # noqa: F401
    from storage.models import Base

    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata)
            )
        assert diff == []
    finally:
        await engine.dispose()


def test_the_heads_read_from_the_scripts_are_alembics():
    """`upgrade` decides "nothing to do" from the scripts' own assignments; a merge or a new branch
    read wrongly there would leave a database un-migrated."""
    from storage.db import script_heads

    assert script_heads() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


RESTART = """
import asyncio, sys
from storage.db import create_engine, upgrade

async def main():
    engine = create_engine(sys.argv[1])
    await upgrade(engine)
    await engine.dispose()

asyncio.run(main())
print("alembic loaded" if "alembic" in sys.modules else "alembic not loaded")
"""


async def test_a_restart_at_heads_does_not_load_the_migration_code(db_url):
    """A bot restarted on a migrated database keeps alembic (~8 MB) out of its memory; a database
    behind the scripts is still upgraded."""
    import subprocess
    import sys
    from pathlib import Path

    def start() -> str:
        root = Path(__file__).resolve().parents[2]
        run = subprocess.run([sys.executable, "-c", RESTART, db_url], capture_output=True, text=True, cwd=root, timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    engine = create_engine(db_url)
    try:
        await upgrade(engine, "0002_core_intake")  # a database from an older release
        assert start() == "alembic loaded"  # the start after an upgrade migrates
        assert await current_heads(engine) == set(ScriptDirectory.from_config(alembic_config()).get_heads())
        assert start() == "alembic not loaded"
    finally:
        await engine.dispose()
