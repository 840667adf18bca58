"""Repository functions of the rules feature. Each takes an AsyncSession; none commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.db import as_stored, built, dialect_name
from storage.models import AuditEntry, Member
from storage.rules_models import RulesMemberState, RulesNotice, RulesSample, RulesStrike


def _state_upsert(dialect: str, joined: bool):
    """The member's state, created if missing; `joined`: (re)started at a join. Built once."""
    table = RulesMemberState.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"chat_id": bindparam("chat"), "user_id": bindparam("user"), "messages": 0,
              "since": bindparam("now", type_=table.c.since.type)}
    if joined:
        values["joined_at"] = bindparam("now", type_=table.c.joined_at.type)
    stmt = insert(table).values(values)
    # A join restarts the count; otherwise DO UPDATE with no change, so RETURNING gives the row either way.
    changes = ({"messages": 0, "since": stmt.excluded.since, "joined_at": stmt.excluded.joined_at} if joined
               else {"chat_id": stmt.excluded.chat_id})
    return stmt.on_conflict_do_update(index_elements=["chat_id", "user_id"], set_=changes).returning(*table.c)


async def _state(session: AsyncSession, chat_id: int, user_id: str, now: datetime, *, joined: bool = False) -> RulesMemberState:
    dialect = dialect_name(session)
    stmt = built(("rules.state", dialect, joined), lambda: _state_upsert(dialect, joined))
    return await _returned(session, stmt, {"chat": chat_id, "user": user_id, "now": now})


async def _returned(session: AsyncSession, stmt, params: dict) -> RulesMemberState:
    row = (await direct.execute(session, stmt, params)).one_mapping()
    return as_stored(session, RulesMemberState, row)


async def note_join(session: AsyncSession, chat_id: int, user_id: str, now: datetime) -> None:
    """The member joined (again): their first messages from now on are a newcomer's."""
    await _state(session, chat_id, user_id, now, joined=True)


async def member_state(session: AsyncSession, chat_id: int, user_id: str, now: datetime) -> RulesMemberState:
    """The member's state (created the first time); its message count is what is stored — add the
    batched count (MESSAGES in bot.tally) for the true figure."""
    return await _state(session, chat_id, user_id, now)


# Batched message counts (bot.tally): (chat id, user id) → messages to add.
MESSAGES = "rules.messages"


async def write_message_counts(session: AsyncSession, counts: dict) -> None:
    table = RulesMemberState.__table__
    await session.execute(
        update(table)
        .where(table.c.chat_id == bindparam("b_chat"), table.c.user_id == bindparam("b_user"))
        .values(messages=table.c.messages + bindparam("b_n")),
        [{"b_chat": chat_id, "b_user": user_id, "b_n": n} for (chat_id, user_id), n in counts.items()],
    )


def member_join():
    """The member's state joined to the event's member read (Router.with_member)."""
    return and_(RulesMemberState.chat_id == Member.chat_id, RulesMemberState.user_id == Member.user_id)


async def active_strikes(session: AsyncSession, chat_id: int, user_id: str, since: datetime) -> list[RulesStrike]:
    query = built(("rules.active_strikes",), lambda: (
        select(RulesStrike)
        .where(RulesStrike.chat_id == bindparam("c"), RulesStrike.user_id == bindparam("u"),
               RulesStrike.at >= bindparam("since", type_=RulesStrike.__table__.c.at.type),
               RulesStrike.cleared_at.is_(None))
        .order_by(RulesStrike.id)
    ))
    return list(await session.scalars(query, {"c": chat_id, "u": user_id, "since": since}))


async def add_strike(session: AsyncSession, *, chat_id: int, user_id: str, at: datetime, rule: str, category: str,
                     action: str, audit_id: int | None) -> RulesStrike:
    strike = RulesStrike(chat_id=chat_id, user_id=user_id, at=at, rule=rule, category=category, action=action,
                         audit_id=audit_id)
    session.add(strike)
    await session.flush()
    return strike


async def clear_strikes(session: AsyncSession, strike_ids: list[int], by: str, at: datetime) -> int:
    if not strike_ids:
        return 0
    result = await session.execute(
        update(RulesStrike).where(RulesStrike.id.in_(strike_ids), RulesStrike.cleared_at.is_(None))
        .values(cleared_at=at, cleared_by=by)
    )
    return result.rowcount or 0


async def set_strike_action(session: AsyncSession, audit_id: int | None, action: str) -> None:
    if audit_id is not None:
        await session.execute(update(RulesStrike).where(RulesStrike.audit_id == audit_id).values(action=action))


async def strikes_of_audit(session: AsyncSession, audit_id: int) -> list[RulesStrike]:
    return list(await session.scalars(select(RulesStrike).where(RulesStrike.audit_id == audit_id)))


async def add_notice(session: AsyncSession, *, chat_id: int, platform: str, external_chat_id: str, message_id: str,
                     delete_at: datetime) -> None:
    session.add(RulesNotice(chat_id=chat_id, platform=platform, external_chat_id=external_chat_id,
                            message_id=message_id, delete_at=delete_at))
    await session.flush()


