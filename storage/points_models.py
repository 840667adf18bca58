"""Tables of the points feature (migrations: storage/migrations/versions/points_*.py, branch 'points').

The ledger is append-only and the record: a member's totals (MemberTotals) are kept with each row
and can be rebuilt from it. Every row
carries an idempotency key unique within its chat, so an award offered twice (a redelivered event,
two check-ins racing) is written once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId


class LedgerEntry(Base):
    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("chat_id", "key", name="uq_points_ledger_chat_key"),
        # Covering index: balances, ranks and boards (all-time and week/month) read only the index.
        Index("ix_points_ledger_chat_member", "chat_id", "member_id", "source", "amount", "at"),
        # Rows of one chat in a time range (season views of chats with a long history).
        Index("ix_points_ledger_chat_at", "chat_id", "at", "member_id", "source", "amount"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(32))  # checkin, activity, admin, shop, lottery, onboarding, rules …
    key: Mapped[str] = mapped_column(String(191))
    at: Mapped[datetime]


class Checkin(Base):
    """One row per member per local day; `streak` is the run of consecutive days ending that day."""

    __tablename__ = "points_checkins"
    __table_args__ = (Index("ix_points_checkins_chat_day", "chat_id", "day"),)

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    streak: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime]


class MemberTotals(Base):
    """A member's running totals, kept with every ledger row in the same transaction (so a message
    never sums the ledger): the balance, the growth points (every row but spending), today's
    activity points (for the daily cap, `activity_day` is the group's local day) and the highest
    level already announced. The ledger stays the record; `rebuild_totals` derives these from it."""

    __tablename__ = "points_member_totals"
    __table_args__ = (Index("ix_points_totals_chat_earned", "chat_id", "earned"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    balance: Mapped[int] = mapped_column(Integer, default=0)
    earned: Mapped[int] = mapped_column(Integer, default=0)
    activity_day: Mapped[date | None] = mapped_column(Date)
    activity_today: Mapped[int] = mapped_column(Integer, default=0)
    announced_level: Mapped[int] = mapped_column(Integer, default=1)


class ShopItem(Base):
    __tablename__ = "points_shop_items"
    __table_args__ = (UniqueConstraint("chat_id", "name", name="uq_points_shop_chat_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class ShopOrder(Base):
    __tablename__ = "points_orders"
    __table_args__ = (Index("ix_points_orders_chat_status", "chat_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("points_shop_items.id", ondelete="CASCADE"))
    price: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | fulfilled
    created_at: Mapped[datetime]
    fulfilled_at: Mapped[datetime | None]
    fulfilled_by: Mapped[str | None] = mapped_column(String(160))


class Draw(Base):
    """A lottery. `seed_hash` = sha256(seed) is published when it opens; `seed` is revealed with the result."""

    __tablename__ = "points_draws"
    __table_args__ = (Index("ix_points_draws_status_closes", "status", "closes_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    prize: Mapped[str] = mapped_column(String(255))
    cost: Mapped[int] = mapped_column(Integer, default=0)
    winners: Mapped[int] = mapped_column(Integer, default=1)
    seed: Mapped[str] = mapped_column(String(128))
    seed_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | drawn | cancelled
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    drawn_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DrawEntry(Base):
    __tablename__ = "points_draw_entries"

    draw_id: Mapped[int] = mapped_column(ForeignKey("points_draws.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]


__all__ = ["LedgerEntry", "Checkin", "MemberTotals", "ShopItem", "ShopOrder", "Draw", "DrawEntry"]
