"""A group that lives in the terminal. It has every capability, enforces mutes and bans like a real
platform (a muted member's message is not delivered), and keeps a transcript. People play members
in `qunzhu console`; the demo and most handler tests drive it from code."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot import wire
from bot.events import (
    ButtonPressed,
    ChatRef,
    CommandInvoked,
    JoinRequested,
    Media,
    MemberJoined,
    MemberLeft,
    MessageEdited,
    MessageReceived,
    UserRef,
    parse_command,
)
from bot.platform import ActionFailed, BasePlatform, Button, Buttons, Capability, SentMessage

if TYPE_CHECKING:
    from bot.config import ConsoleSection
    from bot.dispatch import DispatchResult
    from bot.ports import EventSink

PLATFORM = "console"
# Messages kept in the state file (older ones can no longer be replied to, pressed or edited).
KEEP_MESSAGES = 500

log = logging.getLogger(__name__)


@dataclass
class ConsoleMessage:
    id: str
    chat_id: str
    sender: str  # user id, or "bot"
    text: str
    buttons: Buttons | None = None
    reply_to: str | None = None
    media: tuple[Media, ...] = ()
    deleted: bool = False
    dm_to: str | None = None


@dataclass
class ConsoleMember:
    user: UserRef
    present: bool = True
    restricted_until: datetime | None = None
    restricted: bool = False
    banned: bool = False
    pending_request: bool = False


@dataclass
class ConsoleChat:
    ref: ChatRef
    members: dict[str, ConsoleMember] = field(default_factory=dict)


class ConsolePlatform(BasePlatform):
    name = PLATFORM

    def __init__(
        self,
        cfg: "ConsoleSection",
        sink: "EventSink",
        *,
        out: Callable[[str], None] | None = None,
        capabilities: Capability | None = None,
        dm_blocked: set[str] | None = None,
    ):
        self.sink = sink
        self.capabilities = Capability.all() if capabilities is None else capabilities
        self.out = out
        self.dm_blocked = set(dm_blocked or ())
        self.transcript: list[str] = []
        self.messages: dict[str, ConsoleMessage] = {}
        self.chats: dict[str, ConsoleChat] = {}
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._callbacks = itertools.count(1)
        self._pending: set[asyncio.Future] = set()
        self.state_path: Path | None = None
        self.default_chat = ChatRef(PLATFORM, cfg.chat_id, cfg.chat_title)
        self.admins = set(cfg.admins)
        self.owners: set[str] = set()  # console users that own the group (tests set it)
        self.chat(self.default_chat.id)

    # --- state helpers -----------------------------------------------------------------------
    def chat(self, chat_id: str | None = None, title: str | None = None) -> ConsoleChat:
        chat_id = chat_id or self.default_chat.id
        if chat_id not in self.chats:
            ref = self.default_chat if chat_id == self.default_chat.id else ChatRef(PLATFORM, chat_id, title or chat_id)
            self.chats[chat_id] = ConsoleChat(ref)
        return self.chats[chat_id]

    def user(self, name: str) -> UserRef:
        return UserRef(PLATFORM, name, name=name, username=name)

    def member(self, user_id: str, chat_id: str | None = None) -> ConsoleMember | None:
        return self.chat(chat_id).members.get(user_id)

    def is_muted(self, user_id: str, chat_id: str | None = None) -> bool:
        m = self.member(user_id, chat_id)
        if m is None or not m.restricted:
            return False
        return m.restricted_until is None or m.restricted_until > self.sink.clock.now()

    def is_present(self, user_id: str, chat_id: str | None = None) -> bool:
        m = self.member(user_id, chat_id)
        return bool(m and m.present)

    def bot_messages(self, chat_id: str | None = None, *, include_deleted: bool = False) -> list[ConsoleMessage]:
        chat_id = chat_id or self.default_chat.id
        return [
            m
            for m in self.messages.values()
            if m.sender == "bot" and m.chat_id == chat_id and m.dm_to is None and (include_deleted or not m.deleted)
        ]

    def dms(self, user_id: str) -> list[ConsoleMessage]:
        return [m for m in self.messages.values() if m.dm_to == user_id]

    def _emit(self, line: str) -> None:
        self.transcript.append(line)
        if self.out:
            self.out(line)
        self._save()

    # --- state across restarts (`qunzhu console -c FILE`) -------------------------------------
    def keep_state(self, path: Path) -> None:
        """Remember members and recent messages in `path` (JSON) and load what it holds, so a
        restarted console continues the message numbers and knows who is in the group."""
        self.state_path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("console state %s unreadable (%s); starting afresh", path, exc)
            return
        self._ids = itertools.count(int(data.get("next_id", 1)))
        for chat_id, chat in data.get("chats", {}).items():
            target = self.chat(chat_id, chat.get("title"))
            for user_id, m in chat.get("members", {}).items():
                until = m.get("restricted_until")
                target.members[user_id] = ConsoleMember(
                    self.user(user_id), present=m.get("present", True),
                    restricted_until=datetime.fromisoformat(until) if until else None,
                    restricted=m.get("restricted", False), banned=m.get("banned", False),
                    pending_request=m.get("pending_request", False))
        for m in data.get("messages", []):
            buttons = [[Button(t, d) for t, d in row] for row in m["buttons"]] if m.get("buttons") else None
            self.messages[m["id"]] = ConsoleMessage(m["id"], m["chat_id"], m["sender"], m["text"], buttons,
                                                    m.get("reply_to"), deleted=m.get("deleted", False),
                                                    dm_to=m.get("dm_to"))

    @property
    def next_message_id(self) -> int:
        next_id = next(self._ids)
        self._ids = itertools.count(next_id)
        return next_id

    def _save(self) -> None:
        if self.state_path is None:
            return
        next_id = self.next_message_id
        messages = list(self.messages.values())[-KEEP_MESSAGES:]
        data = {
            "next_id": next_id,
            "chats": {
                cid: {"title": c.ref.title, "members": {
                    uid: {"present": m.present, "restricted": m.restricted, "banned": m.banned,
                          "pending_request": m.pending_request,
                          "restricted_until": m.restricted_until.isoformat() if m.restricted_until else None}
                    for uid, m in c.members.items()}}
                for cid, c in self.chats.items()
            },
            "messages": [
                {"id": m.id, "chat_id": m.chat_id, "sender": m.sender, "text": m.text, "reply_to": m.reply_to,
                 "deleted": m.deleted, "dm_to": m.dm_to,
                 "buttons": [[[b.text, b.data] for b in row] for row in m.buttons] if m.buttons else None}
                for m in messages
            ],
        }
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.state_path)
        except OSError as exc:
            log.warning("cannot write the console state %s: %s", self.state_path, exc)

    def _title(self, chat_id: str) -> str:
        return self.chat(chat_id).ref.title or chat_id

    def _new_id(self) -> str:
        return str(next(self._ids))

    # --- what members do (REPL, demo, tests) -------------------------------------------------
    async def _deliver(self, event) -> "DispatchResult":
        result = await self.sink.dispatch(event)
        await self.settle()
        return result

    async def settle(self) -> None:
        """Wait for the events the platform itself raised (a removed member's leave) to be handled."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _raise_left(self, chat: ChatRef, user: UserRef) -> None:
        # Like Telegram's chat_member update after a ban: the leave arrives as its own event, later
        # (dispatching it inline would wait on the lock of the chat whose handler is removing them).
        bot = UserRef(PLATFORM, "bot", name=self.sink.bot_name, is_bot=True)
        task = asyncio.ensure_future(self.sink.dispatch(MemberLeft(chat, user, self.sink.clock.now(), removed_by=bot)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def stop(self) -> None:
        await self.settle()

    async def join(self, name: str, *, chat_id: str | None = None, invited_by: str | None = None) -> "DispatchResult | None":
        chat = self.chat(chat_id)
        user = self.user(name)
        member = chat.members.get(name)
        if member and member.banned:
            self._emit(f"[{chat.ref.title}] ⛔ {name} is banned and cannot join")
            return None
        chat.members[name] = ConsoleMember(user) if member is None else member
        chat.members[name].present = True
        chat.members[name].pending_request = False
        self._emit(f"[{chat.ref.title}] ➕ {name} joined")
        inviter = self.user(invited_by) if invited_by else None
        return await self._deliver(MemberJoined(chat.ref, user, self.sink.clock.now(), invited_by=inviter))

    async def request_join(self, name: str, *, chat_id: str | None = None) -> "DispatchResult":
        chat = self.chat(chat_id)
        user = self.user(name)
        chat.members.setdefault(name, ConsoleMember(user, present=False)).pending_request = True
        self._emit(f"[{chat.ref.title}] ✋ {name} asks to join")
        return await self._deliver(JoinRequested(chat.ref, user, self.sink.clock.now()))

    async def leave(self, name: str, *, chat_id: str | None = None) -> "DispatchResult | None":
        chat = self.chat(chat_id)
        member = chat.members.get(name)
        if not member or not member.present:
            return None
        member.present = False
        self._emit(f"[{chat.ref.title}] ➖ {name} left")
        return await self._deliver(MemberLeft(chat.ref, member.user, self.sink.clock.now()))

    async def say(
        self,
        name: str,
        text: str = "",
        *,
        chat_id: str | None = None,
        reply_to: str | None = None,
        media: tuple[Media, ...] = (),
        forwarded_from: str | None = None,
    ) -> tuple[str | None, "DispatchResult | None"]:
        """A member posts. Returns (message id, dispatch result); (None, None) when the platform
        refuses the message (muted, banned or not in the group), as Telegram would."""
        chat = self.chat(chat_id)
        member = chat.members.get(name)
        if member is None:
            await self.join(name, chat_id=chat.ref.id)
            member = chat.members[name]
        if member.banned or not member.present:
            self._emit(f"[{chat.ref.title}] ⛔ {name} is not in the group; message not delivered")
            return None, None
        if self.is_muted(name, chat.ref.id):
            self._emit(f"[{chat.ref.title}] 🔇 {name} is muted; message not delivered")
            return None, None
        message_id = self._new_id()
        self.messages[message_id] = ConsoleMessage(message_id, chat.ref.id, name, text, reply_to=reply_to, media=media)
        shown = text or " ".join(f"[{m.kind}]" for m in media)
        self._emit(f"[{chat.ref.title}] #{message_id} {name}: {shown}" + (f" (↩ #{reply_to})" if reply_to else ""))
        user = member.user
        now = self.sink.clock.now()
        command = parse_command(text, self.sink.bot_name)
        if command:
            replied = self.messages.get(reply_to) if reply_to else None
            reply_user = None
            if replied is not None and replied.sender != "bot":
                reply_user = self.user(replied.sender)
            event = CommandInvoked(
                chat.ref, user, now, message_id=message_id, name=command[0], args=command[1],
                text=text, reply_to=reply_to, reply_to_user=reply_user,
                reply_to_text=replied.text if replied is not None else "",
            )
        else:
            event = MessageReceived(
                chat.ref, user, now, message_id=message_id, text=text, media=media,
                forwarded_from=forwarded_from, reply_to=reply_to,
            )
        return message_id, await self._deliver(event)

    async def edit_own(self, name: str, message_id: str, text: str) -> "DispatchResult | None":
        """A member edits a message they posted. None when it is gone or not theirs."""
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.sender != name:
            return None
        message.text = text
        chat = self.chat(message.chat_id)
        self._emit(f"[{chat.ref.title}] ✎ {name} edited #{message_id}: {text}")
        return await self._deliver(MessageEdited(chat.ref, self.user(name), self.sink.clock.now(),
                                                 message_id=message_id, text=text, media=message.media))

    async def post_photo(self, name: str, photo: bytes, *, caption: str = "", chat_id: str | None = None):
        file_id = "file-" + hashlib.sha1(photo).hexdigest()[:16]
        self.files[file_id] = photo
        return await self.say(name, caption, chat_id=chat_id, media=(Media("photo", file_id, "image/png", caption),))

    async def press(self, name: str, message_id: str, choice: int | str) -> "DispatchResult":
        """Press a button on a bot message: by index (0-based, row-major) or by its data."""
        message = self.messages.get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"no message #{message_id}")
        flat = [b for row in (message.buttons or []) for b in row]
        if not flat:
            raise LookupError(f"message #{message_id} has no buttons")
        if isinstance(choice, int):
            if not 0 <= choice < len(flat):
                raise LookupError(f"message #{message_id} has buttons 0–{len(flat) - 1}, not {choice}")
            button = flat[choice]
        else:
            button = next((b for b in flat if b.data == choice or b.text == choice), None)
            if button is None:
                raise LookupError(f"message #{message_id} has no button {choice!r}")
        chat = self.chat(message.chat_id)
        user = chat.members.get(name, ConsoleMember(self.user(name))).user
        self._emit(f"[{chat.ref.title}] 👆 {name} pressed [{button.text}] on #{message_id}")
        return await self._deliver(
            ButtonPressed(chat.ref, user, self.sink.clock.now(), message_id=message_id, data=button.data,
                          callback_id=f"cb{next(self._callbacks)}")
        )

    # --- what the bot does (the Platform protocol) --------------------------------------------
    def mention(self, user: UserRef) -> str:
        return f"@{user.username or user.name or user.id}"

    async def send(self, chat: ChatRef, text: str, *, reply_to: str | None = None, buttons: Buttons | None = None,
                   thread_id: str | None = None) -> SentMessage:
        self.require(Capability.SEND)
        if buttons:
            self.require(Capability.BUTTONS)
        await wire.mark()
        message_id = self._new_id()
        self.messages[message_id] = ConsoleMessage(message_id, chat.id, "bot", text, buttons, reply_to)
        self._emit(self._render_bot(chat.id, message_id, text, buttons, reply_to))
        return SentMessage(chat, message_id)

    def _render_bot(self, chat_id: str, message_id: str, text: str, buttons: Buttons | None, reply_to: str | None) -> str:
        head = f"[{self._title(chat_id)}] #{message_id} 🤖 {self.sink.bot_name}" + (f" (↩ #{reply_to})" if reply_to else "")
        body = text.replace("\n", "\n    ")
        line = f"{head}: {body}"
        if buttons:
            flat = [b for row in buttons for b in row]
            line += "\n    " + "  ".join(f"[{i}:{b.text}]" for i, b in enumerate(flat))
        return line

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str = "", *, thread_id: str | None = None) -> SentMessage:
        self.require(Capability.SEND_PHOTO)
        await wire.mark()
        message_id = self._new_id()
        file_id = "file-" + hashlib.sha1(photo).hexdigest()[:16]
        self.files[file_id] = photo
        self.messages[message_id] = ConsoleMessage(message_id, chat.id, "bot", caption, media=(Media("photo", file_id, "image/png"),))
        self._emit(f"[{self._title(chat.id)}] #{message_id} 🤖 {self.sink.bot_name}: [photo {len(photo)} bytes] {caption}")
        return SentMessage(chat, message_id)

    async def edit(self, chat: ChatRef, message_id: str, text: str, *, buttons: Buttons | None = None) -> None:
        self.require(Capability.EDIT)
        message = self.messages.get(message_id)
        if message is None or message.deleted:
            raise ActionFailed("not_found", f"message #{message_id}")
        message.text, message.buttons = text, buttons
        self._emit(f"[{self._title(chat.id)}] ✎ edited #{message_id}: {text}")

    async def delete(self, chat: ChatRef, message_id: str) -> None:
        self.require(Capability.DELETE)
        message = self.messages.get(message_id)
        if message is None or message.deleted:
            raise ActionFailed("not_found", f"message #{message_id}")
        message.deleted = True
        self._emit(f"[{self._title(chat.id)}] ✂ deleted #{message_id} ({message.sender})")

    async def restrict(self, chat: ChatRef, user: UserRef, until: datetime | None) -> None:
        self.require(Capability.RESTRICT)
        member = self.chat(chat.id).members.setdefault(user.id, ConsoleMember(user))
        member.restricted, member.restricted_until = True, until
        self._emit(f"[{self._title(chat.id)}] 🔇 {user.id} muted" + (f" until {until:%Y-%m-%d %H:%M} UTC" if until else ""))

    async def unrestrict(self, chat: ChatRef, user: UserRef) -> None:
        self.require(Capability.RESTRICT)
        member = self.chat(chat.id).members.setdefault(user.id, ConsoleMember(user))
        member.restricted, member.restricted_until = False, None
        self._emit(f"[{self._title(chat.id)}] 🔈 {user.id} may post again")

    async def kick(self, chat: ChatRef, user: UserRef) -> None:
        self.require(Capability.KICK)
        member = self.chat(chat.id).members.get(user.id)
        if member is None or not member.present:
            raise ActionFailed("not_found", f"{user.id} is not in the group")
        member.present = False
        self._emit(f"[{self._title(chat.id)}] 👢 {user.id} removed (may rejoin)")
        self._raise_left(self.chat(chat.id).ref, member.user)

    async def ban(self, chat: ChatRef, user: UserRef, until: datetime | None = None, *, revoke_messages: bool = False) -> None:
        self.require(Capability.BAN)
        member = self.chat(chat.id).members.setdefault(user.id, ConsoleMember(user))
        was_present = member.present
        member.present, member.banned = False, True
        if was_present:
            self._raise_left(self.chat(chat.id).ref, member.user)
        self._emit(f"[{self._title(chat.id)}] ⛔ {user.id} banned" + (f" until {until:%Y-%m-%d}" if until else ""))

    async def unban(self, chat: ChatRef, user: UserRef) -> None:
        self.require(Capability.UNBAN)
        member = self.chat(chat.id).members.get(user.id)
        if member is not None:
            member.banned = False
        self._emit(f"[{self._title(chat.id)}] ✅ {user.id} unbanned")

    async def dm(self, user: UserRef, text: str, *, buttons: Buttons | None = None) -> SentMessage:
        self.require(Capability.DM)
        if user.id in self.dm_blocked:
            raise ActionFailed("dm_blocked", f"{user.id} does not accept direct messages from the bot")
        await wire.mark()
        message_id = self._new_id()
        self.messages[message_id] = ConsoleMessage(message_id, f"dm:{user.id}", "bot", text, buttons, dm_to=user.id)
        line = f"[DM → {user.id}] #{message_id} 🤖 {text}"
        if buttons:
            line += "\n    " + "  ".join(f"[{i}:{b.text}]" for i, b in enumerate(b for row in buttons for b in row))
        self._emit(line)
        return SentMessage(None, message_id)

    async def answer_button(self, callback_id: str, text: str | None = None, *, alert: bool = False) -> None:
        if text:
            self._emit(f"    (toast{' alert' if alert else ''}: {text})")

    async def approve_join(self, chat: ChatRef, user: UserRef) -> None:
        self.require(Capability.JOIN_REQUESTS)
        member = self.chat(chat.id).members.setdefault(user.id, ConsoleMember(user, present=False))
        was_present = member.present
        member.pending_request, member.present = False, True
        self._emit(f"[{self._title(chat.id)}] ✅ join request of {user.id} approved")
        if not was_present:
            # Like Telegram's chat_member update after an approval: the join is its own event, later.
            task = asyncio.ensure_future(self.sink.dispatch(MemberJoined(self.chat(chat.id).ref, member.user, self.sink.clock.now(),
                                                                        via_join_request=True)))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def decline_join(self, chat: ChatRef, user: UserRef) -> None:
        self.require(Capability.JOIN_REQUESTS)
        member = self.chat(chat.id).members.setdefault(user.id, ConsoleMember(user, present=False))
        member.pending_request = False
        self._emit(f"[{self._title(chat.id)}] ❌ join request of {user.id} declined")

    async def admin_ids(self, chat: ChatRef) -> set[str]:
        self.require(Capability.ADMIN_LIST)
        return set(self.admins) | self.owners

    async def owner_ids(self, chat: ChatRef) -> set[str]:
        self.require(Capability.ADMIN_LIST)
        return set(self.owners)

    async def download(self, media: Media) -> bytes:
        self.require(Capability.DOWNLOAD)
        try:
            return self.files[media.file_id]
        except KeyError:
            raise ActionFailed("not_found", f"file {media.file_id}") from None
