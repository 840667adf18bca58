"""Platform-neutral events. Adapters build these; handlers read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ChatRef:
    platform: str
    id: str
    title: str | None = None
    # A one-to-one chat with the bot (a DM), not a group: group features (rules, points, stats,
    # columns) leave it alone; onboarding uses it for questions asked by DM.
    private: bool = False
    # The platform's own kind of chat when it matters ("group", "supergroup", "channel" on Telegram);
    # not part of the identity, so refs built from a stored id still compare equal.
    kind: str | None = field(default=None, compare=False)

    @property
    def is_channel(self) -> bool:
        """A broadcast channel: subscribers are not members, nobody is onboarded or judged there."""
        return self.kind == "channel"

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"


@dataclass(frozen=True)
class UserRef:
    platform: str
    id: str
    name: str | None = None
    username: str | None = None
    is_bot: bool = False

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"

    @property
    def display(self) -> str:
        return self.name or (f"@{self.username}" if self.username else self.id)


@dataclass(frozen=True)
class Media:
    """An attachment. `file_id` is whatever the platform's download() takes."""

    kind: str  # photo, document, contact, sticker, video, voice, miniprogram, link_card …
    file_id: str = ""
    mime: str | None = None
    caption: str | None = None
    # Contact cards and mini-program cards carry structured data instead of a file.
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    chat: ChatRef
    user: UserRef
    at: datetime


@dataclass(frozen=True)
class MessageReceived(Event):
    message_id: str
    text: str = ""
    media: tuple[Media, ...] = ()
    forwarded_from: str | None = None
    reply_to: str | None = None
    # The id the platform uses to de-duplicate redeliveries, if different from message_id.
    dedupe_key: str | None = None
    # The forum topic the message was posted in (Telegram message_thread_id): replies go there too.
    thread_id: str | None = None
    # Links the text does not show: text_link entities, URL buttons, caption entities' URLs.
    links: tuple[str, ...] = ()
    # Members named by a mention that carries their id (Telegram text_mention).
    mentioned: tuple[UserRef, ...] = ()
    # Posted in the name of another chat (a channel); `user` is then that chat as a UserRef. None for
    # a member's message and for an anonymous admin posting as the group itself (then `user` is the group).
    sender_chat: ChatRef | None = None
    via_bot: str | None = None  # the inline bot that made the message (its buttons count as links)


@dataclass(frozen=True)
class MessageEdited(Event):
    """A member changed the text of a message they posted earlier (spammers post something harmless,
    then edit a link in). Only the rules look at edits; they are not new activity."""

    message_id: str
    text: str = ""
    media: tuple[Media, ...] = ()
    dedupe_key: str | None = None
    thread_id: str | None = None
    links: tuple[str, ...] = ()
    mentioned: tuple[UserRef, ...] = ()
    sender_chat: ChatRef | None = None
    via_bot: str | None = None


@dataclass(frozen=True)
class CommandInvoked(Event):
    message_id: str
    name: str  # lower-case, without "/" and without "@botname"
    args: tuple[str, ...] = ()
    text: str = ""  # the whole message text
    reply_to: str | None = None
    reply_to_user: UserRef | None = None
    reply_to_text: str = ""  # the replied-to message's text or caption, where the platform sends it
    thread_id: str | None = None
    # Given in the web console (handlers/web) by a signed-in admin or operator: the console checked their
    # rights with the platform, the bot's replies go back to the page (not into the group), and the
    # admin is not counted as a member of the group for it.
    via_web: bool = False


@dataclass(frozen=True)
class MemberJoined(Event):
    invited_by: UserRef | None = None
    via_join_request: bool = False


@dataclass(frozen=True)
class MemberLeft(Event):
    removed_by: UserRef | None = None


@dataclass(frozen=True)
class JoinRequested(Event):
    bio: str | None = None


@dataclass(frozen=True)
class ButtonPressed(Event):
    message_id: str
    data: str
    callback_id: str | None = None
    thread_id: str | None = None


@dataclass(frozen=True)
class ChatMigrated(Event):
    """The chat got a new id (Telegram group → supergroup). `chat` is the old ref."""

    new_chat: ChatRef | None = None


def parse_command(text: str, bot_username: str | None = None) -> tuple[str, tuple[str, ...]] | None:
    """'/mute@qunzhu_bot 1d spam' → ('mute', ('1d', 'spam')); None when text is not a command
    or is addressed to another bot."""
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    name, _, target = head.strip().partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    if not name or not all(c.isalnum() or c == "_" for c in name):
        return None
    return name.lower(), tuple(rest.split())
