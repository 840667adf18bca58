"""Daily aggregates any feature can bump (rules: violations; points: check-ins, points issued;
stats: messages, active members). Upserts, so concurrent events never lose a count."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DailyCounter, DailyMemberActivity


def _insert(session: AsyncSession):
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def bump(session: AsyncSession, chat_id: int, day: date, metric: str, key: str = "", n: int = 1) -> None:
    insert = _insert(session)
    stmt = insert(DailyCounter).values(chat_id=chat_id, day=day, metric=metric, key=key, value=n)
    stmt = stmt.on_conflict_do_update(
        index_elements=["chat_id", "day", "metric", "key"], set_={"value": DailyCounter.value + n}
    )
    await session.execute(stmt)


async def member_active(session: AsyncSession, chat_id: int, day: date, member_id: int, messages: int = 1) -> None:
    insert = _insert(session)
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
