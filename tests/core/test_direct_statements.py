"""The per-message statements that skip SQLAlchemy's execution (storage/direct.py), on a real SQLite
file and a real PostgreSQL: the same values stored and read back as through the session, inside the
session's transaction (a rollback undoes them), errors as SQLAlchemy's own, visible to the engine's
statement listeners; and the points ledger and totals that PostgreSQL writes in one statement."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.exc import IntegrityError

from storage import core_repo, direct, intake_repo, points_repo
from storage.db import create_engine, session_factory, upgrade
from storage.models import InboxEntry
from storage.points_models import LedgerEntry, MemberTotals
from bot.events import ChatRef, UserRef

NOW = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
JOINS = ((MemberTotals, points_repo.member_join),)


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    await upgrade(engine)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _member(sessions) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        chat = await core_repo.ensure_chat(session, ChatRef("telegram", "-100", "Group"), NOW)
        await core_repo.add_member(session, chat.id, UserRef("telegram", "7", name="Mei"), NOW)
        member, _, _ = await core_repo.load_member(session, chat.id, "7", JOINS)
        return chat.id, member.id


async def _totals(sessions, member_id: int) -> tuple | None:
    async with sessions() as session:
        row = (await session.execute(select(MemberTotals.balance, MemberTotals.earned, MemberTotals.activity_today)
                                     .where(MemberTotals.member_id == member_id))).first()
        return tuple(row) if row else None


async def _ledger(sessions) -> list[tuple]:
    async with sessions() as session:
        return [tuple(r) for r in await session.execute(select(LedgerEntry.key, LedgerEntry.amount).order_by(LedgerEntry.id))]


async def _award(sessions, chat_id: int, member_id: int, key: str, amount: int = 2, *, read_member: bool = True) -> bool:
    async with sessions() as session, session.begin():
        if read_member:  # as an event does: the totals come with the member
            await core_repo.load_member(session, chat_id, "7", JOINS)
        return await points_repo.add_entry(session, chat_id=chat_id, member_id=member_id, amount=amount, reason="chat",
                                           source="activity", key=key, at=NOW, day=date(2026, 3, 1))


async def test_updates_stored_in_one_go_come_back_with_their_ids_and_times(sessions):
    async with sessions() as session, session.begin():
        first = await intake_repo.store_updates(session, "telegram", [("1", '{"a":1}'), ("2", '{"b":"二"}')], NOW)
    async with sessions() as session, session.begin():
        again = await intake_repo.store_updates(session, "telegram", [("2", "x"), ("3", "{}"), ("3", "{}")], NOW)
    assert first[0] and first[1] and first[0] != first[1]
    assert again[0] is None and again[1] and again[2] is None  # received before; the same key twice in one answer
    async with sessions() as session:
        rows = {r.key: r for r in await session.scalars(select(InboxEntry))}
    assert set(rows) == {"1", "2", "3"} and rows["2"].payload == '{"b":"二"}'
    assert rows["1"].received_at == NOW and rows["1"].attempts == 0


async def test_a_direct_statement_is_undone_with_its_transaction_and_seen_by_listeners(sessions):
    async with sessions() as session, session.begin():
        (entry_id,) = await intake_repo.store_updates(session, "telegram", [("9", "{}")], NOW)
    seen = []
    engine = sessions.kw["bind"]
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with sessions() as session:
            await session.begin()
            await intake_repo.mark_done(session, entry_id, NOW)  # the transaction's first statement
            await session.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    assert any(sql.lstrip().upper().startswith("UPDATE INBOX") for sql in seen)
    async with sessions() as session:
        assert (await session.get(InboxEntry, entry_id)).done_at is None  # rolled back, not autocommitted


async def test_a_driver_error_arrives_as_sqlalchemys_and_the_session_rolls_back(sessions):
    chat_id, member_id = await _member(sessions)
    async with sessions() as session:
        await session.begin()
        with pytest.raises(IntegrityError):  # no such member: the foreign key refuses it
            await points_repo.add_entry(session, chat_id=chat_id, member_id=member_id + 999, amount=1, reason="x",
                                        source="admin", key="k", at=NOW)
        await session.rollback()
    assert await _ledger(sessions) == []
    assert await _award(sessions, chat_id, member_id, "after") is True  # the pool is fine afterwards


@pytest.mark.parametrize("read_member", [True, False], ids=["totals read with the member", "totals not read"])
async def test_a_ledger_key_counts_once_and_the_totals_follow_the_ledger(sessions, read_member):
    chat_id, member_id = await _member(sessions)
    assert await _award(sessions, chat_id, member_id, "m1", read_member=read_member) is True
    assert await _award(sessions, chat_id, member_id, "m1", read_member=read_member) is False
    assert await _award(sessions, chat_id, member_id, "m2", 3, read_member=read_member) is True
    assert await _ledger(sessions) == [("m1", 2), ("m2", 3)]
    assert await _totals(sessions, member_id) == (5, 5, 5)


async def test_totals_that_went_after_they_were_read_are_made_again(sessions):
    chat_id, member_id = await _member(sessions)
    assert await _award(sessions, chat_id, member_id, "m1") is True
    async with sessions() as session, session.begin():
        await core_repo.load_member(session, chat_id, "7", JOINS)  # totals read …
        # … then gone (a Core DELETE: the session still holds the row it read)
        await session.execute(delete(MemberTotals.__table__).where(MemberTotals.__table__.c.member_id == member_id))
        assert await points_repo.add_entry(session, chat_id=chat_id, member_id=member_id, amount=4, reason="x",
                                           source="admin", key="m2", at=NOW) is True
    assert await _totals(sessions, member_id) == (4, 4, 0)
    assert await _ledger(sessions) == [("m1", 2), ("m2", 4)]


async def test_the_direct_path_reads_what_the_session_reads(sessions):
    chat_id, member_id = await _member(sessions)
    await _award(sessions, chat_id, member_id, "m1")
    async with sessions() as session, session.begin():
        member, _version, rows = await core_repo.load_member(session, chat_id, "7", JOINS)
        assert member.joined_at == NOW and member.display_name == "Mei"
        assert rows[MemberTotals].activity_day == date(2026, 3, 1) and rows[MemberTotals].balance == 2
        member.display_name = "Mei Lin"  # written through like a loaded row
    async with sessions() as session:
        assert (await session.scalars(select(core_repo.Member.display_name))).one() == "Mei Lin"
    stmt = select(LedgerEntry.at, LedgerEntry.key)
    async with sessions() as session, session.begin():
        assert (await direct.execute(session, stmt, {})).rows == [tuple(r) for r in await session.execute(stmt)]


async def test_a_postgresql_connection_closed_while_idle_is_replaced_before_use(pg_url, monkeypatch):
    """The server restarted, or idle_session_timeout / a firewall closed a pooled connection: the next
    transaction pings it (it sat idle longer than PING_AFTER_IDLE_SECONDS), finds it gone and takes a
    new one, instead of failing the event that happened to get it."""
    from sqlalchemy import text

    from storage import db

    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = create_engine(pg_url, pool_size=1)
    killer = create_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        async with killer.connect() as connection:
            assert (await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar()
        async with session_factory(engine)() as session:
            new_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert new_pid != pid
    finally:
        await engine.dispose()
        await killer.dispose()


async def test_the_aiosqlite_driver_takes_the_sessions_path_with_the_same_results(sqlite_url):
    """`[database] sqlite_driver = "aiosqlite"`: no direct path (its calls go to a thread); the same
    statements through session.execute give the same rows and counts."""
    engine = create_engine(sqlite_url, sqlite_driver="aiosqlite")
    await upgrade(engine)
    sessions = session_factory(engine)
    try:
        chat_id, member_id = await _member(sessions)
        assert await _award(sessions, chat_id, member_id, "m1") is True
        assert await _award(sessions, chat_id, member_id, "m1") is False
        assert await _totals(sessions, member_id) == (2, 2, 2)
        async with sessions() as session, session.begin():
            ids = await intake_repo.store_updates(session, "telegram", [("1", "{}"), ("1", "{}")], NOW)
        assert ids[0] and ids[1] is None
    finally:
        await engine.dispose()


async def test_the_inbox_mark_rides_with_the_member_read_and_is_undone_with_it(sessions, db_url):
    """An event marks its update done with the member read (on PostgreSQL in the same statement): the
    mark commits with the event's writes or not at all, also when the member is not stored yet."""
    chat_id, _ = await _member(sessions)
    async with sessions() as session, session.begin():
        first, second = await intake_repo.store_updates(session, "telegram", [("1", "{}"), ("2", "{}")], NOW)
    engine = sessions.kw["bind"]
    statements: list[str] = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        session = sessions()
        async with session:
            await session.begin()
            member, _, _ = await core_repo.load_member(session, chat_id, "7", JOINS, inbox_done=(first, NOW))
            assert member.display_name == "Mei"
            await session.rollback()  # the event failed: its update stays to be handled
        assert len([s for s in statements if not s.lstrip().upper().startswith("BEGIN")]) == (1 if "postgresql" in db_url else 2)
        async with sessions() as session:
            assert [e.key for e in await intake_repo.pending_updates(session, "telegram")] == ["1", "2"]
        async with sessions() as session, session.begin():
            assert await core_repo.load_member(session, chat_id, "7", JOINS, inbox_done=(first, NOW)) is not None
            assert await core_repo.load_member(session, chat_id, "8", JOINS, inbox_done=(second, NOW)) is None
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    async with sessions() as session:
        assert await intake_repo.pending_updates(session, "telegram") == []
        done = (await session.execute(select(InboxEntry.key, InboxEntry.done_at).order_by(InboxEntry.key))).all()
        assert [(key, at.replace(tzinfo=UTC) if at.tzinfo is None else at) for key, at in done] == [("1", NOW), ("2", NOW)]
