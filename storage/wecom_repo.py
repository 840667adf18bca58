"""Repository functions for the wecom tables. Each takes an AsyncSession; none commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignore
from storage.wecom_models import WecomArchiveCursor, WecomChat, WecomChatMember


async def get_chat(session: AsyncSession, chat_id: str) -> WecomChat | None:
    return await session.get(WecomChat, chat_id)


async def ensure_chat(session: AsyncSession, chat_id: str, kind: str = "unknown") -> WecomChat:
    chat = await session.get(WecomChat, chat_id)
    if chat is None:
        await session.execute(
            insert_ignore(session, WecomChat, {"chat_id": chat_id, "kind": kind, "admins": [], "dismissed": False}, ["chat_id"])
        )
        chat = await session.get(WecomChat, chat_id)
        assert chat is not None
    return chat


async def save_chat_info(
    session: AsyncSession,
    chat_id: str,
    *,
    kind: str,
    now: datetime,
    name: str | None = None,
    owner: str | None = None,
    admins: list[str] | None = None,
) -> WecomChat:
    chat = await ensure_chat(session, chat_id, kind)
    chat.kind = kind
    if name is not None:
        chat.name = name
    chat.owner = owner
    chat.admins = sorted(set(admins or []))
    chat.dismissed = False
    chat.refreshed_at = now
    return chat


async def list_chats(session: AsyncSession) -> list[WecomChat]:
    """Every known chat (kind, owner, admins), loaded at start so per-chat capability questions
    are answered without a round trip."""
    return list(await session.scalars(select(WecomChat).order_by(WecomChat.chat_id)))


async def mark_dismissed(session: AsyncSession, chat_id: str, now: datetime) -> None:
    chat = await ensure_chat(session, chat_id, "customer")
    chat.dismissed = True
    chat.refreshed_at = now
    await session.execute(delete(WecomChatMember).where(WecomChatMember.chat_id == chat_id))


async def member_names(session: AsyncSession) -> dict[str, str]:
    """Display names of everyone in a stored member list (user id → name)."""
    rows = await session.execute(select(WecomChatMember.user_id, WecomChatMember.name).where(WecomChatMember.name.is_not(None)))
    return {user_id: name for user_id, name in rows}


async def has_snapshot(session: AsyncSession, chat_id: str) -> bool:
    chat = await session.get(WecomChat, chat_id)
    return chat is not None and chat.snapshot_at is not None


async def members(session: AsyncSession, chat_id: str) -> dict[str, WecomChatMember]:
    rows = await session.scalars(select(WecomChatMember).where(WecomChatMember.chat_id == chat_id))
    return {row.user_id: row for row in rows}


async def remove_members(session: AsyncSession, chat_id: str, user_ids: list[str]) -> None:
    if user_ids:
        await session.execute(
            delete(WecomChatMember).where(WecomChatMember.chat_id == chat_id, WecomChatMember.user_id.in_(user_ids))
        )


async def add_member(
    session: AsyncSession,
    chat_id: str,
    *,
    user_id: str,
    member_type: int = 0,
    name: str | None = None,
    join_time: int | None = None,
    join_scene: int | None = None,
    invitor: str | None = None,
) -> bool:
    """One member into the chat's stored list; True if they were not in it."""
    await ensure_chat(session, chat_id)
    result = await session.execute(
        insert_ignore(
            session,
            WecomChatMember,
            {
                "chat_id": chat_id,
                "user_id": user_id,
                "member_type": member_type,
                "name": name,
                "join_time": join_time,
                "join_scene": join_scene,
                "invitor": invitor,
            },
            ["chat_id", "user_id"],
        )
    )
    return bool(result.rowcount)


async def mark_snapshot(session: AsyncSession, chat_id: str, now: datetime) -> None:
    """The stored list is the chat's whole list as of `now` (bot/member_lists.py diffs against it)."""
    chat = await ensure_chat(session, chat_id)
    chat.snapshot_at = now


async def archive_seq(session: AsyncSession, source: str) -> int:
    row = await session.get(WecomArchiveCursor, source)
    return row.seq if row else 0


async def set_archive_seq(session: AsyncSession, source: str, seq: int, now: datetime) -> None:
    row = await session.get(WecomArchiveCursor, source)
    if row is None:
        await session.execute(insert_ignore(session, WecomArchiveCursor, {"source": source, "seq": seq, "updated_at": now}, ["source"]))
        row = await session.get(WecomArchiveCursor, source)
        assert row is not None
    if seq > row.seq:
        row.seq = seq
    row.updated_at = now