async def due_notices(session: AsyncSession, now: datetime, limit: int = 100) -> list[RulesNotice]:
    query = (
        select(RulesNotice).where(RulesNotice.done_at.is_(None), RulesNotice.delete_at <= now)
        .order_by(RulesNotice.delete_at).limit(limit)
    )
    return list(await session.scalars(query))


async def pending_notices(session: AsyncSession, chat_id: int) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(RulesNotice).where(RulesNotice.chat_id == chat_id, RulesNotice.done_at.is_(None))
    ) or 0)


async def find_member(session: AsyncSession, chat_id: int, name: str) -> Member | None:
    """A member of the chat by user id or @username (case-insensitive)."""
    name = name.strip()
    by_id = await session.scalar(select(Member).where(Member.chat_id == chat_id, Member.user_id == name))
    if by_id is not None:
        return by_id
    username = name.removeprefix("@").lower()
    return await session.scalar(
        select(Member).where(Member.chat_id == chat_id, func.lower(Member.username) == username).limit(1)
    )


async def known_usernames(session: AsyncSession, chat_id: int, names: list[str]) -> set[str]:
    if not names:
        return set()
    lowered = [n.lower() for n in names]
    rows = await session.scalars(
        select(func.lower(Member.username)).where(Member.chat_id == chat_id, func.lower(Member.username).in_(lowered))
    )
    return {r for r in rows if r}


# --- learning samples (handlers/rules/learning.py) ------------------------------------------------

async def add_sample(session: AsyncSession, *, chat_id: int, audit_id: int | None, source: str, features: list[int],
                     features_version: int, now: datetime, label: str | None = None, by: str | None = None) -> RulesSample:
    sample = RulesSample(chat_id=chat_id, audit_id=audit_id, source=source, label=label, features=features,
                         features_version=features_version, created_at=now,
                         labelled_at=now if label else None, labelled_by=by if label else None)
    session.add(sample)
    await session.flush()
    return sample


async def label_samples(session: AsyncSession, audit_ids: list[int], label: str, by: str, now: datetime, *,
                        unlabelled_only: bool = False) -> int:
    """Label the samples of these decisions (an admin undid or confirmed them); how many there were.
    `unlabelled_only`: leave alone what an admin already labelled."""
    if not audit_ids:
        return 0
    query = update(RulesSample).where(RulesSample.audit_id.in_(audit_ids))
    if unlabelled_only:
        query = query.where(RulesSample.label.is_(None))
    result = await session.execute(query.values(label=label, labelled_at=now, labelled_by=by))
    return result.rowcount or 0


async def removals_of(session: AsyncSession, chat_id: int, user_id: str) -> list[int]:
    """The audit ids of a member's standing removals, the bot's and the admins' (what /unban takes back)."""
    rows = await session.scalars(
        select(AuditEntry.id).where(AuditEntry.chat_id == chat_id, AuditEntry.target_user_id == user_id,
                                    AuditEntry.action.in_(("ban", "kick", "kick_requested")),
                                    AuditEntry.undone_at.is_(None))
    )
    return list(rows)


async def to_review(session: AsyncSession, chat_id: int, since: datetime, limit: int = 10) -> list[AuditEntry]:
    """Automatic decisions made on the model's or a wave's evidence alone that no admin has
    labelled or undone yet, newest first: the admins' review list."""
    query = (
        select(AuditEntry)
        .join(RulesSample, RulesSample.audit_id == AuditEntry.id)
        .where(RulesSample.chat_id == chat_id, RulesSample.source.in_(("model", "wave")),
               RulesSample.label.is_(None), RulesSample.created_at >= since, AuditEntry.undone_at.is_(None))
        .order_by(AuditEntry.id.desc()).limit(limit)
    )
    return list(await session.scalars(query))


async def labelled_samples(session: AsyncSession, features_version: int) -> list[tuple[str, list[int]]]:
    """Every labelled sample made with this version of the features: (label, hashed grams)."""
    rows = await session.execute(
        select(RulesSample.label, RulesSample.features)
        .where(RulesSample.label.is_not(None), RulesSample.features_version == features_version)
        .order_by(RulesSample.id)
    )
    return [(label, list(features)) for label, features in rows]


async def labelled_since(session: AsyncSession, since: datetime | None) -> int:
    query = select(func.count()).select_from(RulesSample).where(RulesSample.label.is_not(None))
    if since is not None:
        query = query.where(RulesSample.labelled_at > since)
    return int(await session.scalar(query) or 0)


async def forget_unlabelled(session: AsyncSession, before: datetime) -> int:
    """Unlabelled samples older than `before` go: nobody will label them now."""
    result = await session.execute(
        delete(RulesSample).where(RulesSample.label.is_(None), RulesSample.created_at < before)
    )
    return result.rowcount or 0
