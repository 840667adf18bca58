"""The group scope a follow-up of a carried-out action runs in (bot.actions): the stored chat with
its settings. Handed to the Outbox by the composition root, so bot.actions need not import
bot.context (which imports bot.actions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions import Actions
from bot.context import StoredGroup
from bot.events import ChatRef
from storage import core_repo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.ports import AppServices


async def stored_group(app: "AppServices", session: "AsyncSession", chat: ChatRef, actions: Actions) -> StoredGroup | None:
    row = await core_repo.get_chat(session, chat.platform, chat.id)
    if row is None:
        return None
    stored = await core_repo.stored_overrides(session, row.id)
    return StoredGroup(app, session, row, app.config.group_settings(row.key, stored), actions)
