"""Repository functions of the columns feature. Each takes an AsyncSession; none commits.

The claim protocol (see the README's columns section): a post row is inserted with ON CONFLICT DO
NOTHING and committed before anything is sent; the one instance whose insert landed owns it.
`start_sending` is a compare-and-set claimed → sending, committed on its own at the moment the
request leaves (the engine's `bot.wire.about_to_send` hook), so an expired claim taken over by
another instance can never be sent by both.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.columns_models import CampaignRun, ColumnGroupPause, ColumnNotice, ColumnPost, ColumnQueueItem, ColumnState
from storage.db import dialect_insert, insert_ignore


# --- posts (claims) ---------------------------------------------------------------------------
async def existing_posts(session: AsyncSession, source: str, slot: str, chat_ids: list[int] | None = None) -> dict[int, str]:
    """chat id → status of the rows of one slot."""
    query = select(ColumnPost.chat_id, ColumnPost.status).where(ColumnPost.source == source, ColumnPost.slot == slot)
    if chat_ids is not None:
        query = query.where(ColumnPost.chat_id.in_(chat_ids))
    return {chat_id: status for chat_id, status in (await session.execute(query)).all()}


async def insert_posts(
    session: AsyncSession,
    source: str,
    slot: str,
    slot_at: datetime,
    chat_ids: list[int],
    *,
    status: str,
    owner: str | None,
    now: datetime,
    detail: str | None = None,
) -> list[tuple[int, int]]:
    """Insert rows that do not exist yet; returns (post id, chat id) of the rows this call inserted."""
    if not chat_ids:
        return []
    insert = dialect_insert(session)
    rows = [
        {
            "source": source, "chat_id": chat_id, "slot": slot, "slot_at": slot_at, "status": status,
            "owner": owner, "claimed_at": now, "updated_at": now, "detail": detail,
        }
        for chat_id in chat_ids
    ]
    out: list[tuple[int, int]] = []
    for start in range(0, len(rows), 500):
        stmt = (
            insert(ColumnPost)
            .values(rows[start:start + 500])
            .on_conflict_do_nothing(index_elements=["source", "chat_id", "slot"])
            .returning(ColumnPost.id, ColumnPost.chat_id)
        )
        out += [(post_id, chat_id) for post_id, chat_id in (await session.execute(stmt)).all()]
    return out


async def posts_of_slot(session: AsyncSession, source: str, slot: str) -> list[ColumnPost]:
    return list(await session.scalars(select(ColumnPost).where(ColumnPost.source == source, ColumnPost.slot == slot)))


async def skip_claim(session: AsyncSession, post: ColumnPost, now: datetime, detail: str) -> bool:
    """An expired claim that nobody started sending, now beyond the grace window: skipped."""
    result = await session.execute(
        update(ColumnPost)
        .where(ColumnPost.id == post.id, ColumnPost.status == "claimed", ColumnPost.owner == post.owner, ColumnPost.claimed_at == post.claimed_at)
        .values(status="skipped", updated_at=now, detail=detail)
    )
    return result.rowcount == 1


async def start_sending(session: AsyncSession, post_id: int, owner: str, now: datetime) -> bool:
    result = await session.execute(
        update(ColumnPost)
        .where(ColumnPost.id == post_id, ColumnPost.status == "claimed", ColumnPost.owner == owner)
        .values(status="sending", updated_at=now)
    )
    return result.rowcount == 1


async def finish(session: AsyncSession, post_id: int, status: str, now: datetime, *, message_id: str | None = None, detail: str | None = None) -> None:
    await session.execute(
        update(ColumnPost).where(ColumnPost.id == post_id).values(status=status, updated_at=now, message_id=message_id, detail=detail)
    )


async def expired_claims(session: AsyncSession, before: datetime, limit: int = 2000) -> list[ColumnPost]:
    query = select(ColumnPost).where(ColumnPost.status == "claimed", ColumnPost.claimed_at < before).order_by(ColumnPost.id).limit(limit)
    return list(await session.scalars(query))


async def take_over(session: AsyncSession, post: ColumnPost, owner: str, now: datetime) -> bool:
    result = await session.execute(
        update(ColumnPost)
        .where(ColumnPost.id == post.id, ColumnPost.status == "claimed", ColumnPost.owner == post.owner, ColumnPost.claimed_at == post.claimed_at)
        .values(owner=owner, claimed_at=now, updated_at=now)
    )
    return result.rowcount == 1


async def stale_sending(session: AsyncSession, before: datetime, limit: int = 2000) -> list[ColumnPost]:
    query = select(ColumnPost).where(ColumnPost.status == "sending", ColumnPost.updated_at < before).order_by(ColumnPost.id).limit(limit)
    return list(await session.scalars(query))


async def mark_unknown(session: AsyncSession, post: ColumnPost, now: datetime) -> bool:
    result = await session.execute(
        update(ColumnPost)
        .where(ColumnPost.id == post.id, ColumnPost.status == "sending", ColumnPost.updated_at == post.updated_at)
        .values(status="unknown", updated_at=now, detail="the bot stopped while sending; not re-sent")
    )
    return result.rowcount == 1


async def posts_of(session: AsyncSession, source: str | None = None, chat_id: int | None = None) -> list[ColumnPost]:
    query = select(ColumnPost)
    if source is not None:
        query = query.where(ColumnPost.source == source)
    if chat_id is not None:
        query = query.where(ColumnPost.chat_id == chat_id)
    return list(await session.scalars(query.order_by(ColumnPost.id)))


async def last_post(session: AsyncSession, source: str, chat_id: int) -> ColumnPost | None:
    query = (
        select(ColumnPost)
        .where(ColumnPost.source == source, ColumnPost.chat_id == chat_id, ColumnPost.status.in_(("sent", "sending", "claimed")))
        .order_by(ColumnPost.slot_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def stored_overrides_all(session: AsyncSession) -> dict[int, dict[str, Any]]:
    """Every chat's settings changed by admin commands, by chat id (one query for a fan-out)."""
    from storage.models import ChatSettingsRow

    rows = await session.execute(select(ChatSettingsRow.chat_id, ChatSettingsRow.overrides))
    return {chat_id: dict(overrides or {}) for chat_id, overrides in rows.all()}


