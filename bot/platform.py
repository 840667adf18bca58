"""The Platform protocol every adapter implements, and the capability flags handlers check first."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.events import ChatRef, Media, UserRef


class Capability(enum.Flag):
    SEND = enum.auto()
    REPLY = enum.auto()
    DELETE = enum.auto()  # delete another member's message
    RESTRICT = enum.auto()  # mute for a duration and lift it
    KICK = enum.auto()  # remove a member who may come back
    BAN = enum.auto()  # remove and keep out
    UNBAN = enum.auto()
    BUTTONS = enum.auto()
    DM = enum.auto()
    JOIN_REQUESTS = enum.auto()  # approve / decline join requests
    ADMIN_LIST = enum.auto()  # the platform can tell who the group's admins are
    DOWNLOAD = enum.auto()  # fetch an attachment's bytes
    SEND_PHOTO = enum.auto()
    EDIT = enum.auto()
    BAN_SENDER_CHAT = enum.auto()  # keep a channel from posting in the group (Telegram banChatSenderChat)

    @classmethod
    def all(cls) -> "Capability":
        value = cls(0)
        for member in cls:
            value |= member
        return value


class CapabilityMissing(Exception):
    """Raised by an adapter asked for something its platform cannot do. Handlers should check
    `platform.can(...)` first and choose the next best action; this error is the loud fallback."""

    def __init__(self, platform: str, capability: Capability, hint: str = ""):
        self.platform = platform
        self.capability = capability
        super().__init__(f"{platform} cannot {capability.name}" + (f": {hint}" if hint else ""))


class ActionFailed(Exception):
    """The platform refused an action (missing rights, user gone …). `reason` is a short code
    handlers can branch on: 'no_rights', 'not_found', 'dm_blocked', 'other'."""

    def __init__(self, reason: str, detail: str = "", right: str | None = None):
        self.reason = reason
        self.detail = detail
        self.right = right  # the admin right the bot lacks, when reason == 'no_rights'
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ActionUncertain(ActionFailed):
    """A request that may have reached the platform (a timeout or a reset after the body went out)
    for a method that has no idempotency key (sendMessage, sendPhoto, WeCom sends): it is not sent
    again, and nobody can know whether it arrived."""

    def __init__(self, detail: str = ""):
        super().__init__("uncertain", detail)


@dataclass(frozen=True)
class Button:
    text: str
    data: str


Buttons = list[list[Button]]


@dataclass(frozen=True)
class SentMessage:
    chat: ChatRef | None
    message_id: str


@runtime_checkable
class Platform(Protocol):
    name: str
    capabilities: Capability

    def can(self, capability: Capability) -> bool: ...

    def can_in(self, chat: ChatRef, capability: Capability) -> bool: ...

    def mention(self, user: UserRef) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self, chat: ChatRef, text: str, *, reply_to: str | None = None, buttons: Buttons | None = None,
        thread_id: str | None = None,
    ) -> SentMessage:
        """`thread_id`: the forum topic to post in (None: the chat's main thread)."""

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str = "", *, thread_id: str | None = None) -> SentMessage: ...

    async def edit(self, chat: ChatRef, message_id: str, text: str, *, buttons: Buttons | None = None) -> None: ...

    async def delete(self, chat: ChatRef, message_id: str) -> None: ...

    async def delete_many(self, chat: ChatRef, message_ids: list[str]) -> None:
        """Delete several messages (Telegram deleteMessages, up to 100 a call); ids already gone are ignored."""

    async def restrict(self, chat: ChatRef, user: UserRef, until: datetime | None) -> None:
        """Mute `user` until `until` (None: until lifted)."""

    async def unrestrict(self, chat: ChatRef, user: UserRef) -> None: ...

    async def kick(self, chat: ChatRef, user: UserRef) -> None:
        """Remove the member; they may join again."""

    async def ban(self, chat: ChatRef, user: UserRef, until: datetime | None = None, *, revoke_messages: bool = False) -> None:
        """`revoke_messages`: also delete everything the member posted in the chat, where the platform can."""

    async def unban(self, chat: ChatRef, user: UserRef) -> None: ...

    async def ban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef) -> None:
        """Keep a channel from posting in `chat` (a member posting as a channel cannot be muted)."""

    async def unban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef) -> None: ...

    async def dm(self, user: UserRef, text: str, *, buttons: Buttons | None = None) -> SentMessage:
        """Raises ActionFailed('dm_blocked') when the platform refuses (e.g. user never started the bot)."""

    async def answer_button(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None: ...

    async def approve_join(self, chat: ChatRef, user: UserRef) -> None: ...

    async def decline_join(self, chat: ChatRef, user: UserRef) -> None: ...

    async def admin_ids(self, chat: ChatRef) -> set[str]: ...

    async def download(self, media: Media) -> bytes: ...


class BasePlatform:
    """Shared behaviour: capability checks and the loud refusal for what a platform lacks."""

    name = "base"
    capabilities = Capability(0)

    @property
    def ready(self) -> bool:
        """Connected and taking updates (for /readyz). The console always is."""
        return self.not_ready is None

    @property
    def not_ready(self) -> str | None:
        """Why the platform is not ready, in a few words, or None when it is."""
        return None

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    async def owner_ids(self, chat: ChatRef) -> set[str]:
        """Who owns the group, where the platform says (a subset of `admin_ids`); else nobody."""
        return set()

    def missing_rights(self, chat: ChatRef) -> set[str]:
        """Admin rights the platform refused the bot in this chat since it started (e.g. Telegram's
        can_restrict_members), for the web console's overview; empty where nothing was refused."""
        return set()

    def can_in(self, chat: ChatRef, capability: Capability) -> bool:
        """Whether `capability` works in this particular chat (`ctx.can` asks this). `can()` tells
        what works in every chat; most platforms answer the same here, but e.g. WeCom can remove
        members only from the groups its app created."""
        return self.can(capability)

    def require(self, capability: Capability, hint: str = "") -> None:
        if not self.can(capability):
            raise CapabilityMissing(self.name, capability, hint)

    def mention(self, user: UserRef) -> str:
        return user.display

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str = "", *, thread_id: str | None = None) -> SentMessage:
        raise CapabilityMissing(self.name, Capability.SEND_PHOTO)

    async def edit(self, chat: ChatRef, message_id: str, text: str, *, buttons: Buttons | None = None) -> None:
        raise CapabilityMissing(self.name, Capability.EDIT)

    async def delete(self, chat: ChatRef, message_id: str) -> None:
        raise CapabilityMissing(self.name, Capability.DELETE)

    async def delete_many(self, chat: ChatRef, message_ids: list[str]) -> None:
        for message_id in message_ids:
            try:
                await self.delete(chat, message_id)
            except ActionFailed as exc:
                if exc.reason != "not_found":
                    raise

    async def restrict(self, chat: ChatRef, user: UserRef, until: datetime | None) -> None:
        raise CapabilityMissing(self.name, Capability.RESTRICT)

    async def unrestrict(self, chat: ChatRef, user: UserRef) -> None:
        raise CapabilityMissing(self.name, Capability.RESTRICT)

    async def kick(self, chat: ChatRef, user: UserRef) -> None:
        raise CapabilityMissing(self.name, Capability.KICK)

    async def ban(self, chat: ChatRef, user: UserRef, until: datetime | None = None, *, revoke_messages: bool = False) -> None:
        raise CapabilityMissing(self.name, Capability.BAN)

    async def unban(self, chat: ChatRef, user: UserRef) -> None:
        raise CapabilityMissing(self.name, Capability.UNBAN)

    async def ban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef) -> None:
        raise CapabilityMissing(self.name, Capability.BAN_SENDER_CHAT)

    async def unban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef) -> None:
        raise CapabilityMissing(self.name, Capability.BAN_SENDER_CHAT)

    async def dm(self, user: UserRef, text: str, *, buttons: Buttons | None = None) -> SentMessage:
        raise CapabilityMissing(self.name, Capability.DM)

    async def answer_button(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None:
        return None

    async def approve_join(self, chat: ChatRef, user: UserRef) -> None:
        raise CapabilityMissing(self.name, Capability.JOIN_REQUESTS)

    async def decline_join(self, chat: ChatRef, user: UserRef) -> None:
        raise CapabilityMissing(self.name, Capability.JOIN_REQUESTS)

    async def admin_ids(self, chat: ChatRef) -> set[str]:
        return set()

    async def download(self, media: Media) -> bytes:
        raise CapabilityMissing(self.name, Capability.DOWNLOAD)
