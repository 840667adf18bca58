"""The points service: what handlers (ours and other features') call. Stable public API:

    await award(session, chat_id=…, member_id=…, amount=…, reason=…, source=…, key=…, now=…) -> bool
    await balance(session, chat_id=…, member_id=…) -> int
    await level_of(session, chat_id=…, member_id=…, settings=PointsSettings) -> int
    await has_right(session, chat_id=…, member_id=…, settings=PointsSettings, right="links_allowed_from_level") -> bool

`chat_id` and `member_id` are `chats.id` / `members.id` (ctx.chat_row.id, ctx.member_row.id).
`key` is the idempotency key, unique within the chat: the same key is written once, however often it
is offered. Put the member and the event in it, e.g. f"onboarding:{member_id}" or
f"rules:{audit_entry_id}". None of these functions commits; they run in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from storage import points_repo as repo

if TYPE_CHECKING:
    from handlers.points.settings import PointsSettings
    from storage.points_models import ShopItem, ShopOrder


# --- the public API ------------------------------------------------------------------------------
async def award(
    session: AsyncSession,
    *,
    chat_id: int,
    member_id: int,
    amount: int,
    reason: str,
    source: str,
    key: str,
    now: datetime,
    day: date | None = None,
) -> bool:
    """Append one ledger row (amount may be negative: deductions, penalties). Idempotent on
    (chat_id, key): returns False and changes nothing when the key was used before. `day`, the
    group's local day, counts activity points towards the daily cap."""
    return await repo.add_entry(
        session, chat_id=chat_id, member_id=member_id, amount=amount, reason=reason, source=source, key=key, at=now,
        day=day,
    )


async def balance(session: AsyncSession, *, chat_id: int, member_id: int) -> int:
    """Spendable points: the sum of every ledger row of the member in the chat (kept as a total)."""
    return await repo.balance(session, chat_id, member_id)


async def growth_points(session: AsyncSession, *, chat_id: int, member_id: int, settings: "PointsSettings") -> int:
    """The points levels are computed from (settings.level_basis: 'earned' ignores shop/lottery spending)."""
    if settings.level_basis == "balance":
        return await repo.balance(session, chat_id, member_id)
    return await repo.earned(session, chat_id, member_id)


async def level_of(session: AsyncSession, *, chat_id: int, member_id: int, settings: "PointsSettings") -> int:
    """The member's level, from 1 (settings.levels[0]) to len(settings.levels)."""
    return settings.level_for(await growth_points(session, chat_id=chat_id, member_id=member_id, settings=settings))


async def has_right(
    session: AsyncSession, *, chat_id: int, member_id: int, settings: "PointsSettings", right: str
) -> bool:
    """True when the member's level reaches settings.rights[right]; False for a right not configured."""
    needed = settings.rights.get(right)
    if needed is None or not settings.enabled:
        return False
    return await level_of(session, chat_id=chat_id, member_id=member_id, settings=settings) >= needed


# --- check-in ------------------------------------------------------------------------------------
@dataclass
class CheckinResult:
    new: bool  # False: already checked in today, nothing awarded
    streak: int
    points: int = 0
    bonus: int = 0


def checkin_key(member_id: int, day: date) -> str:
    return f"checkin:{member_id}:{day.isoformat()}"


async def checkin(
    session: AsyncSession, *, chat_id: int, member_id: int, day: date, now: datetime, settings: "PointsSettings"
) -> CheckinResult:
    """Check the member in for `day` (the group's local date). Two concurrent calls for the same day
    award once: the check-in row and the ledger key are both unique."""
    streak = await repo.record_checkin(session, chat_id, member_id, day, now)
    if streak is None:
        row = await repo.checkin_of(session, chat_id, member_id, day)
        return CheckinResult(new=False, streak=row.streak if row else 0)
    bonus = settings.streak_bonus(streak)
    points = settings.checkin_points + bonus
    reason = f"checkin day {streak}" + (f" (+{bonus} streak bonus)" if bonus else "")
    written = await award(
        session, chat_id=chat_id, member_id=member_id, amount=points, reason=reason, source="checkin",
        key=checkin_key(member_id, day), now=now,
    )
    return CheckinResult(new=True, streak=streak, points=points if written else 0, bonus=bonus if written else 0)


