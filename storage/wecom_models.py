"""Tables of the wecom feature (migrations: storage/migrations/versions/wecom_*.py, branch 'wecom').

WeCom does not tell who joined or left a customer group: its `change_external_chat` callback only
says "members changed". The adapter reads the group (`externalcontact/groupchat/get`) and compares
it with the member list it saw last, kept here. The same table remembers what kind each chat is
(a group the app created, where members can be removed, or a customer group, where they cannot),
its owner and admins (the employees Qunzhu tells when it cannot act itself), and how far the
message archive (会话内容存档) has been read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class WecomChat(Base):
    __tablename__ = "wecom_chats"

    # The WeCom chat id (appchat chatid, customer group chat_id, or "user:<userid>" for a DM).
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # app: created by the app (appchat API) · customer: a customer group (客户群) · dm · unknown
    kind: Mapped[str] = mapped_column(String(16), default="unknown")
    name: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(128))  # employee userid
    admins: Mapped[list[Any]] = mapped_column(default=list)  # employee userids
    dismissed: Mapped[bool] = mapped_column(default=False)
    refreshed_at: Mapped[datetime | None]  # when kind/owner/admins were last read from WeCom
    snapshot_at: Mapped[datetime | None]  # when the member list below was last read


class WecomChatMember(Base):
    """The member list of a chat as last read from WeCom."""

    __tablename__ = "wecom_chat_members"

    chat_id: Mapped[str] = mapped_column(ForeignKey("wecom_chats.chat_id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    member_type: Mapped[int] = mapped_column(Integer, default=0)  # 1 employee, 2 external contact
    name: Mapped[str | None] = mapped_column(String(255))
    join_time: Mapped[int | None] = mapped_column(BigInteger)  # WeCom's unix time
    join_scene: Mapped[int | None] = mapped_column(Integer)
    invitor: Mapped[str | None] = mapped_column(String(128))


class WecomArchiveCursor(Base):
    """The last message-archive sequence number handled, per archive source."""

    __tablename__ = "wecom_archive_cursor"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


__all__ = ["WecomChat", "WecomChatMember", "WecomArchiveCursor"]
