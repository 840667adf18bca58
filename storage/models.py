"""Core tables: chats, their settings, members, tags, the audit log, de-duplication keys.
Features keep their own tables in storage/<feature>.py on the same Base."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_chats_platform_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    # Set when the platform moved the chat to a new id (Telegram supergroup upgrade).
    previous_external_id: Mapped[str | None] = mapped_column(String(128))

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.external_id}"


class ChatSettingsRow(Base):
    """Settings changed by admin commands at run time, merged over the config file's."""

    __tablename__ = "chat_settings"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(128))


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("chat_id", "user_id", name="uq_members_chat_user"),
        Index("ix_members_chat_last_seen", "chat_id", "last_seen_at"),
        Index("ix_members_chat_joined", "chat_id", "joined_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")  # member | admin | owner
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | left | removed | banned
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]


# @handle lookups compare lower(username) (handles are case-insensitive); the queries must use this
# exact expression for either database to use the index.
Index("ix_members_chat_username", Member.chat_id, func.lower(Member.username))
# The console's members list (storage/web_members_repo.py): its order (joined_at desc, id desc) and
# every column its filters and search read, so a page, a status filter or a name search walks this
# index alone, never the table in joined order. Partial on a condition every row meets (status is
# NOT NULL) so that only queries stating it can use it: the @handle lookups keep to
# ix_members_chat_username rather than scanning this wider covering index of a table without statistics.
LIST_INDEX_WHERE = Member.status.is_not(None)
Index("ix_members_chat_list", Member.chat_id, Member.joined_at, Member.id, Member.status, Member.display_name,
      Member.username, Member.user_id, sqlite_where=LIST_INDEX_WHERE, postgresql_where=LIST_INDEX_WHERE)


class MemberTag(Base):
    __tablename__ = "member_tags"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), default="admin")  # admin | onboarding | rules …
    created_at: Mapped[datetime]


# Members with a tag (the console's tag filter), without reading every group's tags.
Index("ix_member_tags_tag", MemberTag.tag, MemberTag.member_id)


class AuditEntry(Base):
    """Every bot decision and admin action, with its evidence, so it can be reviewed and undone."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_chat_at", "chat_id", "at"), Index("ix_audit_chat_target", "chat_id", "target_user_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(160))  # "bot" or "PLATFORM:USER_ID" of the admin
    action: Mapped[str] = mapped_column(String(64))  # delete, warn, mute, kick, ban, unmute, award …
    target_user_id: Mapped[str | None] = mapped_column(String(128))
    rule: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(160))


class SeenEvent(Base):
    """Keys of events already handled, so a platform's redelivery is handled once."""

    __tablename__ = "seen_events"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)


class DailyCounter(Base):
    """Per-group daily figures kept as the bot runs (messages, joins, violations by rule, …), so
    statistics never scan raw history. `day` is the group's local date; `key` splits a metric
    (e.g. the rule name for violations), '' when unsplit."""

    __tablename__ = "daily_counters"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(48), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyMemberActivity(Base):
    """One row per member per active day: daily active members, top contributors, retention."""

    __tablename__ = "daily_member_activity"
    __table_args__ = (Index("ix_dma_member_day", "member_id", "day"),)

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)


class InboxEntry(Base):
    """An update as the platform sent it, stored before the platform is told it arrived (getUpdates
    offset, webhook or callback answer); `done_at` is set in the transaction that handled it, so a
    restart handles exactly what was received and not done. (platform, key) is the platform's own
    id of the update (Telegram update_id, WeCom MsgId …): a redelivery is recognised here."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "key", name="uq_inbox_platform_key"),
        Index("ix_inbox_pending", "platform", "done_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(191))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class OutboxAction(Base):
    """A platform action a handler queued, written in the handler's transaction and carried out after
    it commits. States: queued → done | failed, or for sends that must not be repeated
    queued → sending → done | failed | uncertain. A restart carries out what is still `queued` and
    marks `sending` rows `uncertain` (they may have arrived; they are never sent again)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state", "state", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_key: Mapped[str] = mapped_column(String(191))
    method: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    follow_up: Mapped[str | None] = mapped_column(String(64))
    follow_up_args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    result: Mapped[str | None] = mapped_column(Text)  # message id of a send, or the refusal
