"""Tables of the columns feature (migrations: storage/migrations/versions/columns_*.py, branch 'columns').

`column_posts` is the source of truth for "was this slot posted in this group": one row per
(source, chat, slot), inserted (claimed) and committed before anything is sent. Its `status`
walks claimed → sending → sent | failed; or skipped (missed beyond the grace window, or nothing
to post) or unknown (the process died while sending: reported, never re-sent).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId


class ColumnPost(Base):
    __tablename__ = "column_posts"
    __table_args__ = (
        UniqueConstraint("source", "chat_id", "slot", name="uq_column_posts_source_chat_slot"),
        Index("ix_column_posts_status_updated", "status", "updated_at"),
        Index("ix_column_posts_source_slot", "source", "slot"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A column's name, or "campaign:<run id>" for a campaign step.
    source: Mapped[str] = mapped_column(String(160))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    # The slot's key: its UTC time "2026-03-02T00:00Z" (campaign steps add "#<step>").
    slot: Mapped[str] = mapped_column(String(48))
    slot_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # claimed | sending | sent | failed | skipped | unknown
    owner: Mapped[str | None] = mapped_column(String(64))  # the instance that claimed it
    claimed_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    message_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)  # why it failed or was skipped


class ColumnNotice(Base):
    """Keys of admin notes already sent (so two instances or two ticks say a thing once)."""

    __tablename__ = "column_notices"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime]


class ColumnState(Base):
    """Run-time state of a column: when it was first seen (slots before that are not "missed"),
    a pause for every group, a template set by an admin, and, for columns defined by an admin
    command, the definition itself."""

    __tablename__ = "column_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    template: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(160))


class ColumnGroupPause(Base):
    __tablename__ = "column_group_pauses"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[datetime]
    by: Mapped[str | None] = mapped_column(String(160))


class ColumnQueueItem(Base):
    """An item of a queue column; `slot` is set when a slot takes it (each item is used once)."""

    __tablename__ = "column_queue_items"
    __table_args__ = (Index("ix_column_queue_name_slot", "name", "slot"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str | None] = mapped_column(String(160))
    added_at: Mapped[datetime]
    slot: Mapped[str | None] = mapped_column(String(48))
    used_at: Mapped[datetime | None]


class CampaignRun(Base):
    """A campaign started in one group: its steps fall at offsets from `start_date` (Day 1)."""

    __tablename__ = "campaign_runs"
    __table_args__ = (Index("ix_campaign_runs_status", "status"), Index("ix_campaign_runs_chat", "chat_id", "campaign"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    start_date: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # active | paused | stopped | finished
    started_at: Mapped[datetime]
    started_by: Mapped[str | None] = mapped_column(String(160))
    updated_at: Mapped[datetime]
