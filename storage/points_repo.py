"""Repository functions for the points feature. Each takes an AsyncSession; none commits.

The append-only ledger (`points_ledger`) is the record; each row also updates the member's running
totals (`points_member_totals`: balance, growth points, today's activity, announced level) in the same
statement batch, so a message never sums a member's history. Boards over a period still sum the
ledger, on its covering indexes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, and_, bindparam, case, func, inspect, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import core_repo, direct
from storage.db import as_stored, built, dialect_name, in_session, insert_ignore, insert_ignoring
from storage.models import Member
from storage.points_models import Checkin, Draw, DrawEntry, LedgerEntry, MemberTotals, ShopItem, ShopOrder

# Ledger sources that are spending, not growth: they lower the balance but never the level/board.
SPENDING_SOURCES = ("shop", "lottery")
ACTIVITY = "activity"  # the source of points for messages, capped per local day


# --- ledger --------------------------------------------------------------------------------------
async def add_entry(
    session: AsyncSession,
    *,
    chat_id: int,
    member_id: int,
    amount: int,
    reason: str,
    source: str,
    key: str,
    at: datetime,
    day: date | None = None,
) -> bool:
    """Append one row and add it to the member's totals; False (and nothing written) when
    (chat_id, key) is already in the ledger. `day`: the group's local day, for activity points."""
    values = {
        "chat_id": chat_id,
        "member_id": member_id,
        "amount": int(amount),
        "reason": (reason or "")[:255],
        "source": source[:32],
        "key": key[:191],
        "at": at,
    }
    params = _totals_params(chat_id, member_id, int(amount), source, day)
    activity = params["day"] is not None
    if dialect_name(session) == "postgresql":
        # The ledger row and the totals in one statement: the upsert selects from the ledger
        # INSERT's RETURNING, so it adds nothing (and returns nothing) when the key was there.
        stmt = built(("points.entry_and_totals", activity), lambda: _totals_upsert("postgresql", activity, _entry_cte()))
        stored = await direct.execute(session, stmt, {**values, **params})
        if not stored.rows:
            return False
    else:
        if not (await insert_ignoring(session, LedgerEntry, values, ("chat_id", "key"))).rowcount:
            return False
        stmt = built(("points.totals", activity), lambda: _totals_upsert("sqlite", activity))
        stored = await direct.execute(session, stmt, params)
    # The totals as stored now, in the session: later reads in this event need no statement.
    row = as_stored(session, MemberTotals, stored.one_mapping())
    core_repo.known_now(session, MemberTotals, member_id, row)  # also keeps it alive: the map holds weak references
    return True


def _totals_in_session(session: AsyncSession, member_id: int) -> MemberTotals | None:
    """The member's totals as read in this transaction (with the member, usually), else None."""
    row = in_session(session, MemberTotals, (member_id,))
    return row if row is not None and not inspect(row).expired else None


def _totals_params(chat_id: int, member_id: int, amount: int, source: str, day: date | None) -> dict[str, Any]:
    growth = 0 if source in SPENDING_SOURCES else amount
    activity = source == ACTIVITY and day is not None
    return {"m": member_id, "c": chat_id, "amount": amount, "growth": growth, "day": day if activity else None,
            "activity": amount if activity else 0}


def _entry_cte():
    """PostgreSQL: the ledger row's INSERT … ON CONFLICT DO NOTHING, as a CTE (a row when it went in)."""
    ledger = LedgerEntry.__table__
    return postgresql.insert(ledger).values(
        chat_id=bindparam("chat_id"), member_id=bindparam("member_id"), amount=bindparam("amount"),
        reason=bindparam("reason"), source=bindparam("source"), key=bindparam("key"),
        at=bindparam("at", type_=ledger.c.at.type),
    ).on_conflict_do_nothing(index_elements=["chat_id", "key"]).returning(ledger.c.id).cte("entry")


