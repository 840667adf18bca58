"""Repository functions of the onboarding feature. Each takes an AsyncSession; none commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignore
from storage.models import Chat, Member
from storage.onboarding_models import OnboardingAnswer, OnboardingChatState, OnboardingRun

PENDING = "pending"


async def get_run(session: AsyncSession, member_id: int, *, lock: bool = False) -> OnboardingRun | None:
    query = select(OnboardingRun).where(OnboardingRun.member_id == member_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_run_by_id(session: AsyncSession, run_id: int, *, lock: bool = False) -> OnboardingRun | None:
    query = select(OnboardingRun).where(OnboardingRun.id == run_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def start_run(
    session: AsyncSession,
    *,
    chat_id: int,
    member_id: int,
    now: datetime,
    deadline: datetime,
    via: str,
    join_request: bool = False,
    strict: bool = False,
    invited_by: str | None = None,
) -> OnboardingRun:
    """A fresh questionnaire for the member (their earlier run, if any, is reset; earlier answers
    are kept until new ones replace them)."""
    await session.execute(
        insert_ignore(
            session,
            OnboardingRun,
            {
                "chat_id": chat_id,
                "member_id": member_id,
                "status": PENDING,
                "step": 0,
                "started_at": now,
                "deadline_at": deadline,
                "via": via,
                "cleanup_ids": [],
            },
            ["member_id"],
        )
    )
    run = await get_run(session, member_id, lock=True)
    assert run is not None
    run.status, run.step, run.started_at, run.deadline_at, run.finished_at = PENDING, 0, now, deadline, None
    run.via, run.join_request, run.strict, run.invited_by = via, join_request, strict, invited_by
    run.restricted, run.question_message_id, run.cleanup_ids, run.invalid_answers = False, None, [], 0
    await session.flush()
    return run


async def finish_run(session: AsyncSession, run: OnboardingRun, status: str, now: datetime) -> None:
    run.status = status
    run.finished_at = now
    run.question_message_id = None
    await session.flush()


async def claim_due(session: AsyncSession, run_id: int, now: datetime, status: str) -> bool:
    """Mark one overdue run as ended; False when something else (an answer, an admin, another
    instance) got to it first, so a deadline is enforced once."""
    result = await session.execute(
        update(OnboardingRun)
        .where(OnboardingRun.id == run_id, OnboardingRun.status == PENDING, OnboardingRun.deadline_at <= now)
        .values(status=status, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def due_runs(session: AsyncSession, now: datetime, limit: int = 500) -> list[tuple[OnboardingRun, Member, Chat]]:
    query = (
        select(OnboardingRun, Member, Chat)
        .join(Member, Member.id == OnboardingRun.member_id)
        .join(Chat, Chat.id == OnboardingRun.chat_id)
        .where(OnboardingRun.status == PENDING, OnboardingRun.deadline_at <= now)
        .order_by(OnboardingRun.chat_id, OnboardingRun.deadline_at, OnboardingRun.id)
        .limit(limit)
    )
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def pending_runs_of_user(session: AsyncSession, platform: str, user_id: str, via: str | None = None) -> list[tuple[OnboardingRun, Member, Chat]]:
    query = (
        select(OnboardingRun, Member, Chat)
        .join(Member, Member.id == OnboardingRun.member_id)
        .join(Chat, Chat.id == OnboardingRun.chat_id)
        .where(OnboardingRun.status == PENDING, Member.user_id == user_id, Chat.platform == platform)
        .order_by(OnboardingRun.started_at)
    )
    if via is not None:
        query = query.where(OnboardingRun.via == via)
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def count_pending(session: AsyncSession, chat_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(OnboardingRun).where(OnboardingRun.chat_id == chat_id, OnboardingRun.status == PENDING)
        )
        or 0
    )


async def save_answer(session: AsyncSession, member_id: int, question_id: str, value: str, now: datetime) -> None:
    row = await session.get(OnboardingAnswer, (member_id, question_id))
    if row is None:
        session.add(OnboardingAnswer(member_id=member_id, question_id=question_id, value=value, answered_at=now))
    else:
        row.value, row.answered_at = value, now
    await session.flush()


async def forget_answer(session: AsyncSession, member_id: int, question_id: str) -> None:
    await session.execute(
        delete(OnboardingAnswer).where(OnboardingAnswer.member_id == member_id, OnboardingAnswer.question_id == question_id)
    )


async def answers_of(session: AsyncSession, member_id: int) -> dict[str, str]:
    rows = await session.execute(
        select(OnboardingAnswer.question_id, OnboardingAnswer.value).where(OnboardingAnswer.member_id == member_id)
    )
    return {qid: value for qid, value in rows.all()}


async def joins_since(session: AsyncSession, chat_id: int, since: datetime) -> int:
    """Members who joined the chat at or after `since` (the raid detector's rate)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Member).where(Member.chat_id == chat_id, Member.joined_at >= since)
        )
        or 0
    )


