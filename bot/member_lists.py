"""Who joined and who left, from member lists: a platform that reports only "the group changed"
(WeCom's change_external_chat) hands the current list here; it is diffed against the stored one.

The adapter only translates the platform's answer into MemberInfo and the change into events;
the list itself lives in the database (storage/wecom_repo.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from storage import wecom_repo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@dataclass(frozen=True)
class MemberInfo:
    user_id: str
    member_type: int = 0  # 1 employee, 2 external contact
    name: str | None = None
    join_time: int | None = None
    join_scene: int | None = None
    invitor: str | None = None


@dataclass(frozen=True)
class MemberChange:
    added: list[MemberInfo]
    removed: list[MemberInfo]
    had_list: bool  # False: nothing stored to compare with (every member looks added, no one removed)


class MemberLists:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self.sessions = sessions

    async def replace(self, chat_id: str, current: list[MemberInfo], now: datetime) -> MemberChange:
        """Store `current` as the chat's member list; what changed against the last one."""
        async with self.sessions() as session, session.begin():
            had_list = await wecom_repo.has_snapshot(session, chat_id)
            await wecom_repo.ensure_chat(session, chat_id)
            before = await wecom_repo.members(session, chat_id)
            now_ids = {m.user_id for m in current}
            added = [m for m in current if m.user_id not in before]
            removed = [
                MemberInfo(r.user_id, r.member_type, r.name, r.join_time, r.join_scene, r.invitor)
                for uid, r in before.items()
                if uid not in now_ids
            ]
            await wecom_repo.remove_members(session, chat_id, [m.user_id for m in removed])
            for m in current:
                row = before.get(m.user_id)
                if row is None:
                    await wecom_repo.add_member(session, chat_id, **dataclasses.asdict(m))
                elif (row.name, row.member_type) != (m.name, m.member_type):
                    row.name, row.member_type = m.name, m.member_type
            await wecom_repo.mark_snapshot(session, chat_id, now)
        return MemberChange(added, removed, had_list)

    async def add(self, chat_id: str, member: MemberInfo, *, kind: str) -> bool:
        """Record one member (an employee who opened the app); True the first time."""
        async with self.sessions() as session, session.begin():
            await wecom_repo.ensure_chat(session, chat_id, kind)
            return await wecom_repo.add_member(session, chat_id, **dataclasses.asdict(member))

    async def dismissed(self, chat_id: str, now: datetime) -> None:
        """The group is gone: its list with it."""
        async with self.sessions() as session, session.begin():
            await wecom_repo.mark_dismissed(session, chat_id, now)

    async def names(self) -> dict[str, str]:
        """Display names of everyone in a stored list (user id → name)."""
        async with self.sessions() as session:
            return await wecom_repo.member_names(session)