def _totals_upsert(dialect: str, activity: bool, after_entry: Any = None):
    """INSERT … ON CONFLICT DO UPDATE of the member's totals, RETURNING them. `after_entry` (PostgreSQL):
    the CTE of the ledger row's INSERT — the totals change only when that row went in (none returned
    otherwise)."""
    table = MemberTotals.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = {"member_id": bindparam("m", type_=BigInteger()), "chat_id": bindparam("c", type_=BigInteger()),
               "balance": bindparam("amount", type_=Integer()), "earned": bindparam("growth", type_=Integer()),
               "activity_day": bindparam("day", type_=Date()), "activity_today": bindparam("activity", type_=Integer()),
               "announced_level": literal(1, Integer())}
    if after_entry is None:
        stmt = insert(table).values(columns)
    else:
        stmt = insert(table).from_select(list(columns), select(*columns.values()).select_from(after_entry))
    changes = {"balance": table.c.balance + stmt.excluded.balance, "earned": table.c.earned + stmt.excluded.earned}
    if activity:
        changes["activity_today"] = case(
            (table.c.activity_day == stmt.excluded.activity_day, table.c.activity_today + stmt.excluded.activity_today),
            else_=stmt.excluded.activity_today)
        changes["activity_day"] = stmt.excluded.activity_day
    return stmt.on_conflict_do_update(index_elements=["member_id"], set_=changes).returning(*table.c)


async def totals(session: AsyncSession, member_id: int) -> MemberTotals | None:
    """The member's totals (from the session when the event read them with the member)."""
    if core_repo.known_missing(session, MemberTotals, member_id):
        return None
    # Up to three times a message (today's activity, the level, the announced level): from the
    # identity map without session.get's round of SQLAlchemy machinery when it is there.
    return _totals_in_session(session, member_id) or await session.get(MemberTotals, member_id)


def member_join():
    """The member's totals joined to the event's member read (Router.with_member)."""
    return MemberTotals.member_id == Member.id


async def key_used(session: AsyncSession, chat_id: int, key: str) -> bool:
    found = await session.scalar(select(LedgerEntry.id).where(LedgerEntry.chat_id == chat_id, LedgerEntry.key == key))
    return found is not None


async def balance(session: AsyncSession, chat_id: int, member_id: int) -> int:
    row = await totals(session, member_id)
    return row.balance if row else 0


async def earned(session: AsyncSession, chat_id: int, member_id: int) -> int:
    """Growth points: every row except spending (shop, lottery entries)."""
    row = await totals(session, member_id)
    return row.earned if row else 0


async def activity_on(session: AsyncSession, member_id: int, day: date) -> int:
    """Activity points the member got on the group's local `day` (for the daily cap)."""
    row = await totals(session, member_id)
    return row.activity_today if row is not None and row.activity_day == day else 0


async def rebuild_totals(session: AsyncSession, chat_id: int | None = None) -> None:
    """Derive the totals from the ledger again (bulk-loaded ledgers; the announced levels are kept;
    today's activity is not known from the ledger and starts at zero)."""
    where = "WHERE l.chat_id = :chat" if chat_id is not None else ""
    params = {"chat": chat_id} if chat_id is not None else {}
    await session.execute(text(
        "INSERT INTO points_member_totals (member_id, chat_id, balance, earned, activity_day, activity_today, announced_level) "
        "SELECT l.member_id, min(l.chat_id), sum(l.amount), "
        "sum(CASE WHEN l.source IN ('shop', 'lottery') THEN 0 ELSE l.amount END), NULL, 0, 1 "
        f"FROM points_ledger AS l {where} GROUP BY l.member_id "
        "ON CONFLICT (member_id) DO UPDATE SET balance = excluded.balance, earned = excluded.earned"), params)


def _board_totals(chat_id: int, since: datetime | None):
    total = func.sum(LedgerEntry.amount).label("total")
    query = select(LedgerEntry.member_id, total).where(
        LedgerEntry.chat_id == chat_id, LedgerEntry.source.not_in(SPENDING_SOURCES)
    )
    if since is not None:
        query = query.where(LedgerEntry.at >= since)
    return query.group_by(LedgerEntry.member_id), total


