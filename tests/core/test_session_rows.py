"""Rows the per-event path puts into a session without reading them (storage.db.as_stored) and finds
there by key (storage.db.in_session): on a real database, they must be the rows SQLAlchemy itself
would hand out, or an event would read stale values or write through the wrong object."""

from datetime import UTC, datetime

from sqlalchemy import event, select

from storage.db import as_stored, create_engine, in_session, session_factory, upgrade
from storage.models import Chat

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def test_a_row_put_in_the_session_is_the_one_the_session_hands_out(db_url):
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            session.add(Chat(platform="telegram", external_id="-100", title="Old", created_at=NOW))
        async with sessions() as session, session.begin():
            loaded = (await session.scalars(select(Chat))).one()
            assert in_session(session, Chat, (loaded.id,)) is loaded
            snapshot = {"id": loaded.id, "platform": "telegram", "external_id": "-100", "title": "Old",
                        "created_at": NOW, "previous_external_id": None}
        statements = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        async with sessions() as session, session.begin():
            row = as_stored(session, Chat, snapshot)
            assert await session.get(Chat, snapshot["id"]) is row and row.title == "Old"
            assert statements == []  # known: not read again
            row.title = "New"  # and written through like any loaded row
        async with sessions() as session:
            assert (await session.scalars(select(Chat.title))).one() == "New"
    finally:
        await engine.dispose()
