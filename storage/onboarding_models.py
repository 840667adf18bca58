"""Tables of the onboarding feature (migrations: storage/migrations/versions/onboarding_*.py, branch 'onboarding').

One questionnaire row per member (reused when they come back), their answers, and the per-group
state (strict mode after a raid, the admin warnings already given)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId


class OnboardingRun(Base):
    """A member's questionnaire: where they are, until when, and how it ended."""

    __tablename__ = "onboarding_runs"
    __table_args__ = (Index("ix_onboarding_runs_status_deadline", "status", "deadline_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), unique=True)
    # pending | done | skipped | removed | declined | refused | left
    status: Mapped[str] = mapped_column(String(16), default="pending")
    step: Mapped[int] = mapped_column(Integer, default=0)  # index of the question being asked
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    via: Mapped[str] = mapped_column(String(8), default="group")  # group | dm: where questions go
    join_request: Mapped[bool] = mapped_column(default=False)  # the member is not in yet: approve/decline
    restricted: Mapped[bool] = mapped_column(default=False)  # we muted them and must lift it
    strict: Mapped[bool] = mapped_column(default=False)  # started during a raid
    invited_by: Mapped[str | None] = mapped_column(String(128))  # platform user id of the inviter
    question_message_id: Mapped[str | None] = mapped_column(String(64))
    # Bot questions and member answers to delete once the member is through.
    cleanup_ids: Mapped[list[Any]] = mapped_column(default=list)
    invalid_answers: Mapped[int] = mapped_column(Integer, default=0)


class OnboardingAnswer(Base):
    __tablename__ = "onboarding_answers"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime]


class OnboardingChatState(Base):
    """Per group: strict mode (raid) and the one-time admin warnings already given."""

    __tablename__ = "onboarding_chat_state"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    raid_since: Mapped[datetime | None]
    raid_until: Mapped[datetime | None]
    raid_peak: Mapped[int] = mapped_column(Integer, default=0)
    warned: Mapped[list[Any]] = mapped_column(default=list)
    # Shared first questions posted in strict mode (message ids), deleted once nobody needs them.
    shared_messages: Mapped[list[Any]] = mapped_column(default=list)
    shared_open: Mapped[bool] = mapped_column(default=False, index=True)  # shared_messages is not empty
