"""Queries of the web console's content pages: questionnaire answers, columns' posts, the shop's
orders and the lotteries (handlers/web/pages/answers.py, columns.py, shop.py). Each takes an
AsyncSession; none commits."""

from __future__ import annotations

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.columns_models import ColumnPost
from storage.models import AuditEntry, Member, MemberTag
from storage.onboarding_models import OnboardingAnswer, OnboardingRun
from storage.points_models import Draw, DrawEntry, ShopItem, ShopOrder

# The audit action of an admin saying they looked at an "unknown" column post in the group.
POST_CHECKED = "column_post_checked"


# --- questionnaire answers ----------------------------------------------------------------------
def _questioned(chat_id: int, search: str | None, *columns):
    """Members of the chat who were given the questionnaire or answered some of it (`columns` of
    them and of their run)."""
    answered = exists().where(OnboardingAnswer.member_id == Member.id)
    query = (
        select(*columns)
        .select_from(Member)
        .outerjoin(OnboardingRun, OnboardingRun.member_id == Member.id)
        .where(Member.chat_id == chat_id, or_(OnboardingRun.id.is_not(None), answered))
    )
    search = (search or "").strip().removeprefix("@").lower()
    if search:
        query = query.where(or_(
            func.lower(Member.display_name).contains(search, autoescape=True),
            func.lower(Member.username).contains(search, autoescape=True),
            Member.user_id == search,
        ))
    return query


async def questioned_members(session: AsyncSession, chat_id: int, *, search: str | None = None, offset: int = 0,
                             limit: int = 50, below_id: int | None = None) -> list[tuple[Member, OnboardingRun | None]]:
    """Newest member rows first; `below_id` pages by key (for exports of any size), `offset` by number."""
    query = _questioned(chat_id, search, Member, OnboardingRun)
    if below_id is not None:
        query = query.where(Member.id < below_id)
    query = query.order_by(Member.id.desc()).offset(offset).limit(limit)
    return [(member, run) for member, run in (await session.execute(query)).all()]


async def count_questioned(session: AsyncSession, chat_id: int, *, search: str | None = None) -> int:
    query = _questioned(chat_id, search, func.count(Member.id))
    return int(await session.scalar(query) or 0)


async def answers_of_members(session: AsyncSession, member_ids: list[int]) -> dict[int, dict[str, str]]:
    if not member_ids:
        return {}
    rows = await session.execute(
        select(OnboardingAnswer.member_id, OnboardingAnswer.question_id, OnboardingAnswer.value)
        .where(OnboardingAnswer.member_id.in_(member_ids))
    )
    answers: dict[int, dict[str, str]] = {}
    for member_id, question_id, value in rows.all():
        answers.setdefault(member_id, {})[question_id] = value
    return answers


async def answered_question_ids(session: AsyncSession, chat_id: int) -> list[str]:
    """Every question id members of the chat answered (also questions the config no longer has)."""
    rows = await session.scalars(
        select(OnboardingAnswer.question_id).distinct()
        .join(Member, Member.id == OnboardingAnswer.member_id)
        .where(Member.chat_id == chat_id)
    )
    return sorted(rows)


async def tags_of_members(session: AsyncSession, member_ids: list[int], source: str | None = None) -> dict[int, list[str]]:
    if not member_ids:
        return {}
    query = select(MemberTag.member_id, MemberTag.tag).where(MemberTag.member_id.in_(member_ids))
    if source is not None:
        query = query.where(MemberTag.source == source)
    tags: dict[int, list[str]] = {}
    for member_id, tag in (await session.execute(query.order_by(MemberTag.tag))).all():
        tags.setdefault(member_id, []).append(tag)
    return tags


# --- columns' posts -----------------------------------------------------------------------------
async def recent_posts(session: AsyncSession, chat_id: int, source: str, limit: int = 10) -> list[ColumnPost]:
    query = (
        select(ColumnPost).where(ColumnPost.chat_id == chat_id, ColumnPost.source == source)
        .order_by(ColumnPost.slot_at.desc(), ColumnPost.id.desc()).limit(limit)
    )
    return list(await session.scalars(query))


