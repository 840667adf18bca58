"""Repository functions for the core tables. Each takes an AsyncSession; none commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.refs import ChatRef, UserRef
from storage import direct, intake_repo
from storage.db import as_stored, built, dialect_name, insert_ignore, insert_ignoring
from storage.models import AuditEntry, Chat, ChatSettingsRow, Member, MemberTag, SeenEvent


async def get_chat(session: AsyncSession, platform: str, external_id: str) -> Chat | None:
    return await session.scalar(select(Chat).where(Chat.platform == platform, Chat.external_id == external_id))


async def ensure_chat(session: AsyncSession, ref: ChatRef, now: datetime) -> Chat:
    chat = await get_chat(session, ref.platform, ref.id)
    if chat is None:
        await session.execute(
            insert_ignore(
                session,
                Chat,
                {"platform": ref.platform, "external_id": ref.id, "title": ref.title, "created_at": now},
                ["platform", "external_id"],
            )
        )
        chat = await get_chat(session, ref.platform, ref.id)
        assert chat is not None
    elif ref.title and chat.title != ref.title:
        chat.title = ref.title
    return chat


async def migrate_chat(session: AsyncSession, old: ChatRef, new: ChatRef) -> Chat | None:
    """The platform gave the chat a new id: every row keyed on chats.id follows it."""
    chat = await get_chat(session, old.platform, old.id)
    if chat is None:
        return None
    clash = await get_chat(session, new.platform, new.id)
    if clash is not None and clash.id != chat.id:
        # Events for the new id arrived first and created an empty chat; keep the old history.
        await session.execute(delete(Chat).where(Chat.id == clash.id))
        await session.flush()
    chat.previous_external_id = chat.external_id
    chat.external_id = new.id
    if new.title:
        chat.title = new.title
    return chat


async def list_chats(session: AsyncSession, platform: str | None = None) -> list[Chat]:
    query = select(Chat).order_by(Chat.id)
    if platform:
        query = query.where(Chat.platform == platform)
    return list(await session.scalars(query))


async def get_member(session: AsyncSession, chat_id: int, user_id: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.chat_id == chat_id, Member.user_id == user_id))


async def add_member(session: AsyncSession, chat_id: int, user: UserRef, now: datetime, *, seen: bool = True) -> None:
    """Store a member first seen now (nothing when another event stored them meanwhile)."""
    await insert_ignoring(
        session,
        Member,
        {
            "chat_id": chat_id,
            "user_id": user.id,
            "display_name": user.name,
            "username": user.username,
            "role": "member",
            "status": "active",
            "joined_at": now,
            "last_seen_at": now if seen else None,
        },
        ("chat_id", "user_id"),
    )


async def ensure_member(session: AsyncSession, chat_id: int, user: UserRef, now: datetime, *, seen: bool = True) -> Member:
    member = await get_member(session, chat_id, user.id)
    if member is None:
        await add_member(session, chat_id, user, now, seen=seen)
        member = await get_member(session, chat_id, user.id)
        assert member is not None
    else:
        if user.name and member.display_name != user.name:
            member.display_name = user.name
        if user.username and member.username != user.username:
            member.username = user.username
        if seen:
            member.last_seen_at = now
    return member


# The event's one read: the member, the version of the group's stored settings and the rows features
# keep per member (joined as the features declare them), built once per set of joins.
_MEMBER_QUERIES: dict[tuple, Any] = {}


def _member_query(joins: tuple):
    """(the Core select, per entity its model and the attribute names of its columns, in order)."""
    query = _MEMBER_QUERIES.get(joins)
    if query is None:
        entities = [Member, *(model for model, _ in joins)]
        stmt = select(*Member.__table__.c, ChatSettingsRow.__table__.c.updated_at,
                      *(column for model, _ in joins for column in model.__table__.c)).outerjoin(
            ChatSettingsRow, ChatSettingsRow.chat_id == Member.chat_id)
        for model, on in joins:
            stmt = stmt.outerjoin(model, on())
        stmt = stmt.where(Member.chat_id == bindparam("chat_id"), Member.user_id == bindparam("user_id"))
        layout = tuple((model, tuple(model.__mapper__.get_property_by_column(c).key for c in model.__table__.c))
                       for model in entities)
        query = _MEMBER_QUERIES[joins] = (stmt, layout)
    return query


def _marking_query(joins: tuple):
    """The member query with the inbox's done-mark as a WITH that it does not read (PostgreSQL runs
    it all the same, exactly once)."""
    return built(("core.member_marking", joins),
                 lambda: _member_query(joins)[0].add_cte(intake_repo.done_statement().cte("inbox_done")))


async def load_member(session: AsyncSession, chat_id: int, user_id: str, joins: tuple = (),
                      inbox_done: tuple[int, datetime] | None = None):
    """(member, settings version, {model: row or None}) in one statement, or None when the member
    is not stored yet. `joins` are (model, lambda: ON clause against Member) pairs. The rows become
    the session's own (as a load would make them), so changes to them are flushed as usual.
    `inbox_done` (inbox id, time) marks that update done first: on PostgreSQL in the same statement
    (a data-modifying WITH), one round trip fewer for every event; elsewhere as a statement of its own."""
    stmt, layout = _member_query(joins)
    params: dict[str, Any] = {"chat_id": chat_id, "user_id": user_id}
    if inbox_done is not None:
        if dialect_name(session) == "postgresql":
            stmt = _marking_query(joins)
            params.update(intake_repo.done_values(*inbox_done))
        else:
            await intake_repo.mark_done(session, *inbox_done)
    row = (await direct.execute(session, stmt, params)).first()
    if row is None:
        return None
    (_, member_keys), *extra_layout = layout
    member = as_stored(session, Member, dict(zip(member_keys, row)))
    version = row[len(member_keys)]
    at = len(member_keys) + 1
    rows: dict[type, Any] = {}
    for model, keys in extra_layout:
        values = row[at:at + len(keys)]
        at += len(keys)
        # An outer join that found nothing: every column NULL, the primary key among them.
        rows[model] = as_stored(session, model, dict(zip(keys, values))) if any(v is not None for v in values) else None
    # Repositories look here before they read a row of this member that the join found missing.
    session.info[MEMBER_ROWS] = (member.id, rows)
    return member, version, rows


MEMBER_ROWS = "qunzhu.member_rows"


def known_missing(session: AsyncSession, model: type, member_id: int) -> bool:
    """True when the event's member read found no `model` row for this member (so reading it again
    would find none either, unless written since: `forget_missing`)."""
    known = session.info.get(MEMBER_ROWS)
    return known is not None and known[0] == member_id and model in known[1] and known[1][model] is None


def known_now(session: AsyncSession, model: type, member_id: int, row: Any) -> None:
    """`row` of the event's member was written in this transaction: it is no longer missing."""
    known = session.info.get(MEMBER_ROWS)
    if known is not None and known[0] == member_id:
        known[1][model] = row