# --- admin notes, said once ------------------------------------------------------------------
async def first_notice(session: AsyncSession, key: str, now: datetime) -> bool:
    result = await session.execute(insert_ignore(session, ColumnNotice, {"key": key[:255], "at": now}, ["key"]))
    return bool(result.rowcount)


# --- column state ----------------------------------------------------------------------------
async def ensure_states(session: AsyncSession, names: list[str], now: datetime) -> dict[str, ColumnState]:
    if names:
        await session.execute(
            insert_ignore(
                session,
                ColumnState,
                [{"name": n, "first_seen_at": now, "paused": False, "updated_at": now} for n in names],
                ["name"],
            )
        )
    return await states(session)


async def states(session: AsyncSession) -> dict[str, ColumnState]:
    return {row.name: row for row in await session.scalars(select(ColumnState))}


async def get_state(session: AsyncSession, name: str) -> ColumnState | None:
    return await session.get(ColumnState, name)


async def set_paused(session: AsyncSession, name: str, paused: bool, by: str, now: datetime) -> None:
    await ensure_states(session, [name], now)
    await session.execute(update(ColumnState).where(ColumnState.name == name).values(paused=paused, updated_at=now, updated_by=by))


async def set_template(session: AsyncSession, name: str, template: str | None, by: str, now: datetime) -> None:
    await ensure_states(session, [name], now)
    await session.execute(update(ColumnState).where(ColumnState.name == name).values(template=template, updated_at=now, updated_by=by))


async def define_column(session: AsyncSession, name: str, definition: dict[str, Any] | None, by: str, now: datetime) -> None:
    await ensure_states(session, [name], now)
    await session.execute(
        update(ColumnState).where(ColumnState.name == name).values(definition=definition, updated_at=now, updated_by=by)
    )


async def group_pauses(session: AsyncSession) -> set[tuple[str, int]]:
    return {(n, c) for n, c in (await session.execute(select(ColumnGroupPause.name, ColumnGroupPause.chat_id))).all()}