async def board(session: AsyncSession, chat_id: int, *, since: datetime | None = None, limit: int = 10) -> list[tuple[Member, int]]:
    """The members with the most growth points (since `since`, or ever), best first; ties by member id."""
    totals, total = _board_totals(chat_id, since)
    sub = totals.subquery()
    query = (
        select(Member, sub.c.total)
        .join(sub, sub.c.member_id == Member.id)
        .where(sub.c.total > 0)
        .order_by(sub.c.total.desc(), Member.id)
        .limit(limit)
    )
    return [(member, int(points)) for member, points in (await session.execute(query)).all()]


async def rank(session: AsyncSession, chat_id: int, member_id: int, *, since: datetime | None = None) -> tuple[int, int]:
    """(rank, growth points) of one member on the board; rank 0 when they have no positive points."""
    totals, _ = _board_totals(chat_id, since)
    sub = totals.subquery()
    mine = await session.scalar(select(sub.c.total).where(sub.c.member_id == member_id))
    mine = int(mine or 0)
    if mine <= 0:
        return 0, mine
    ahead = await session.scalar(
        select(func.count()).select_from(sub).where(
            or_(sub.c.total > mine, and_(sub.c.total == mine, sub.c.member_id < member_id))
        )
    )
    return int(ahead or 0) + 1, mine


async def history(session: AsyncSession, chat_id: int, member_id: int, limit: int = 10) -> list[LedgerEntry]:
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.chat_id == chat_id, LedgerEntry.member_id == member_id)
        .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(query))


async def lock_member(session: AsyncSession, member_id: int) -> None:
    """Serialise spending by one member. PostgreSQL: row lock until commit. SQLite: the transaction
    already holds the database's write lock (BEGIN IMMEDIATE), so nothing to do."""
    if dialect_name(session) == "postgresql":
        await session.execute(select(Member.id).where(Member.id == member_id).with_for_update())


# --- check-in ------------------------------------------------------------------------------------
async def record_checkin(session: AsyncSession, chat_id: int, member_id: int, day: date, at: datetime) -> int | None:
    """Record today's check-in; returns the streak, or None if the member had already checked in today."""
    yesterday = await session.scalar(
        select(Checkin.streak).where(
            Checkin.chat_id == chat_id, Checkin.member_id == member_id, Checkin.day == day - timedelta(days=1)
        )
    )
    streak = int(yesterday or 0) + 1
    result = await session.execute(
        insert_ignore(
            session,
            Checkin,
            {"chat_id": chat_id, "member_id": member_id, "day": day, "streak": streak, "at": at},
            ["chat_id", "member_id", "day"],
        )
    )
    return streak if result.rowcount else None


async def checkin_of(session: AsyncSession, chat_id: int, member_id: int, day: date) -> Checkin | None:
    return await session.get(Checkin, (chat_id, member_id, day))


async def current_streak(session: AsyncSession, chat_id: int, member_id: int, today: date) -> int:
    """The streak still alive: the last check-in was today or yesterday."""
    row = await session.scalar(
        select(Checkin)
        .where(Checkin.chat_id == chat_id, Checkin.member_id == member_id, Checkin.day >= today - timedelta(days=1))
        .order_by(Checkin.day.desc())
        .limit(1)
    )
    return row.streak if row else 0


async def checkin_position(session: AsyncSession, chat_id: int, member_id: int, day: date) -> int:
    """1 for the first member to check in that day, 2 for the second …"""
    mine = await checkin_of(session, chat_id, member_id, day)
    if mine is None:
        return 0
    earlier = await session.scalar(
        select(func.count()).where(
            Checkin.chat_id == chat_id,
            Checkin.day == day,
            or_(Checkin.at < mine.at, and_(Checkin.at == mine.at, Checkin.member_id < member_id)),
        )
    )
    return int(earlier or 0) + 1


# --- levels --------------------------------------------------------------------------------------
async def announced_level(session: AsyncSession, member_id: int) -> int:
    row = await totals(session, member_id)
    return row.announced_level if row else 1


