"""Tables of the stats feature (migrations: storage/migrations/versions/stats_*.py, branch 'stats').

The figures themselves live in the core's daily aggregates. This feature adds:
- an index on members (chat_id, status), so "members now" and the tag distribution of a
  100,000-member group are index-only counts;
- `stats_snapshots`: results over closed days (the days before today), computed once per group and
  local day and reused by every /stats that day: per-member message totals of the window before today
  (top contributors, distinct posters) and the weekly retention cohorts. Today's activity is always
  added live, so a snapshot never hides a message."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Member

Index("ix_members_chat_status", Member.chat_id, Member.status)


class StatsSnapshot(Base):
    __tablename__ = "stats_snapshots"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the group's local "today" it was made for
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "window:90", "cohorts:4"
    payload: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime]
