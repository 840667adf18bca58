"""Repository functions of the web console's sign-in (storage/web_models.py). None commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.web_models import WebLoginLink, WebSession


async def add_link(session: AsyncSession, token_hash: str, user_key: str, user_name: str | None,
                   now: datetime, expires_at: datetime) -> None:
    session.add(WebLoginLink(token_hash=token_hash, user_key=user_key, user_name=user_name,
                             created_at=now, expires_at=expires_at))


async def links_since(session: AsyncSession, user_key: str, since: datetime) -> int:
    """How many links `user_key` was given since `since` (the rate limit of /console)."""
    return await session.scalar(
        select(func.count()).select_from(WebLoginLink).where(WebLoginLink.user_key == user_key, WebLoginLink.created_at >= since)
    ) or 0


async def peek_link(session: AsyncSession, token_hash: str) -> WebLoginLink | None:
    return await session.get(WebLoginLink, token_hash)


async def use_link(session: AsyncSession, token_hash: str, now: datetime) -> WebLoginLink | None:
    """Mark the link used, once: the row when this call used it, None when it is unknown, used or
    expired. One UPDATE … WHERE used_at IS NULL, so two browsers racing with one link get one session."""
    result = await session.execute(
        update(WebLoginLink)
        .where(WebLoginLink.token_hash == token_hash, WebLoginLink.used_at.is_(None), WebLoginLink.expires_at > now)
        .values(used_at=now)
    )
    if not result.rowcount:
        return None
    return await session.get(WebLoginLink, token_hash)


async def forget_before(session: AsyncSession, before: datetime) -> None:
    """Sign-in links expired, and sessions ended (expired or revoked), before `before`."""
    await session.execute(delete(WebLoginLink).where(WebLoginLink.expires_at < before))
    await session.execute(delete(WebSession).where(
        (WebSession.expires_at < before) | (WebSession.revoked_at.is_not(None) & (WebSession.revoked_at < before))))


async def add_session(session: AsyncSession, **values) -> WebSession:
    row = WebSession(**values)
    session.add(row)
    await session.flush()
    return row


async def live_session(session: AsyncSession, token_hash: str, now: datetime) -> WebSession | None:
    row = await session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


async def sessions_of(session: AsyncSession, user_key: str, now: datetime) -> list[WebSession]:
    return list(await session.scalars(
        select(WebSession)
        .where(WebSession.user_key == user_key, WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        .order_by(WebSession.created_at.desc())
    ))


async def revoke(session: AsyncSession, user_key: str, session_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.user_key == user_key, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


# --- the console's overview ------------------------------------------------------------------------
async def members_by_chat(session: AsyncSession, chat_ids: list[int]) -> dict[int, int]:
    """Active members per group (one grouped count over ix_members_chat_joined's leading column)."""
    from storage.models import Member

    if not chat_ids:
        return {}
    rows = await session.execute(
        select(Member.chat_id, func.count()).where(Member.chat_id.in_(chat_ids), Member.status == "active").group_by(Member.chat_id)
    )
    return {chat_id: n for chat_id, n in rows}


async def daily_figures(session: AsyncSession, chat_ids: list[int], since, metrics: tuple[str, ...]) -> list[tuple[int, object, str, int]]:
    """(chat_id, day, metric, value summed over keys) from `since` on, for the given metrics."""
    from storage.models import DailyCounter

    if not chat_ids:
        return []
    rows = await session.execute(
        select(DailyCounter.chat_id, DailyCounter.day, DailyCounter.metric, func.sum(DailyCounter.value))
        .where(DailyCounter.chat_id.in_(chat_ids), DailyCounter.day >= since, DailyCounter.metric.in_(metrics))
        .group_by(DailyCounter.chat_id, DailyCounter.day, DailyCounter.metric)
    )
    return [(c, d, m, int(v or 0)) for c, d, m, v in rows]



# --- who runs which group ----------------------------------------------------------------------------
async def chat_with_overrides(session: AsyncSession, chat_id: int):
    """(the chat, its stored overrides), or None when there is no such chat."""
    from storage.models import Chat, ChatSettingsRow

    chat = await session.get(Chat, chat_id)
    if chat is None:
        return None
    row = await session.get(ChatSettingsRow, chat_id)
    return chat, dict(row.overrides) if row else {}


async def chats_for_console(session: AsyncSession, platform: str | None):
    """Every chat of `platform` (None: of all platforms) with its stored overrides: [(chat, overrides)]."""
    from storage.models import Chat, ChatSettingsRow

    query = select(Chat) if platform is None else select(Chat).where(Chat.platform == platform)
    chats = list(await session.scalars(query))
    stored = {r.chat_id: r.overrides for r in await session.scalars(select(ChatSettingsRow))}
    return [(chat, dict(stored.get(chat.id) or {})) for chat in chats]


async def chats_where_admin(session: AsyncSession, user_id: str) -> set[int]:
    """The chats whose stored member role says `user_id` is an admin or the owner."""
    from storage.models import Member

    return set(await session.scalars(
        select(Member.chat_id).where(Member.user_id == user_id, Member.role.in_(("admin", "owner")))))
