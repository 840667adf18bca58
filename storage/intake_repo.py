"""Inbox (received updates) and outbox (queued platform actions). Each function takes an
AsyncSession; none commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.db import built, insert_ignoring_many
from storage.models import InboxEntry, OutboxAction


async def store_updates(session: AsyncSession, platform: str, updates: list[tuple[str, str]], now: datetime) -> list[int | None]:
    """Store (key, payload) pairs in one statement (a getUpdates answer is up to 100); per pair the new
    inbox id, or None when (platform, key) was received before (or earlier in the same list)."""
    if not updates:
        return []
    rows = [{"platform": platform, "key": key, "payload": payload, "received_at": now, "attempts": 0}
            for key, payload in updates]
    stored = dict((key, entry_id) for entry_id, key in await insert_ignoring_many(
        session, InboxEntry, rows, ("platform", "key"), returning=("id", "key")))
    return [stored.pop(key, None) for key, _ in updates]


def done_statement():
    """UPDATE inbox SET done_at = :b_at WHERE id = :b_id (built once)."""
    table = InboxEntry.__table__
    return built(("inbox.done",), lambda: update(table).where(table.c.id == bindparam("b_id")).values(
        done_at=bindparam("b_at", type_=table.c.done_at.type)))


def done_values(entry_id: int, now: datetime) -> dict[str, Any]:
    return {"b_id": entry_id, "b_at": now}


async def mark_done(session: AsyncSession, entry_id: int, now: datetime) -> None:
    await direct.execute(session, done_statement(), done_values(entry_id, now))


async def note_failure(session: AsyncSession, entry_id: int, error: str) -> None:
    await session.execute(
        update(InboxEntry).where(InboxEntry.id == entry_id)
        .values(attempts=InboxEntry.attempts + 1, last_error=error[:2000])
    )


async def pending_updates(session: AsyncSession, platform: str) -> list[InboxEntry]:
    """Received and not handled, oldest first."""
    return list(await session.scalars(
        select(InboxEntry).where(InboxEntry.platform == platform, InboxEntry.done_at.is_(None)).order_by(InboxEntry.id)
    ))


async def forget_done_before(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(InboxEntry).where(InboxEntry.done_at.is_not(None), InboxEntry.done_at < before))
    return result.rowcount or 0


async def queue_actions(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert outbox rows (in the caller's transaction); their ids in the given order. One or two
    an event that acts: each on the direct path."""
    table = OutboxAction.__table__
    ids = []
    for row in rows:
        stmt = built(("outbox.queue", tuple(row)), lambda: insert(table).returning(table.c.id))
        ids.append((await direct.execute(session, stmt, row)).scalar())
    return ids


async def set_action_state(session: AsyncSession, action_id: int, state: str, now: datetime, result: str | None = None,
                           *, only_from: str | None = None) -> bool:
    """Move one outbox row to `state`; with `only_from`, only if it is in that state (compare-and-set)."""
    table = OutboxAction.__table__
    with_result, guarded = result is not None, only_from is not None

    def build():
        query = update(table).where(table.c.id == bindparam("b_id"))
        if guarded:
            query = query.where(table.c.state == bindparam("b_from"))
        values = {"state": bindparam("b_state"), "updated_at": bindparam("b_at", type_=table.c.updated_at.type)}
        if with_result:
            values["result"] = bindparam("b_result")
        return query.values(**values)

    params: dict[str, Any] = {"b_id": action_id, "b_state": state, "b_at": now}
    if guarded:
        params["b_from"] = only_from
    if with_result:
        params["b_result"] = result[:2000]
    # Twice per send (sending, then its outcome): built once per shape (speed).
    outcome = await direct.execute(session, built(("outbox.state", with_result, guarded), build), params)
    return bool(outcome.rowcount)


async def unfinished_actions(session: AsyncSession) -> list[OutboxAction]:
    """Rows a previous run left `queued` or `sending`, oldest first."""
    return list(await session.scalars(
        select(OutboxAction).where(OutboxAction.state.in_(("queued", "sending"))).order_by(OutboxAction.id)
    ))


async def forget_actions_before(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(OutboxAction).where(OutboxAction.state.not_in(("queued", "sending")), OutboxAction.updated_at < before)
    )
    return result.rowcount or 0