async def pause_group(session: AsyncSession, name: str, chat_id: int, by: str, now: datetime) -> None:
    await session.execute(insert_ignore(session, ColumnGroupPause, {"name": name, "chat_id": chat_id, "at": now, "by": by}, ["name", "chat_id"]))


async def resume_group(session: AsyncSession, name: str, chat_id: int) -> bool:
    result = await session.execute(delete(ColumnGroupPause).where(ColumnGroupPause.name == name, ColumnGroupPause.chat_id == chat_id))
    return bool(result.rowcount)


# --- queues ----------------------------------------------------------------------------------
async def add_item(session: AsyncSession, name: str, text: str, by: str, now: datetime) -> int:
    item = ColumnQueueItem(name=name, text=text, added_by=by, added_at=now)
    session.add(item)
    await session.flush()
    return await session.scalar(
        select(func.count()).select_from(ColumnQueueItem).where(ColumnQueueItem.name == name, ColumnQueueItem.slot.is_(None))
    ) or 0


async def pending_items(session: AsyncSession, name: str, limit: int = 50) -> list[ColumnQueueItem]:
    query = (
        select(ColumnQueueItem)
        .where(ColumnQueueItem.name == name, ColumnQueueItem.slot.is_(None))
        .order_by(ColumnQueueItem.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def item_for_slot(session: AsyncSession, name: str, slot: str, now: datetime) -> ColumnQueueItem | None:
    """The item this slot posts: the one already assigned to it, else the oldest unused one
    (assigned with a compare-and-set, so two instances agree on the same item)."""
    for _ in range(5):
        assigned = await session.scalar(select(ColumnQueueItem).where(ColumnQueueItem.name == name, ColumnQueueItem.slot == slot))
        if assigned is not None:
            return assigned
        pending = await pending_items(session, name, limit=1)
        if not pending:
            return None
        result = await session.execute(
            update(ColumnQueueItem)
            .where(ColumnQueueItem.id == pending[0].id, ColumnQueueItem.slot.is_(None))
            .values(slot=slot, used_at=now)
        )
        if result.rowcount == 1:
            await session.refresh(pending[0])
            return pending[0]
    return None


# --- campaigns -------------------------------------------------------------------------------
async def start_run(session: AsyncSession, campaign: str, chat_id: int, start: date, tz: str, by: str, now: datetime) -> CampaignRun:
    run = CampaignRun(campaign=campaign, chat_id=chat_id, start_date=start, timezone=tz, status="active", started_at=now, started_by=by, updated_at=now)
    session.add(run)
    await session.flush()
    return run


async def runs_in_chat(session: AsyncSession, chat_id: int, *, live_only: bool = False) -> list[CampaignRun]:
    query = select(CampaignRun).where(CampaignRun.chat_id == chat_id)
    if live_only:
        query = query.where(CampaignRun.status.in_(("active", "paused")))
    return list(await session.scalars(query.order_by(CampaignRun.id)))


async def live_run(session: AsyncSession, campaign: str, chat_id: int) -> CampaignRun | None:
    query = select(CampaignRun).where(
        and_(CampaignRun.campaign == campaign, CampaignRun.chat_id == chat_id, CampaignRun.status.in_(("active", "paused")))
    )
    return await session.scalar(query.order_by(CampaignRun.id.desc()).limit(1))


async def active_runs(session: AsyncSession) -> list[CampaignRun]:
    return list(await session.scalars(select(CampaignRun).where(CampaignRun.status == "active").order_by(CampaignRun.id)))


async def set_run_status(session: AsyncSession, run_id: int, status: str, now: datetime, *, only_from: tuple[str, ...] | None = None) -> bool:
    query = update(CampaignRun).where(CampaignRun.id == run_id)
    if only_from:
        query = query.where(CampaignRun.status.in_(only_from))
    result = await session.execute(query.values(status=status, updated_at=now))
    return bool(result.rowcount)


async def count_by_state(session: AsyncSession) -> dict[str, int]:
    """How many column posts are in each state (for /metrics)."""
    rows = (await session.execute(select(ColumnPost.status, func.count()).group_by(ColumnPost.status))).all()
    return {status: n for status, n in rows}
