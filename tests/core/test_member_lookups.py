"""@handle lookups are case-insensitive and go through the (chat_id, lower(username)) index: in a
100,000-member group a scan costs tens of milliseconds per message that mentions someone."""

from datetime import datetime, timezone

from sqlalchemy import event

from bot.events import UserRef
from storage import core_repo, points_repo, rules_repo
from storage.db import create_engine, session_factory, upgrade
from storage.models import Chat

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


async def _seeded(url):
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        chat = Chat(platform="console", external_id="lobby", created_at=NOW)
        session.add(chat)
        await session.flush()
        for i, handle in enumerate(["Alice", "bob", None]):
            await core_repo.ensure_member(session, chat.id, UserRef("console", f"u{i}", name=f"member {i}", username=handle), NOW)
    return engine, sessions, chat.id


async def test_handles_are_found_whatever_their_case(db_url):
    engine, sessions, chat_id = await _seeded(db_url)
    try:
        async with sessions() as session:
            assert await rules_repo.known_usernames(session, chat_id, ["ALICE", "Bob", "carol"]) == {"alice", "bob"}
            assert (await rules_repo.find_member(session, chat_id, "@aLiCe")).user_id == "u0"
            assert (await points_repo.find_member(session, chat_id, "@BOB")).user_id == "u1"
            assert await points_repo.find_member(session, chat_id, "@carol") is None
    finally:
        await engine.dispose()


async def test_handle_lookups_use_the_username_index(sqlite_url):
    engine, sessions, chat_id = await _seeded(sqlite_url)
    statements = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _grab(_conn, _cursor, statement, parameters, _context, _many):
        if "lower(members.username)" in statement and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    try:
        async with sessions() as session:
            await rules_repo.known_usernames(session, chat_id, ["alice", "bob"])
            await rules_repo.find_member(session, chat_id, "@alice")
            await points_repo.find_member(session, chat_id, "@alice")
            assert len(statements) == 3
            connection = await session.connection()
            for statement, parameters in statements:
                plan = (await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
                assert any("ix_members_chat_username (chat_id=? AND <expr>=?)" in row[-1] for row in plan), (statement, plan)
    finally:
        await engine.dispose()