# --- shop ----------------------------------------------------------------------------------------
@dataclass
class RedeemResult:
    status: str  # ok | no_item | out_of_stock | insufficient
    item: "ShopItem | None" = None
    order: "ShopOrder | None" = None
    balance: int = 0


async def redeem(session: AsyncSession, *, chat_id: int, member_id: int, item_ref: str, now: datetime) -> RedeemResult:
    """Buy one unit: balance and stock are checked and changed in this one transaction. The member's
    row is locked first (PostgreSQL; SQLite's writer lock does the same), then the stock is taken with
    a conditional UPDATE … WHERE stock > 0, then the order and its negative ledger row are written."""
    item = await repo.find_item(session, chat_id, item_ref)
    if item is None:
        return RedeemResult("no_item")
    await repo.lock_member(session, member_id)
    have = await repo.balance(session, chat_id, member_id)
    if have < item.price:
        return RedeemResult("insufficient", item=item, balance=have)
    if not await repo.take_stock(session, item.id):
        return RedeemResult("out_of_stock", item=item, balance=have)
    order = await repo.create_order(session, chat_id, member_id, item.id, item.price, now)
    await award(
        session, chat_id=chat_id, member_id=member_id, amount=-item.price, reason=f"order #{order.id}: {item.name}",
        source="shop", key=f"order:{order.id}", now=now,
    )
    return RedeemResult("ok", item=item, order=order, balance=have - item.price)


# --- lottery -------------------------------------------------------------------------------------
def new_seed() -> str:
    return secrets.token_hex(16)


def seed_hash(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def ticket(seed: str, user_id: str) -> str:
    """An entry's ticket: sha256 of "<seed>:<user id>" in hex."""
    return hashlib.sha256(f"{seed}:{user_id}".encode("utf-8")).hexdigest()


def pick_winners(seed: str, user_ids: list[str], winners: int) -> list[str]:
    """The published method: deduplicate the entrants' user ids, give each the ticket
    sha256("<seed>:<user id>"), sort by (ticket, user id) ascending, and take the first `winners`.
    The entry order does not matter, so anyone holding the seed and the entry list gets the same result."""
    unique = sorted(set(u.strip() for u in user_ids if u.strip()))
    ranked = sorted(unique, key=lambda u: (ticket(seed, u), u))
    return ranked[: max(0, winners)]


@dataclass
class JoinResult:
    status: str  # ok | already | insufficient | closed | no_draw
    balance: int = 0


async def join_draw(
    session: AsyncSession, *, chat_id: int, member_id: int, user_id: str, draw_id: int, now: datetime
) -> JoinResult:
    draw = await repo.get_draw(session, chat_id, draw_id)
    if draw is None:
        return JoinResult("no_draw")
    if draw.status != "open" or draw.closes_at <= now:
        return JoinResult("closed")
    if draw.cost > 0:
        await repo.lock_member(session, member_id)
        have = await repo.balance(session, chat_id, member_id)
        if await repo.has_entry(session, draw.id, member_id):
            return JoinResult("already", balance=have)
        if have < draw.cost:
            return JoinResult("insufficient", balance=have)
    if not await repo.add_draw_entry(session, draw.id, member_id, user_id, now):
        return JoinResult("already", balance=await repo.balance(session, chat_id, member_id))
    if draw.cost > 0:
        await award(
            session, chat_id=chat_id, member_id=member_id, amount=-draw.cost, reason=f"draw #{draw.id} entry",
            source="lottery", key=f"draw:{draw.id}:{member_id}", now=now,
        )
    return JoinResult("ok", balance=await repo.balance(session, chat_id, member_id))


async def cancel_draw(session: AsyncSession, *, chat_id: int, draw_id: int, now: datetime) -> int | None:
    """Cancel an open draw and refund paid entries; returns how many were refunded, None if not open."""
    draw = await repo.get_draw(session, chat_id, draw_id)
    if draw is None or not await repo.cancel_draw(session, chat_id, draw_id, now):
        return None
    refunded = 0
    if draw.cost > 0:
        for entry in await repo.draw_entries(session, draw.id):
            refunded += await award(
                session, chat_id=chat_id, member_id=entry.member_id, amount=draw.cost, reason=f"draw #{draw.id} cancelled",
                source="lottery", key=f"refund:draw:{draw.id}:{entry.member_id}", now=now,
            )
    return refunded
