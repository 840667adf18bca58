"""Tables of the rules feature (migrations: storage/migrations/versions/rules_*.py, branch 'rules')."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId


class RulesStrike(Base):
    """One step on a member's penalty ladder. Strikes inside the group's window decide the next
    penalty; /unwarn, /pardon and /undo clear them (cleared_at) instead of deleting them."""

    __tablename__ = "rules_strikes"
    __table_args__ = (Index("ix_rules_strikes_member", "chat_id", "user_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    rule: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit_log.id", ondelete="SET NULL"), index=True)
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None] = mapped_column(String(160))


class RulesNotice(Base):
    """A public notice to delete at `delete_at` (the rules ticker does it; survives restarts)."""

    __tablename__ = "rules_notices"
    __table_args__ = (Index("ix_rules_notices_due", "done_at", "delete_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_chat_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str] = mapped_column(String(128))
    delete_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class RulesMemberState(Base):
    """How many messages a member has posted since the bot saw them join (newcomers are judged more
    strictly; members the bot never saw join — e.g. from before it was added — are not newcomers)."""

    __tablename__ = "rules_member_state"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    since: Mapped[datetime]  # first seen, or the last join
    joined_at: Mapped[datetime | None]  # when the bot saw them join


class RulesSample(Base):
    """What the model learns from: a judged message as hashed grams (handlers.rules.model.features),
    never its text. Stored unlabelled with each automatic decision; an admin's /undo, /unban or
    /pardon labels it ham, /spam labels it spam (and stores the replied message). Retraining
    (`qunzhu rules-train --from-db`, the [learning] schedule) reads the labelled ones."""

    __tablename__ = "rules_samples"
    __table_args__ = (Index("ix_rules_samples_audit", "audit_id", unique=True),
                      Index("ix_rules_samples_labelled", "label", "labelled_at"),
                      Index("ix_rules_samples_review", "chat_id", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit_log.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(32))  # rules | model | wave | admin
    label: Mapped[str | None] = mapped_column(String(8))  # spam | ham | None (not yet labelled)
    features: Mapped[list[Any]]  # sorted hashed grams
    features_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    labelled_at: Mapped[datetime | None]
    labelled_by: Mapped[str | None] = mapped_column(String(160))
