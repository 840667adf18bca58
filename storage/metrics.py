"""Daily aggregates any feature counts (rules: violations; points: check-ins, points issued;
stats: messages, active members). Upserts, so concurrent events never lose a count."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.models import Chat, DailyCounter, DailyMemberActivity


async def member_active(session: AsyncSession, chat_id: int, day: date, member_id: int, messages: int = 1) -> None:
    insert = dialect_insert(session)
    stmt = insert(DailyMemberActivity).values(chat_id=chat_id, day=day, member_id=member_id, messages=messages)
    stmt = stmt.on_conflict_do_update(
        index_elements=["chat_id", "day", "member_id"], set_={"messages": DailyMemberActivity.messages + messages}
    )
    await session.execute(stmt)


async def counters(session: AsyncSession, chat_id: int, start: date, end: date, metric: str | None = None) -> list[DailyCounter]:
    """Rows with start <= day <= end."""
    query = select(DailyCounter).where(DailyCounter.chat_id == chat_id, DailyCounter.day >= start, DailyCounter.day <= end)
    if metric:
        query = query.where(DailyCounter.metric == metric)
    return list(await session.scalars(query.order_by(DailyCounter.day)))


async def top_contributors(session: AsyncSession, chat_id: int, start: date, end: date, limit: int = 5) -> list[tuple[int, int]]:
    """(member id, messages) of the most active members with start <= day <= end."""
    total = func.sum(DailyMemberActivity.messages).label("messages")
    query = (
        select(DailyMemberActivity.member_id, total)
        .where(DailyMemberActivity.chat_id == chat_id, DailyMemberActivity.day >= start, DailyMemberActivity.day <= end)
        .group_by(DailyMemberActivity.member_id)
        .order_by(total.desc(), DailyMemberActivity.member_id)
        .limit(limit)
    )
    return [(member_id, int(messages)) for member_id, messages in (await session.execute(query)).all()]


async def active_members(session: AsyncSession, chat_id: int, start: date, end: date) -> int:
    """Distinct members who posted with start <= day <= end."""
    query = select(func.count(func.distinct(DailyMemberActivity.member_id))).where(
        DailyMemberActivity.chat_id == chat_id, DailyMemberActivity.day >= start, DailyMemberActivity.day <= end
    )
    return int(await session.scalar(query) or 0)


# The batched daily counters (bot.tally): key (chat id, day, metric, key) → amount.
DAILY = "core.daily"


async def write_daily(session: AsyncSession, figures: dict) -> None:
    stmt = dialect_insert(session)(DailyCounter)
    stmt = stmt.on_conflict_do_update(
        index_elements=["chat_id", "day", "metric", "key"], set_={"value": DailyCounter.value + stmt.excluded.value})
    # A group deleted since (forgotten, migrated away) takes its pending figures with it.
    chats = await existing(session, Chat.id, {chat_id for chat_id, *_ in figures})
    rows = [{"chat_id": chat_id, "day": day, "metric": metric, "key": key, "value": n}
            for (chat_id, day, metric, key), n in figures.items() if n and chat_id in chats]
    if rows:
        await session.execute(stmt, rows)


async def existing(session: AsyncSession, column, ids: set[int]) -> set[int]:
    """Which of `ids` are still rows (batched figures may name a member or group deleted since)."""
    found: set[int] = set()
    ids_list = sorted(ids)
    for start in range(0, len(ids_list), 500):
        chunk = ids_list[start:start + 500]
        found.update(await session.scalars(select(column).where(column.in_(chunk))))
    return found
