"""What a handler gets: the event, its chat's settings and language, the DB session, the platform."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import ChatRef, CommandInvoked, Event, MessageReceived, UserRef
from bot.i18n import t
from bot.platform import ActionFailed, Buttons, Capability, Platform, SentMessage
from storage import core_repo, metrics
from storage.models import Chat, Member

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import GroupSettings  # at run time bot.config imports the features' settings

log = logging.getLogger(__name__)


class GroupScope:
    """A group with its settings, language and platform: what a handler needs of "where", whether it
    runs for an event (Context) or for due work found at a tick (e.g. onboarding's deadlines).
    Subclasses provide `app`, `session`, `chat_row`, `settings` and the `chat` reference."""

    app: "App"
    session: AsyncSession
    chat_row: Chat
    settings: GroupSettings

    @property
    def chat(self) -> ChatRef:
        return ChatRef(self.chat_row.platform, self.chat_row.external_id, self.chat_row.title)

    @property
    def platform(self) -> Platform:
        return self.app.platforms[self.chat.platform]

    @property
    def lang(self) -> str:
        return self.settings.language

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    @property
    def local_day(self) -> date:
        """Today in the group's time zone (daily figures, check-ins and columns use it)."""
        return self.now.astimezone(ZoneInfo(self.settings.timezone)).date()

    def t(self, key: str, /, **values: object) -> str:
        return t(self.lang, key, **values)

    def can(self, capability: Capability) -> bool:
        """Whether the platform can do this *in this chat* (see BasePlatform.can_in)."""
        return self.platform.can_in(self.chat, capability)

    async def count(self, metric: str, key: str = "", n: int = 1) -> None:
        """Bump today's figure `metric` (split by `key`) for this group."""
        await metrics.bump(self.session, self.chat_row.id, self.local_day, metric, key, n)


class Context(GroupScope):
    def __init__(
        self,
        app: "App",
        event: Event,
        session: AsyncSession,
        chat_row: Chat,
        member_row: Member | None,
        settings: GroupSettings,
    ):
        self.app = app
        self.event = event
        self.session = session
        self.chat_row = chat_row
        self.member_row = member_row
        self.settings = settings
        self.stopped = False
        self.data: dict[str, Any] = {}  # what one router leaves for the next (e.g. rules verdict)

    # --- who, where, when -------------------------------------------------------------------
    @property
    def chat(self) -> ChatRef:
        chat = self.event.chat
        new_chat = getattr(self.event, "new_chat", None)
        return new_chat or chat

    @property
    def user(self) -> UserRef:
        return self.event.user

    @property
    def text(self) -> str:
        return getattr(self.event, "text", "") or ""

    def mention(self, user: UserRef | None = None) -> str:
        return self.platform.mention(user or self.user)

    def stop(self) -> None:
        self.stopped = True

    async def is_admin(self, user: UserRef | None = None) -> bool:
        return await self.app.is_admin(self.chat, user or self.user, self.settings)

    # --- saying things ----------------------------------------------------------------------
    async def send(self, text: str, *, buttons: Buttons | None = None, reply_to: str | None = None) -> SentMessage:
        # In a forum topic, what the bot says about a message goes to the same topic.
        thread_id = getattr(self.event, "thread_id", None)
        extra = {"thread_id": thread_id} if thread_id else {}
        return await self.platform.send(self.chat, text, buttons=buttons, reply_to=reply_to, **extra)

    async def reply(self, text: str, *, buttons: Buttons | None = None) -> SentMessage:
        message_id = getattr(self.event, "message_id", None)
        if isinstance(self.event, (MessageReceived, CommandInvoked)) and message_id:
            return await self.send(text, buttons=buttons, reply_to=message_id)
        return await self.send(text, buttons=buttons)

    async def notify_admins(self, text: str) -> None:
        """Tell the group's admins: by DM where the platform allows it, else in the group."""
        await self.app.notify_admins(self.chat, text, self.settings)

    # --- records -----------------------------------------------------------------------------
    async def audit(
        self,
        action: str,
        *,
        target: UserRef | None = None,
        rule: str | None = None,
        evidence: str | None = None,
        details: dict[str, Any] | None = None,
        actor: str | None = None,
    ):
        return await core_repo.audit(
            self.session,
            chat_id=self.chat_row.id,
            at=self.now,
            actor=actor or "bot",
            action=action,
            target_user_id=target.id if target else None,
            rule=rule,
            evidence=evidence,
            details=details,
        )

    async def set_setting(self, path: str, value: Any) -> None:
        """Store a group setting changed by an admin command; validated before it is kept."""
        await core_repo.set_override(self.session, self.chat_row.id, path, value, self.user.key, self.now)
        stored = await core_repo.stored_overrides(self.session, self.chat_row.id)
        self.settings = self.app.config.group_settings(self.chat_row.key, stored)


__all__ = ["Context", "GroupScope", "ActionFailed"]
