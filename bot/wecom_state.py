"""What the WeCom adapter must remember across restarts besides member lists (bot/member_lists.py):
each group's kind, owner and admins (so capability questions need no round trip), and how far the
message archive was read. The adapter reaches the database only through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from storage import wecom_repo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@dataclass(frozen=True)
class ChatRecord:
    chat_id: str
    kind: str
    name: str | None
    owner: str | None
    admins: set[str]
    refreshed_at: datetime | None


class WecomState:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self.sessions = sessions

    async def chats(self) -> list[ChatRecord]:
        async with self.sessions() as session:
            return [
                ChatRecord(row.chat_id, row.kind, row.name, row.owner, set(row.admins or []), row.refreshed_at)
                for row in await wecom_repo.list_chats(session)
            ]

    async def save_chat(
        self, chat_id: str, *, kind: str, now: datetime, name: str | None, owner: str | None, admins: list[str]
    ) -> None:
        async with self.sessions() as session, session.begin():
            await wecom_repo.save_chat_info(session, chat_id, kind=kind, now=now, name=name, owner=owner, admins=admins)

    async def archive_seq(self, source: str) -> int:
        async with self.sessions() as session:
            return await wecom_repo.archive_seq(session, source)

    async def set_archive_seq(self, source: str, seq: int, now: datetime) -> None:
        async with self.sessions() as session, session.begin():
            await wecom_repo.set_archive_seq(session, source, seq, now)