def note_names(member: Member, user: UserRef) -> None:
    """The platform shows a new name or @username: keep it (an UPDATE only when it changed)."""
    if user.name and member.display_name != user.name:
        member.display_name = user.name
    if user.username and member.username != user.username:
        member.username = user.username


async def write_last_seen(session: AsyncSession, seen: dict[int, datetime]) -> None:
    """Batched last-seen times (bot.tally), member id → time; never moves a time back."""
    rows = [{"b_id": member_id, "b_at": at} for member_id, at in seen.items()]
    await session.execute(
        update(Member.__table__)
        .where(Member.__table__.c.id == bindparam("b_id"))
        .where((Member.__table__.c.last_seen_at.is_(None)) | (Member.__table__.c.last_seen_at < bindparam("b_at")))
        .values(last_seen_at=bindparam("b_at")),
        rows,
    )


async def members_by_user_ids(session: AsyncSession, chat_id: int, user_ids) -> dict[str, Member]:
    """The group's members with these platform user ids, by user id (those not stored are absent)."""
    if not user_ids:
        return {}
    rows = await session.scalars(select(Member).where(Member.chat_id == chat_id, Member.user_id.in_(sorted(user_ids))))
    return {m.user_id: m for m in rows}


async def display_names(session: AsyncSession, member_ids: list[int]) -> dict[int, str]:
    """Member id → the name to show (display name, else @username, else the platform user id)."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(Member.id, Member.display_name, Member.username, Member.user_id).where(Member.id.in_(member_ids))
    )
    return {mid: (name or (f"@{username}" if username else uid)) for mid, name, username, uid in rows.all()}


async def mark_joined(session: AsyncSession, member: Member, now: datetime) -> None:
    member.status = "active"
    member.joined_at = now
    member.left_at = None


async def mark_left(session: AsyncSession, member: Member, now: datetime, status: str = "left") -> None:
    member.status = status
    member.left_at = now


async def set_role(session: AsyncSession, member: Member, role: str) -> None:
    member.role = role


async def tags_of(session: AsyncSession, member_id: int) -> list[str]:
    return list(await session.scalars(select(MemberTag.tag).where(MemberTag.member_id == member_id).order_by(MemberTag.tag)))


async def add_tags(session: AsyncSession, member_id: int, tags: list[str], source: str, now: datetime) -> None:
    if tags:
        await session.execute(
            insert_ignore(
                session,
                MemberTag,
                [{"member_id": member_id, "tag": tag, "source": source, "created_at": now} for tag in tags],
                ["member_id", "tag"],
            )
        )


async def remove_tags(session: AsyncSession, member_id: int, tags: list[str] | None = None, source: str | None = None) -> None:
    query = delete(MemberTag).where(MemberTag.member_id == member_id)
    if tags is not None:
        query = query.where(MemberTag.tag.in_(tags))
    if source is not None:
        query = query.where(MemberTag.source == source)
    await session.execute(query)


async def audit(
    session: AsyncSession,
    *,
    chat_id: int | None,
    at: datetime,
    actor: str,
    action: str,
    target_user_id: str | None = None,
    rule: str | None = None,
    evidence: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        chat_id=chat_id,
        at=at,
        actor=actor,
        action=action,
        target_user_id=target_user_id,
        rule=rule,
        evidence=evidence,
        details=details or {},
    )
    session.add(entry)
    await session.flush()
    return entry


async def amend_audit(session: AsyncSession, audit_id: int | None, *, action: str | None = None, note: str = "") -> None:
    """The platform refused what an audit row records: say what was really done and why."""
    if audit_id is None:
        return
    entry = await session.get(AuditEntry, audit_id)
    if entry is None:
        return
    details = dict(entry.details or {})
    if note:
        details["notes"] = [*details.get("notes", []), note]
    if action is not None:
        details["done"] = action
        entry.action = action
    entry.details = details


async def audit_entries(
    session: AsyncSession, chat_id: int, *, target_user_id: str | None = None, action: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.chat_id == chat_id)
    if target_user_id is not None:
        query = query.where(AuditEntry.target_user_id == target_user_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


async def audit_entry(session: AsyncSession, chat_id: int, entry_id: int) -> AuditEntry | None:
    """The group's audit entry `entry_id` (None: no such entry, or another group's)."""
    entry = await session.get(AuditEntry, entry_id)
    return entry if entry is not None and entry.chat_id == chat_id else None


async def audit_entries_by_id(session: AsyncSession, chat_id: int, ids: list[int]) -> list[AuditEntry]:
    if not ids:
        return []
    return list(await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == chat_id, AuditEntry.id.in_(ids))))


async def mark_undone(session: AsyncSession, entry_id: int, by: str, at: datetime) -> None:
    await session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(undone_at=at, undone_by=by))


async def stored_overrides(session: AsyncSession, chat_id: int) -> dict[str, Any]:
    row = await session.get(ChatSettingsRow, chat_id)
    return dict(row.overrides) if row else {}


async def overrides_with_version(session: AsyncSession, chat_id: int) -> tuple[dict[str, Any], datetime | None]:
    """The stored overrides and when they last changed (None when there are none)."""
    row = await session.get(ChatSettingsRow, chat_id)
    return (dict(row.overrides), row.updated_at) if row else ({}, None)


async def set_override(session: AsyncSession, chat_id: int, path: str, value: Any, by: str, at: datetime) -> None:
    """Store one setting (dotted path, e.g. 'rules.allowed_domains') for the chat."""
    row = await session.get(ChatSettingsRow, chat_id)
    overrides = dict(row.overrides) if row else {}
    node = overrides
    *parents, leaf = path.split(".")
    for part in parents:
        node[part] = dict(node.get(part) or {})
        node = node[part]
    node[leaf] = value
    await replace_overrides(session, chat_id, overrides, by, at)


async def replace_overrides(session: AsyncSession, chat_id: int, overrides: dict[str, Any], by: str, at: datetime) -> None:
    """Store the chat's whole overrides (e.g. without a setting taken back)."""
    row = await session.get(ChatSettingsRow, chat_id)
    if row is None:
        session.add(ChatSettingsRow(chat_id=chat_id, overrides=overrides, updated_at=at, updated_by=by))
    else:
        row.overrides = overrides
        row.updated_at, row.updated_by = at, by


async def first_time_seen(session: AsyncSession, key: str, at: datetime) -> bool:
    """True the first time `key` is offered; False for a redelivery of the same event."""
    result = await session.execute(insert_ignore(session, SeenEvent, {"key": key, "at": at}, ["key"]))
    return bool(result.rowcount)


async def forget_seen_before(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(SeenEvent).where(SeenEvent.at < before))
    return result.rowcount or 0
