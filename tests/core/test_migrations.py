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
