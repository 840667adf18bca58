"""The points service on a real database (SQLite file and PostgreSQL): idempotency, races, atomic shop."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.events import ChatRef, UserRef
from handlers.points import service
from handlers.points.settings import PointsSettings
from storage import core_repo, points_repo
from storage.db import create_engine, session_factory, upgrade

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
async def db(db_url):
    engine = create_engine(db_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        chat = await core_repo.ensure_chat(session, ChatRef("console", "g1", "Group"), NOW)
        members = [await core_repo.ensure_member(session, chat.id, UserRef("console", f"u{i}", f"User {i}"), NOW) for i in range(60)]
    yield sessions, chat.id, [m.id for m in members]
    await engine.dispose()


async def test_award_is_idempotent_on_its_key_and_balance_is_the_sum(db):
    sessions, chat_id, members = db
    async with sessions() as session, session.begin():
        assert await service.award(session, chat_id=chat_id, member_id=members[0], amount=30, reason="good post", source="admin", key="a:1", now=NOW)
        assert not await service.award(session, chat_id=chat_id, member_id=members[0], amount=30, reason="good post", source="admin", key="a:1", now=NOW)
        assert await service.award(session, chat_id=chat_id, member_id=members[0], amount=-12, reason="penalty", source="rules", key="r:1", now=NOW)
    async with sessions() as session:
        assert await service.balance(session, chat_id=chat_id, member_id=members[0]) == 18
        assert await service.balance(session, chat_id=chat_id, member_id=members[1]) == 0


async def test_level_follows_thresholds_and_spending_does_not_lower_it(db):
    sessions, chat_id, members = db
    settings = PointsSettings()
    m = members[0]
    async with sessions() as session, session.begin():
        assert await service.level_of(session, chat_id=chat_id, member_id=m, settings=settings) == 1
        await service.award(session, chat_id=chat_id, member_id=m, amount=210, reason="x", source="admin", key="a", now=NOW)
        assert await service.level_of(session, chat_id=chat_id, member_id=m, settings=settings) == 3
        assert await service.has_right(session, chat_id=chat_id, member_id=m, settings=settings, right="links_allowed_from_level")
        await points_repo.put_item(session, chat_id, "Mug", 200, 1, NOW)
        result = await service.redeem(session, chat_id=chat_id, member_id=m, item_ref="mug", now=NOW)
        assert result.status == "ok" and result.balance == 10
        assert await service.level_of(session, chat_id=chat_id, member_id=m, settings=settings) == 3
        balance_based = PointsSettings(level_basis="balance")
        assert await service.level_of(session, chat_id=chat_id, member_id=m, settings=balance_based) == 1
        assert not await service.has_right(session, chat_id=chat_id, member_id=members[1], settings=settings, right="links_allowed_from_level")


async def test_100_concurrent_checkins_of_one_member_award_once(db):
    sessions, chat_id, members = db
    settings = PointsSettings()
    day = date(2026, 3, 2)

    async def one():
        async with sessions() as session, session.begin():
            return await service.checkin(session, chat_id=chat_id, member_id=members[0], day=day, now=NOW, settings=settings)

    results = await asyncio.gather(*(one() for _ in range(100)))
    assert sum(r.new for r in results) == 1
    async with sessions() as session:
        assert await service.balance(session, chat_id=chat_id, member_id=members[0]) == settings.checkin_points
        rows = await points_repo.history(session, chat_id, members[0], limit=50)
        assert len(rows) == 1 and rows[0].source == "checkin"


async def test_streak_grows_on_consecutive_days_and_resets_after_a_gap(db):
    sessions, chat_id, members = db
    settings = PointsSettings()
    day = date(2026, 3, 2)
    streaks = []
    for offset in (0, 1, 2, 4):
        async with sessions() as session, session.begin():
            r = await service.checkin(session, chat_id=chat_id, member_id=members[0], day=day + timedelta(days=offset),
                                      now=NOW + timedelta(days=offset), settings=settings)
            streaks.append((r.streak, r.points))
    assert streaks == [(1, 10), (2, 10), (3, 15), (1, 10)]


async def test_50_concurrent_redemptions_of_stock_10_make_exactly_10_orders(db):
    sessions, chat_id, members = db
    async with sessions() as session, session.begin():
        item = await points_repo.put_item(session, chat_id, "Sticker", 30, 10, NOW)
        for i, m in enumerate(members[:50]):
            await service.award(session, chat_id=chat_id, member_id=m, amount=40, reason="seed", source="admin", key=f"seed:{i}", now=NOW)

    async def one(m):
        async with sessions() as session, session.begin():
            return await service.redeem(session, chat_id=chat_id, member_id=m, item_ref=str(item.id), now=NOW)

    results = await asyncio.gather(*(one(m) for m in members[:50]))
    assert sum(r.status == "ok" for r in results) == 10
    assert {r.status for r in results} == {"ok", "out_of_stock"}
    async with sessions() as session:
        assert await points_repo.count_orders(session, chat_id, item_id=item.id) == 10
        assert await points_repo.stock_of(session, item.id) == 0
        balances = [await service.balance(session, chat_id=chat_id, member_id=m) for m in members[:50]]
        assert min(balances) >= 0 and sorted(balances).count(10) == 10


async def test_concurrent_redemptions_by_one_member_never_overspend(db):
    sessions, chat_id, members = db
    m = members[0]
    async with sessions() as session, session.begin():
        item = await points_repo.put_item(session, chat_id, "Badge", 30, 50, NOW)
        await service.award(session, chat_id=chat_id, member_id=m, amount=100, reason="seed", source="admin", key="seed", now=NOW)

    async def one():
        async with sessions() as session, session.begin():
            return await service.redeem(session, chat_id=chat_id, member_id=m, item_ref="Badge", now=NOW)

    results = await asyncio.gather(*(one() for _ in range(20)))
    assert sum(r.status == "ok" for r in results) == 3
    async with sessions() as session:
        assert await service.balance(session, chat_id=chat_id, member_id=m) == 10
        assert await points_repo.stock_of(session, item.id) == 47


def test_pick_winners_is_deterministic_and_ignores_entry_order():
    users = [f"user{i}" for i in range(30)]
    first = service.pick_winners("abc", users, 3)
    assert first == service.pick_winners("abc", list(reversed(users)) + ["user1"], 3)
    assert len(set(first)) == 3
    assert service.pick_winners("abd", users, 3) != first
    assert service.pick_winners("abc", ["a"], 5) == ["a"]


async def test_concurrent_paid_draw_entries_by_one_member_enter_once_and_pay_once(db):
    sessions, chat_id, members = db
    m = members[0]
    async with sessions() as session, session.begin():
        await service.award(session, chat_id=chat_id, member_id=m, amount=12, reason="seed", source="admin", key="seed", now=NOW)
        draw = await points_repo.create_draw(
            session, chat_id=chat_id, prize="Mug", cost=5, winners=1, seed="s", seed_hash=service.seed_hash("s"),
            created_by="console:admin", created_at=NOW, closes_at=NOW + timedelta(hours=1),
        )

    async def one():
        async with sessions() as session, session.begin():
            return await service.join_draw(session, chat_id=chat_id, member_id=m, user_id="u0", draw_id=draw.id, now=NOW)

    results = await asyncio.gather(*(one() for _ in range(20)))
    assert sum(r.status == "ok" for r in results) == 1
    async with sessions() as session:
        assert await service.balance(session, chat_id=chat_id, member_id=m) == 7
        assert await points_repo.count_entries(session, draw.id) == 1


def test_levels_and_rights_settings_are_checked_and_name_the_key():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="points.levels: the first level must have min_points = 0"):
        PointsSettings(levels=[{"min_points": 10, "title_zh": "新人", "title_en": "New"}])
    with pytest.raises(ValidationError, match="min_points must increase"):
        PointsSettings(levels=[{"min_points": 0, "title_zh": "a", "title_en": "a"}, {"min_points": 0, "title_zh": "b", "title_en": "b"}])
    with pytest.raises(ValidationError, match="points.rights.links_allowed_from_level"):
        PointsSettings(rights={"links_allowed_from_level": 0})
    with pytest.raises(ValidationError, match="bonus"):
        PointsSettings(streak_bonuses=[{"days": 3}])


def test_draw_closing_times_accept_durations_and_a_local_clock_time():
    from zoneinfo import ZoneInfo

    from handlers.points.router import parse_closing

    tz = ZoneInfo("Asia/Shanghai")  # NOW is 09:00 there
    assert parse_closing("30m", NOW, tz, 720) == NOW + timedelta(minutes=30)
    assert parse_closing("2h", NOW, tz, 720) == NOW + timedelta(hours=2)
    assert parse_closing("1d", NOW, tz, 720) == NOW + timedelta(days=1)
    assert parse_closing("21:00", NOW, tz, 720) == NOW + timedelta(hours=12)
    assert parse_closing("08:00", NOW, tz, 720) == NOW + timedelta(hours=23)  # tomorrow morning
    assert parse_closing("31d", NOW, tz, 720) is None  # over points.draw_max_hours
    assert parse_closing("0m", NOW, tz, 720) is None
    assert parse_closing("25:00", NOW, tz, 720) is None
    assert parse_closing("soon", NOW, tz, 720) is None