async def post_states(session: AsyncSession, chat_id: int) -> dict[str, dict[str, int]]:
    """source → status → how many of the chat's posts are in it."""
    rows = await session.execute(
        select(ColumnPost.source, ColumnPost.status, func.count())
        .where(ColumnPost.chat_id == chat_id).group_by(ColumnPost.source, ColumnPost.status)
    )
    states: dict[str, dict[str, int]] = {}
    for source, status, n in rows.all():
        states.setdefault(source, {})[status] = int(n)
    return states


async def unknown_posts(session: AsyncSession, chat_id: int, limit: int = 100) -> list[ColumnPost]:
    query = (
        select(ColumnPost).where(ColumnPost.chat_id == chat_id, ColumnPost.status == "unknown")
        .order_by(ColumnPost.slot_at.desc(), ColumnPost.id.desc()).limit(limit)
    )
    return list(await session.scalars(query))


async def unknown_post(session: AsyncSession, chat_id: int, post_id: int) -> ColumnPost | None:
    post = await session.get(ColumnPost, post_id)
    return post if post is not None and post.chat_id == chat_id and post.status == "unknown" else None


async def checked_posts(session: AsyncSession, chat_id: int, limit: int = 1000) -> dict[int, AuditEntry]:
    """post id → the audit entry of the admin who checked it in the group (the newest one)."""
    entries = await session.scalars(
        select(AuditEntry).where(AuditEntry.chat_id == chat_id, AuditEntry.action == POST_CHECKED)
        .order_by(AuditEntry.id.desc()).limit(limit)
    )
    checked: dict[int, AuditEntry] = {}
    for entry in entries:
        post_id = (entry.details or {}).get("post")
        if isinstance(post_id, int):
            checked.setdefault(post_id, entry)
    return checked


# --- shop and lotteries --------------------------------------------------------------------------
def _orders(chat_id: int, status: str | None, *columns):
    query = select(*columns).select_from(ShopOrder).where(ShopOrder.chat_id == chat_id)
    return query.where(ShopOrder.status == status) if status else query


async def orders_newest_first(session: AsyncSession, chat_id: int, *, status: str | None = None, offset: int = 0,
                              limit: int = 50) -> list[tuple[ShopOrder, ShopItem, Member]]:
    query = (
        _orders(chat_id, status, ShopOrder, ShopItem, Member)
        .join(ShopItem, ShopItem.id == ShopOrder.item_id)
        .join(Member, Member.id == ShopOrder.member_id)
        .order_by(ShopOrder.id.desc()).offset(offset).limit(limit)
    )
    return [(order, item, member) for order, item, member in (await session.execute(query)).all()]


async def count_orders(session: AsyncSession, chat_id: int, *, status: str | None = None) -> int:
    query = _orders(chat_id, status, func.count(ShopOrder.id))
    return int(await session.scalar(query) or 0)


async def orders_by_item(session: AsyncSession, chat_id: int) -> dict[int, dict[str, int]]:
    """item id → order status → count."""
    rows = await session.execute(
        select(ShopOrder.item_id, ShopOrder.status, func.count())
        .where(ShopOrder.chat_id == chat_id).group_by(ShopOrder.item_id, ShopOrder.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for item_id, status, n in rows.all():
        counts.setdefault(item_id, {})[status] = int(n)
    return counts


async def draws_newest_first(session: AsyncSession, chat_id: int, limit: int = 20) -> list[Draw]:
    query = select(Draw).where(Draw.chat_id == chat_id).order_by(Draw.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def entry_counts(session: AsyncSession, draw_ids: list[int]) -> dict[int, int]:
    if not draw_ids:
        return {}
    rows = await session.execute(
        select(DrawEntry.draw_id, func.count()).where(DrawEntry.draw_id.in_(draw_ids)).group_by(DrawEntry.draw_id)
    )
    return {draw_id: int(n) for draw_id, n in rows.all()}


async def entrants(session: AsyncSession, draw_ids: list[int]) -> dict[int, list[str]]:
    """draw id → the entrants' user ids (what anyone needs, with the seed, to redo the draw)."""
    if not draw_ids:
        return {}
    rows = await session.execute(
        select(DrawEntry.draw_id, DrawEntry.user_id).where(DrawEntry.draw_id.in_(draw_ids)).order_by(DrawEntry.at, DrawEntry.user_id)
    )
    found: dict[int, list[str]] = {}
    for draw_id, user_id in rows.all():
        found.setdefault(draw_id, []).append(user_id)
    return found
