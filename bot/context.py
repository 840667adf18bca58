"""What a handler gets: the event, its chat's settings and language, the DB session, the platform."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions import Actions, Outcome, follow_up
from bot.events import ChatRef, CommandInvoked, Event, MessageReceived, UserRef
from bot.i18n import t
from bot.platform import ActionFailed, Buttons, Capability, Platform, SentMessage
from storage import core_repo, metrics
from storage.models import Chat, Member

if TYPE_CHECKING:
    from bot.ports import AppServices
    from bot.config import GroupSettings  # at run time bot.config imports the features' settings

log = logging.getLogger(__name__)


class GroupScope:
    """A group with its settings, language and platform: what a handler needs of "where", whether it
    runs for an event (Context) or for due work found at a tick (e.g. onboarding's deadlines).
    Subclasses provide `app`, `session`, `chat_row`, `settings`, `actions` and the `chat` reference.

    `platform` queues what it is asked to do on `actions` (see bot.actions): nothing reaches the
    platform until the transaction of `session` has committed."""

    app: "AppServices"
    session: AsyncSession
    chat_row: Chat
    settings: GroupSettings
    actions: Actions

    @property
    def chat(self) -> ChatRef:
        return ChatRef(self.chat_row.platform, self.chat_row.external_id, self.chat_row.title)

    @property
    def platform(self) -> Platform:
        return self.actions.platform(self.chat.platform)  # type: ignore[return-value]

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
        """Bump today's figure `metric` (split by `key`) for this group, once the transaction has
        committed (figures are batched: bot.tally)."""
        figure = (self.chat_row.id, self.local_day, metric, key)
        self.after_commit(lambda: self.app.tally.add(metrics.DAILY, figure, n))

    async def flush_figures(self) -> None:
        """Write the batched figures in this transaction, before reading figures (e.g. /stats);
        they go back to the batch if it rolls back."""
        tally = self.app.tally
        taken = tally.take()
        if taken:
            self.actions.if_rolled_back(lambda: tally.restore(taken))
            await tally.write(self.session, taken)

    async def send(self, text: str, *, buttons: Buttons | None = None, reply_to: str | None = None,
                   thread_id: str | None = None, then: str | None = None, then_args: dict | None = None) -> SentMessage:
        return await self.platform.send(self.chat, text, buttons=buttons, reply_to=reply_to, thread_id=thread_id,
                                        then=then, then_args=then_args)

    def after_commit(self, fn) -> None:
        """Run `fn()` (no I/O: an in-memory tracker, a metric) once the transaction has committed; a
        failed or retried one drops it, so a retried event does not count twice."""
        self.actions.after_commit(fn)

    async def notify_admins(self, text: str, *, then: str | None = None, then_args: dict | None = None) -> None:
        """Tell the group's admins after commit: by DM where the platform allows it, else in the group."""
        self.actions.notify_admins(self.chat, text, list(self.settings.admins), then=then, then_args=then_args)


@follow_up("core.dm_or_reply")
async def _dm_or_reply(scope: GroupScope, outcome: Outcome, args: dict) -> None:
    if outcome.uncertain:
        return
    text = args["sent_note"] if outcome.ok else args["text"]
    await scope.send(text, reply_to=args.get("reply_to"), thread_id=args.get("thread_id"))


class StoredGroup(GroupScope):
    """A group as stored, for work that is not an event: follow-ups of actions, ticks."""

    def __init__(self, app: "AppServices", session: AsyncSession, chat_row: Chat, settings: GroupSettings, actions: Actions):
        self.app = app
        self.session = session
        self.chat_row = chat_row
        self.settings = settings
        self.actions = actions


class Context(GroupScope):
    def __init__(
        self,
        app: "AppServices",
        event: Event,
        session: AsyncSession,
        chat_row: Chat,
        member_row: Member | None,
        settings: GroupSettings,
        actions: Actions,
    ):
        self.app = app
        self.actions = actions
        self.event = event
        self.session = session
        self.chat_row = chat_row
        self.member_row = member_row
        self.settings = settings
        self.stopped = False
        self.data: dict[str, Any] = {}  # what one router leaves for the next (e.g. rules verdict)
        self.member_rows: dict[type, Any] = {}  # the features' rows of the member (Router.with_member)
        self.web_replies: list[str] = []  # replies to a web console's command (they go to the page)

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


    @property
    def thread_id(self) -> str | None:
        """The forum topic of the event; what the bot says about it goes there."""
        return getattr(self.event, "thread_id", None)

    async def is_admin(self, user: UserRef | None = None) -> bool:
        return await self.app.is_admin(self.chat, user or self.user, self.settings)

    # --- saying things ----------------------------------------------------------------------
    async def send(self, text: str, *, buttons: Buttons | None = None, reply_to: str | None = None,
                   thread_id: str | None = None, then: str | None = None, then_args: dict | None = None) -> SentMessage:
        """Post in the event's chat (and forum topic) after commit."""
        return await super().send(text, buttons=buttons, reply_to=reply_to, thread_id=thread_id or self.thread_id,
                                  then=then, then_args=then_args)

    async def reply(self, text: str, *, buttons: Buttons | None = None, then: str | None = None,
                    then_args: dict | None = None) -> SentMessage:
        if isinstance(self.event, CommandInvoked) and self.event.via_web:
            self.web_replies.append(text)
            return SentMessage(None, "")
        message_id = getattr(self.event, "message_id", None)
        if isinstance(self.event, (MessageReceived, CommandInvoked)) and message_id:
            return await self.send(text, buttons=buttons, reply_to=message_id, then=then, then_args=then_args)
        return await self.send(text, buttons=buttons, then=then, then_args=then_args)

    async def tell_admins_once(self, key: str, text: str) -> bool:
        """Tell the admins `text` the first time `key` comes up in this group (remembered in the
        audit log as `told:KEY`), not at every message. True when told now."""
        action = f"told:{key}"[:64]
        if await core_repo.audit_entries(self.session, self.chat_row.id, action=action, limit=1):
            return False
        await core_repo.audit(self.session, chat_id=self.chat_row.id, at=self.now, actor="bot", action=action)
        await self.notify_admins(text)
        return True

    async def dm_or_reply(self, text: str, *, sent_note: str) -> None:
        """Send `text` to the member privately and say `sent_note` in the group; where the platform
        cannot DM or the member does not accept it, reply with `text` in the group instead."""
        if isinstance(self.event, CommandInvoked) and self.event.via_web:
            await self.reply(text)
            return
        reply_to = getattr(self.event, "message_id", None)
        here = {"text": text, "sent_note": sent_note, "reply_to": reply_to, "thread_id": self.thread_id}
        if self.can(Capability.DM):
            await self.platform.dm(self.user, text, chat=self.chat, then="core.dm_or_reply", then_args=here)
        else:
            await self.reply(text)

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
        chat_id = self.chat_row.id
        self.after_commit(lambda: self.app.dispatcher.groups.forget_settings(chat_id))


__all__ = ["Context", "GroupScope", "StoredGroup", "ActionFailed"]
