"""Queries of the console's review list, audit log and settings editor (handlers/web/pages/review.py,
audit.py, settings.py). Each takes the caller's session and never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry
from storage.rules_models import RulesSample

# What the bot or an admin did to a member for the rules (the review list); a "report" counts only
# as the bot's penalty (a member's /report is an audit row too, but no decision).
PENALTIES = ("delete", "warn", "mute", "kick", "ban", "kick_requested")


def _decision():
    return or_(AuditEntry.action.in_(PENALTIES), and_(AuditEntry.action == "report", AuditEntry.actor == "bot"))


async def _page(session: AsyncSession, where: list, offset: int, limit: int) -> tuple[list[AuditEntry], int]:
    total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = await session.scalars(
        select(AuditEntry).where(*where).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset(offset).limit(limit))
    return list(rows), int(total)


async def decisions(session: AsyncSession, chat_id: int, *, undone: bool | None = None, by: str | None = None,
                    offset: int = 0, limit: int = 50) -> tuple[list[AuditEntry], int]:
    """The group's moderation decisions, newest first, and how many match. `by`: "bot" or "admin"."""
    where = [AuditEntry.chat_id == chat_id, _decision()]
    if undone is not None:
        where.append(AuditEntry.undone_at.is_not(None) if undone else AuditEntry.undone_at.is_(None))
    if by == "bot":
        where.append(AuditEntry.actor == "bot")
    elif by == "admin":
        where.append(AuditEntry.actor != "bot")
    return await _page(session, where, offset, limit)


async def entries(session: AsyncSession, chat_id: int, *, action: str | None = None, actor: str | None = None,
                  target: str | None = None, since: datetime | None = None, until: datetime | None = None,
                  offset: int = 0, limit: int = 50) -> tuple[list[AuditEntry], int]:
    """Every audit row of the group matching the filters (`until` excluded), newest first, and how many match."""
    where = [AuditEntry.chat_id == chat_id]
    if action:
        where.append(AuditEntry.action == action)
    if actor:
        where.append(AuditEntry.actor == actor)
    if target:
        where.append(AuditEntry.target_user_id == target)
    if since is not None:
        where.append(AuditEntry.at >= since)
    if until is not None:
        where.append(AuditEntry.at < until)
    return await _page(session, where, offset, limit)


async def actions_in(session: AsyncSession, chat_id: int, limit: int = 200) -> list[str]:
    """The actions the group's audit log has (for the filter's suggestions)."""
    rows = await session.scalars(
        select(AuditEntry.action).where(AuditEntry.chat_id == chat_id).group_by(AuditEntry.action)
        .order_by(AuditEntry.action).limit(limit))
    return list(rows)


async def sample_labels(session: AsyncSession, audit_ids: list[int]) -> dict[int, str | None]:
    """For each decision that kept a learning sample: its label (spam, ham or None: not labelled)."""
    if not audit_ids:
        return {}
    rows = await session.execute(select(RulesSample.audit_id, RulesSample.label).where(RulesSample.audit_id.in_(audit_ids)))
    return {audit_id: label for audit_id, label in rows}
