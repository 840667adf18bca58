"""What an event needs of its group before any handler runs, kept in memory between events: the chat
row (id, title …) and the group's settings (file + stored overrides, validated once).

Reading them for every message cost two statements and a pydantic validation. The chat row changes
rarely and only through events of its own chat (a new title, a migration), which refresh the copy
here. The settings are re-read when the version stored with the overrides (`chat_settings.updated_at`,
read with the member in the event's one query) differs from the one cached, so an override written by
another process (the CLI, a second instance) is seen at the next event; one written here is forgotten
at commit (`forget_settings`), since a test clock may give two writes the same time.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import as_stored
from storage.models import Chat

if TYPE_CHECKING:
    from bot.config import GroupSettings

CHAT_FIELDS = ("id", "platform", "external_id", "title", "created_at", "previous_external_id")
MAX_GROUPS = 20_000  # least recently active groups are dropped from memory beyond this


class GroupDirectory:
    def __init__(self) -> None:
        self._chats: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._settings: OrderedDict[int, tuple[datetime | None, GroupSettings]] = OrderedDict()

    # --- chat rows -----------------------------------------------------------------------------
    def chat_row(self, session, key: str, title: str | None) -> Chat | None:
        """The cached chat as a row of `session` (no statement), or None when it must be read: not
        cached, or the event carries a new title."""
        snapshot = self._chats.get(key)
        if snapshot is None or (title and title != snapshot["title"]):
            return None
        self._chats.move_to_end(key)
        return as_stored(session, Chat, snapshot)

    def remember_chat(self, row: Chat) -> None:
        self._chats[row.key] = {name: getattr(row, name) for name in CHAT_FIELDS}
        self._chats.move_to_end(row.key)
        while len(self._chats) > MAX_GROUPS:
            self._chats.popitem(last=False)

    def forget_chat(self, key: str) -> None:
        self._chats.pop(key, None)

    # --- settings ------------------------------------------------------------------------------
    def settings(self, chat_id: int, version: datetime | None) -> GroupSettings | None:
        cached = self._settings.get(chat_id)
        if cached is None or cached[0] != version:
            return None
        self._settings.move_to_end(chat_id)
        return cached[1]

    def remember_settings(self, chat_id: int, version: datetime | None, settings: GroupSettings) -> None:
        self._settings[chat_id] = (version, settings)
        self._settings.move_to_end(chat_id)
        while len(self._settings) > MAX_GROUPS:
            self._settings.popitem(last=False)

    def forget_settings(self, chat_id: int) -> None:
        self._settings.pop(chat_id, None)