async def chat_state(session: AsyncSession, chat_id: int) -> OnboardingChatState:
    await session.execute(
        insert_ignore(session, OnboardingChatState, {"chat_id": chat_id, "raid_peak": 0, "warned": [], "shared_messages": [], "shared_open": False}, ["chat_id"])
    )
    state = await session.get(OnboardingChatState, chat_id, with_for_update=True)
    assert state is not None
    return state


async def raids_to_end(session: AsyncSession, now: datetime) -> list[tuple[OnboardingChatState, Chat]]:
    query = (
        select(OnboardingChatState, Chat)
        .join(Chat, Chat.id == OnboardingChatState.chat_id)
        .where(OnboardingChatState.raid_since.is_not(None), OnboardingChatState.raid_until <= now)
    )
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def end_raid(session: AsyncSession, chat_id: int, now: datetime) -> bool:
    """Claim the end of a raid once (False when another tick already ended it)."""
    result = await session.execute(
        update(OnboardingChatState)
        .where(
            OnboardingChatState.chat_id == chat_id,
            OnboardingChatState.raid_since.is_not(None),
            OnboardingChatState.raid_until <= now,
        )
        .values(raid_since=None, raid_until=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def find_member(session: AsyncSession, chat_id: int, handle: str) -> Member | None:
    """A member of the chat by platform user id, @username or display name."""
    handle = handle.strip()
    bare = handle.removeprefix("@")
    query = select(Member).where(
        Member.chat_id == chat_id,
        or_(Member.user_id == bare, func.lower(Member.username) == bare.lower(), Member.display_name == handle),
    )
    return (await session.scalars(query.order_by(Member.id).limit(1))).first()


async def unasked_shared_runs(session: AsyncSession) -> list[tuple[OnboardingRun, Member, Chat]]:
    """Strict-mode runs waiting for the shared first question (posted by the tick)."""
    query = (
        select(OnboardingRun, Member, Chat)
        .join(Member, Member.id == OnboardingRun.member_id)
        .join(Chat, Chat.id == OnboardingRun.chat_id)
        .where(OnboardingRun.status == PENDING, OnboardingRun.via == "shared", OnboardingRun.question_message_id.is_(None))
        .order_by(OnboardingRun.chat_id, OnboardingRun.id)
    )
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def shared_message_in_use(session: AsyncSession, chat_id: int, message_id: str) -> bool:
    query = select(func.count()).select_from(OnboardingRun).where(
        OnboardingRun.chat_id == chat_id,
        OnboardingRun.status == PENDING,
        OnboardingRun.via == "shared",
        OnboardingRun.question_message_id == message_id,
    )
    return bool(await session.scalar(query))


async def states_with_shared_messages(session: AsyncSession) -> list[tuple[OnboardingChatState, Chat]]:
    query = (
        select(OnboardingChatState, Chat)
        .join(Chat, Chat.id == OnboardingChatState.chat_id)
        .where(OnboardingChatState.shared_open.is_(True))
    )
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


def member_join():
    """The member's questionnaire joined to the event's member read (Router.with_member)."""
    return OnboardingRun.member_id == Member.id