async def raise_announced_level(session: AsyncSession, member_id: int, level: int) -> bool:
    """True when `level` is higher than the level already announced (and records it)."""
    result = await session.execute(
        update(MemberTotals)
        .where(MemberTotals.member_id == member_id, MemberTotals.announced_level < level)
        .values(announced_level=level)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount and in_session(session, MemberTotals, (member_id,)) is not None:
        as_stored(session, MemberTotals, {"member_id": member_id, "announced_level": level})
    return bool(result.rowcount)


# --- members -------------------------------------------------------------------------------------
async def find_member(session: AsyncSession, chat_id: int, token: str) -> Member | None:
    """A member of the chat by @username, user id or exact display name."""
    token = token.strip()
    if not token:
        return None
    name = token.lstrip("@")
    query = select(Member).where(Member.chat_id == chat_id)
    for condition in (
        func.lower(Member.username) == name.lower(),
        Member.user_id == name,
        Member.display_name == token,
        Member.display_name == name,
    ):
        found = await session.scalar(query.where(condition).limit(1))
        if found is not None:
            return found
    return None


async def members_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Member]:
    if not ids:
        return {}
    return {m.id: m for m in await session.scalars(select(Member).where(Member.id.in_(ids)))}


# --- shop ----------------------------------------------------------------------------------------
async def put_item(session: AsyncSession, chat_id: int, name: str, price: int, stock: int, at: datetime) -> ShopItem:
    """Add an item, or for a name already listed: set its price and add `stock` to what is left."""
    item = await session.scalar(select(ShopItem).where(ShopItem.chat_id == chat_id, ShopItem.name == name))
    if item is None:
        item = ShopItem(chat_id=chat_id, name=name, price=price, stock=stock, active=True, created_at=at)
        session.add(item)
        await session.flush()
        return item
    await session.execute(
        update(ShopItem)
        .where(ShopItem.id == item.id)
        .values(price=price, stock=ShopItem.stock + stock, active=True)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(item)
    return item


async def remove_item(session: AsyncSession, chat_id: int, item_id: int) -> None:
    await session.execute(
        update(ShopItem).where(ShopItem.chat_id == chat_id, ShopItem.id == item_id).values(active=False)
        .execution_options(synchronize_session=False)
    )


async def list_items(session: AsyncSession, chat_id: int) -> list[ShopItem]:
    query = select(ShopItem).where(ShopItem.chat_id == chat_id, ShopItem.active.is_(True)).order_by(ShopItem.price, ShopItem.id)
    return list(await session.scalars(query))


async def find_item(session: AsyncSession, chat_id: int, ref: str) -> ShopItem | None:
    """By number (as /shop lists it) or by name (case-insensitive)."""
    ref = ref.strip().lstrip("#")
    query = select(ShopItem).where(ShopItem.chat_id == chat_id, ShopItem.active.is_(True))
    if ref.isdigit():
        found = await session.scalar(query.where(ShopItem.id == int(ref)))
        if found is not None:
            return found
    return await session.scalar(query.where(func.lower(ShopItem.name) == ref.lower()).limit(1))


async def take_stock(session: AsyncSession, item_id: int) -> bool:
    """Conditional decrement: True when one unit was taken, False when none was left."""
    result = await session.execute(
        update(ShopItem)
        .where(ShopItem.id == item_id, ShopItem.stock > 0, ShopItem.active.is_(True))
        .values(stock=ShopItem.stock - 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def stock_of(session: AsyncSession, item_id: int) -> int:
    return int(await session.scalar(select(ShopItem.stock).where(ShopItem.id == item_id)) or 0)


async def create_order(session: AsyncSession, chat_id: int, member_id: int, item_id: int, price: int, at: datetime) -> ShopOrder:
    order = ShopOrder(chat_id=chat_id, member_id=member_id, item_id=item_id, price=price, status="pending", created_at=at)
    session.add(order)
    await session.flush()
    return order


async def orders(
    session: AsyncSession, chat_id: int, *, status: str | None = None, member_id: int | None = None, limit: int = 20
) -> list[tuple[ShopOrder, ShopItem, Member]]:
    query = (
        select(ShopOrder, ShopItem, Member)
        .join(ShopItem, ShopItem.id == ShopOrder.item_id)
        .join(Member, Member.id == ShopOrder.member_id)
        .where(ShopOrder.chat_id == chat_id)
    )
    if status is not None:
        query = query.where(ShopOrder.status == status)
    if member_id is not None:
        query = query.where(ShopOrder.member_id == member_id)
    return [tuple(row) for row in (await session.execute(query.order_by(ShopOrder.id).limit(limit))).all()]


async def count_orders(session: AsyncSession, chat_id: int, *, item_id: int | None = None) -> int:
    query = select(func.count()).select_from(ShopOrder).where(ShopOrder.chat_id == chat_id)
    if item_id is not None:
        query = query.where(ShopOrder.item_id == item_id)
    return int(await session.scalar(query) or 0)


async def fulfil_order(session: AsyncSession, chat_id: int, order_id: int, by: str, at: datetime) -> ShopOrder | None:
    """Mark a pending order fulfilled; None when there is no such pending order."""
    result = await session.execute(
        update(ShopOrder)
        .where(ShopOrder.chat_id == chat_id, ShopOrder.id == order_id, ShopOrder.status == "pending")
        .values(status="fulfilled", fulfilled_at=at, fulfilled_by=by)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return None
    order = await session.get(ShopOrder, order_id)
    if order is not None:
        await session.refresh(order)
    return order


# --- lottery -------------------------------------------------------------------------------------
async def create_draw(session: AsyncSession, **values: Any) -> Draw:
    draw = Draw(status="open", result={}, **values)
    session.add(draw)
    await session.flush()
    return draw


async def get_draw(session: AsyncSession, chat_id: int, draw_id: int) -> Draw | None:
    return await session.scalar(select(Draw).where(Draw.chat_id == chat_id, Draw.id == draw_id))


async def open_draws(session: AsyncSession, chat_id: int) -> list[Draw]:
    query = select(Draw).where(Draw.chat_id == chat_id, Draw.status == "open").order_by(Draw.closes_at, Draw.id)
    return list(await session.scalars(query))


async def due_draws(session: AsyncSession, now: datetime, limit: int = 50) -> list[Draw]:
    query = select(Draw).where(Draw.status == "open", Draw.closes_at <= now).order_by(Draw.closes_at, Draw.id).limit(limit)
    return list(await session.scalars(query))


async def add_draw_entry(session: AsyncSession, draw_id: int, member_id: int, user_id: str, at: datetime) -> bool:
    result = await session.execute(
        insert_ignore(
            session, DrawEntry, {"draw_id": draw_id, "member_id": member_id, "user_id": user_id, "at": at}, ["draw_id", "member_id"]
        )
    )
    return bool(result.rowcount)


async def has_entry(session: AsyncSession, draw_id: int, member_id: int) -> bool:
    found = await session.scalar(select(DrawEntry.member_id).where(DrawEntry.draw_id == draw_id, DrawEntry.member_id == member_id))
    return found is not None


async def draw_entries(session: AsyncSession, draw_id: int) -> list[DrawEntry]:
    return list(await session.scalars(select(DrawEntry).where(DrawEntry.draw_id == draw_id).order_by(DrawEntry.user_id)))


async def count_entries(session: AsyncSession, draw_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(DrawEntry).where(DrawEntry.draw_id == draw_id)) or 0)


async def claim_draw(session: AsyncSession, draw_id: int, result: dict[str, Any], at: datetime) -> bool:
    """Open → drawn, once: False when another tick got there first."""
    outcome = await session.execute(
        update(Draw)
        .where(Draw.id == draw_id, Draw.status == "open")
        .values(status="drawn", drawn_at=at, result=result)
        .execution_options(synchronize_session=False)
    )
    return bool(outcome.rowcount)


async def cancel_draw(session: AsyncSession, chat_id: int, draw_id: int, at: datetime) -> bool:
    """Open → cancelled, once."""
    outcome = await session.execute(
        update(Draw)
        .where(Draw.chat_id == chat_id, Draw.id == draw_id, Draw.status == "open")
        .values(status="cancelled", drawn_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(outcome.rowcount)
