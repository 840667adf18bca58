"""Points and growth: check-in, activity points, levels, boards, admin awards, shop, lottery.

Runs after the rules router (priority 100), which stops ads before they reach us, so a message seen
here has passed the rules. Everything is written through handlers.points.service onto the
append-only ledger; see service.py for the API other features call.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.dispatch import Router
from bot.i18n import catalogue, t
from bot.events import ChatRef, MessageReceived, UserRef
from bot.platform import Button, Capability
from handlers.points import service
from handlers.points import texts as _texts  # noqa: F401  (registers the catalogue)
from handlers.points.texts import ledger_reason
from storage import core_repo, points_repo as repo
from storage.models import Chat, Member
from storage.points_models import MemberTotals

router = Router("points", priority=50, private_chats=False)
router.with_member(MemberTotals, repo.member_join)
log = logging.getLogger(__name__)

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
JOIN_PREFIX = "points:join:"


# --- helpers -------------------------------------------------------------------------------------
def _points(ctx):
    return ctx.settings.points


def _tz(ctx) -> ZoneInfo:
    return ZoneInfo(ctx.settings.timezone)


def _user_of(member: Member, platform: str) -> UserRef:
    return UserRef(platform, member.user_id, name=member.display_name, username=member.username)


def _name(member: Member) -> str:
    return member.display_name or (f"@{member.username}" if member.username else member.user_id)


def _local(ctx, at: datetime) -> str:
    return at.astimezone(_tz(ctx)).strftime("%m-%d %H:%M")


def period_start(period: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Start (UTC) of the group's current week (Monday 00:00 local) or month; None for all time."""
    local = now.astimezone(tz)
    if period == "week":
        day = local.date() - timedelta(days=local.weekday())
    elif period == "month":
        day = local.date().replace(day=1)
    else:
        return None
    return datetime.combine(day, time(0), tz)


def _season_start(ctx) -> datetime | None:
    """Ranks in check-in replies and /me are on the group's default board (points.default_board)."""
    return period_start(_points(ctx).default_board, ctx.now, _tz(ctx))


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _is_checkin_word(ctx) -> bool:
    if not isinstance(ctx.event, MessageReceived) or not ctx.text:
        return False
    said = _normalise(ctx.text).strip("!！。.~～")
    return said in _checkin_words(tuple(_points(ctx).checkin_words))


@lru_cache(maxsize=256)
def _checkin_words(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(map(_normalise, words))


async def _require_enabled(ctx) -> bool:
    if _points(ctx).enabled:
        return True
    await ctx.reply(ctx.t("points.disabled"))
    return False


async def announce_level_up(ctx, member: Member) -> None:
    """Post a level-up once per level reached (whoever's award caused it)."""
    settings = _points(ctx)
    if not settings.announce_level_up:
        return
    level = await service.level_of(ctx.session, chat_id=ctx.chat_row.id, member_id=member.id, settings=settings)
    if level <= await repo.announced_level(ctx.session, member.id):
        return  # the common case: nothing new, nothing written
    if not await repo.raise_announced_level(ctx.session, member.id, level):
        return
    spec = settings.levels[level - 1]
    unlocked = [name for name, needed in settings.rights.items() if needed == level]
    rights = ""
    if unlocked:
        names = [ctx.t(f"points.right.{n}") if f"points.right.{n}" in _known_rights() else n for n in unlocked]
        rights = ctx.t("points.level_up_rights", rights="、".join(names) if ctx.lang.startswith("zh") else ", ".join(names))
    who = ctx.platform.mention(_user_of(member, ctx.chat.platform))
    await ctx.send(ctx.t("points.level_up", who=who, level=level, title=spec.title(ctx.lang), rights=rights))


def _known_rights() -> set[str]:
    return {k for k in catalogue() if k.startswith("points.right.")}


async def _resolve_target(ctx) -> tuple[Member | None, list[str], str | None]:
    """The member a command is about: an @name given first, else the author of the replied message,
    else the first argument (user id or name). Returns (member, remaining args, the token that did
    not match — "" when none was given)."""
    event = ctx.event
    args = list(event.args)
    replied = event.reply_to_user if event.reply_to_user is not None and not event.reply_to_user.is_bot else None
    if replied is not None and not (args and args[0].startswith("@")):
        member = await core_repo.ensure_member(ctx.session, ctx.chat_row.id, replied, ctx.now, seen=False)
        return member, args, None
    if not args:
        return None, args, ""
    member = await repo.find_member(ctx.session, ctx.chat_row.id, args[0])
    return member, args[1:], None if member else args[0]


# --- check-in ------------------------------------------------------------------------------------
async def do_checkin(ctx) -> None:
    member = ctx.member_row
    if member is None:
        return
    settings = _points(ctx)
    day = ctx.local_day
    result = await service.checkin(ctx.session, chat_id=ctx.chat_row.id, member_id=member.id, day=day, now=ctx.now, settings=settings)
    balance = await service.balance(ctx.session, chat_id=ctx.chat_row.id, member_id=member.id)
    who = ctx.mention()
    if not result.new:
        await ctx.reply(ctx.t("points.checkin_again", who=who, streak=result.streak, balance=balance))
        return
    await ctx.count("checkins")
    if result.points:
        await ctx.count("points_issued", n=result.points)
    position = await repo.checkin_position(ctx.session, ctx.chat_row.id, member.id, day)
    rank, _ = await repo.rank(ctx.session, ctx.chat_row.id, member.id, since=_season_start(ctx))
    bonus = ctx.t("points.checkin_bonus", bonus=result.bonus) if result.bonus else ""
    await ctx.reply(
        ctx.t("points.checkin_ok", who=who, points=result.points, bonus=bonus, streak=result.streak,
              position=position, balance=balance, rank=rank or "-")
    )
    await announce_level_up(ctx, member)


@router.command("checkin", "签到", "打卡", description={"zh-CN": "每日签到领积分", "en": "Daily check-in for points"})
async def checkin_command(ctx) -> None:
    if await _require_enabled(ctx):
        await do_checkin(ctx)


@router.message(filter=_is_checkin_word)
async def checkin_word(ctx) -> None:
    if _points(ctx).enabled:
        await do_checkin(ctx)


# --- activity ------------------------------------------------------------------------------------
@router.message()
async def activity(ctx) -> None:
    """Points for a message that got past the rules: long enough, under the daily cap, not a repeat
    (the same text twice in a day earns once: the text's hash is part of the ledger key)."""
    settings = _points(ctx)
    member = ctx.member_row
    if not settings.enabled or member is None or ctx.user.is_bot or ctx.data.get("violation"):
        return
    if _is_checkin_word(ctx):
        return
    text = _normalise(ctx.text)
    if settings.activity_points > 0 and len(text) >= max(1, settings.activity_min_length):
        day = ctx.local_day
        today = await repo.activity_on(ctx.session, member.id, day)
        amount = min(settings.activity_points, settings.activity_daily_cap - today)
        if amount > 0:
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
            if await service.award(
                ctx.session, chat_id=ctx.chat_row.id, member_id=member.id, amount=amount, reason="message",
                source=repo.ACTIVITY, key=f"activity:{member.id}:{day.isoformat()}:{digest}", now=ctx.now, day=day,
            ):
                await ctx.count("points_issued", n=amount)
    # Also announces levels reached through other features' awards (onboarding, invites …).
    await announce_level_up(ctx, member)


# --- /me /top /history -----------------------------------------------------------------------------
@router.command("me", "我的积分", description={"zh-CN": "我的积分、等级、连签和排名", "en": "Your points, level, streak and rank"})
async def me(ctx) -> None:
    if not await _require_enabled(ctx) or ctx.member_row is None:
        return
    settings = _points(ctx)
    chat_id, member_id = ctx.chat_row.id, ctx.member_row.id
    balance = await service.balance(ctx.session, chat_id=chat_id, member_id=member_id)
    growth = await service.growth_points(ctx.session, chat_id=chat_id, member_id=member_id, settings=settings)
    level = settings.level_for(growth)
    nxt = ""
    if level < len(settings.levels):
        nxt = ctx.t("points.me_next", level=level + 1, missing=settings.levels[level].min_points - growth)
    streak = await repo.current_streak(ctx.session, chat_id, member_id, ctx.local_day)
    checked = await repo.checkin_of(ctx.session, chat_id, member_id, ctx.local_day) is not None
    season = settings.default_board
    rank, _ = await repo.rank(ctx.session, chat_id, member_id, since=_season_start(ctx))
    if rank:
        rank_text = ctx.t("points.rank_of", rank=rank)
        if season != "all":
            rank_text += ctx.t("points.rank_period", period=ctx.t(f"points.period.{season}"))
    else:
        rank_text = ctx.t("points.unranked")
    await ctx.reply(
        ctx.t(
            "points.me", who=ctx.mention(), balance=balance, level=level, title=settings.levels[level - 1].title(ctx.lang),
            next=nxt, streak=streak, today=ctx.t("points.me_checked_today" if checked else "points.me_not_checked_today"),
            rank=rank_text,
        )
    )


@router.command("top", "排行榜", description={"zh-CN": "积分榜：/top [week|month|all]", "en": "Leaderboard: /top [week|month|all]"})
async def top(ctx) -> None:
    if not await _require_enabled(ctx):
        return
    settings = _points(ctx)
    aliases = {"week": "week", "w": "week", "本周": "week", "周": "week", "month": "month", "m": "month", "本月": "month",
               "月": "month", "all": "all", "总": "all", "总榜": "all"}
    given = ctx.event.args[0].lower() if ctx.event.args else settings.default_board
    period = aliases.get(given)
    if period is None:
        await ctx.reply(ctx.t("points.top_bad_period", given=given))
        return
    since = period_start(period, ctx.now, _tz(ctx))
    rows = await repo.board(ctx.session, ctx.chat_row.id, since=since, limit=settings.board_size)
    if not rows:
        await ctx.reply(ctx.t("points.top_empty"))
        return
    lines = [ctx.t("points.top_header", period=ctx.t(f"points.period.{period}"))]
    for place, (member, points) in enumerate(rows, start=1):
        lines.append(ctx.t("points.top_line", place=MEDALS.get(place, f"{place}."), name=_name(member), points=points))
    if ctx.member_row is not None and all(m.id != ctx.member_row.id for m, _ in rows):
        rank, mine = await repo.rank(ctx.session, ctx.chat_row.id, ctx.member_row.id, since=since)
        if rank:
            lines.append(ctx.t("points.top_you", rank=rank, points=mine))
    await ctx.reply("\n".join(lines))


@router.command("history", "积分记录", description={"zh-CN": "最近的积分记录（管理员可查看 @成员）", "en": "Your recent points (admins: /history @member)"})
async def history(ctx) -> None:
    if not await _require_enabled(ctx) or ctx.member_row is None:
        return
    member = ctx.member_row
    if (ctx.event.args or ctx.event.reply_to_user) and await ctx.is_admin():
        target, _, missing = await _resolve_target(ctx)
        if target is None:
            await ctx.reply(ctx.t("points.no_member", given=missing or ""))
            return
        member = target
    who = ctx.platform.mention(_user_of(member, ctx.chat.platform))
    rows = await repo.history(ctx.session, ctx.chat_row.id, member.id, limit=_points(ctx).history_size)
    if not rows:
        await ctx.reply(ctx.t("points.history_empty", who=who))
        return
    lines = [ctx.t("points.history_header", who=who)]
    for row in rows:
        label_key = f"points.source.{row.source}"
        label = ctx.t(label_key) if label_key in _source_keys() else row.source
        reason = f" · {ledger_reason(ctx.lang, row.reason)}" if row.reason and row.source not in ("checkin", "activity") else ""
        lines.append(ctx.t("points.history_line", at=_local(ctx, row.at), amount=f"{row.amount:+d}", label=label, reason=reason))
    await ctx.reply("\n".join(lines))


def _source_keys() -> set[str]:
    return {k for k in catalogue() if k.startswith("points.source.")}


# --- admin awards ----------------------------------------------------------------------------------
async def _admin_change(ctx, sign: int) -> None:
    if not await _require_enabled(ctx):
        return
    command = ctx.event.name
    settings = _points(ctx)
    target, args, missing = await _resolve_target(ctx)
    if target is None:
        await ctx.reply(ctx.t("points.no_member", given=missing) if missing else ctx.t("points.award_usage", command=command))
        return
    if not args:
        await ctx.reply(ctx.t("points.award_usage", command=command))
        return
    limit = settings.award_max or 10**9
    try:
        amount = int(args[0])
    except ValueError:
        amount = 0
    if not 1 <= amount <= limit:
        await ctx.reply(ctx.t("points.bad_amount", given=args[0], max=limit))
        return
    reason = " ".join(args[1:]) or ctx.t("points.no_reason")
    source = "admin"
    key = f"admin:{ctx.event.message_id}"
    written = await service.award(
        ctx.session, chat_id=ctx.chat_row.id, member_id=target.id, amount=sign * amount, reason=reason,
        source=source, key=key, now=ctx.now,
    )
    if not written:
        await ctx.reply(ctx.t("points.already_done"))
        return
    target_user = _user_of(target, ctx.chat.platform)
    await ctx.audit("award" if sign > 0 else "deduct", target=target_user, evidence=reason,
                    details={"amount": sign * amount, "key": key}, actor=ctx.user.key)
    if sign > 0:
        await ctx.count("points_issued", n=amount)
    balance = await service.balance(ctx.session, chat_id=ctx.chat_row.id, member_id=target.id)
    who = ctx.platform.mention(target_user)
    await ctx.reply(ctx.t("points.awarded" if sign > 0 else "points.deducted", who=who, amount=amount, reason=reason, balance=balance))
    if sign > 0:
        await announce_level_up(ctx, target)


@router.command("award", "奖励", description={"zh-CN": "奖励积分：/award @成员 数量 原因", "en": "Award points: /award @member N reason"}, admin_only=True)
async def award_command(ctx) -> None:
    await _admin_change(ctx, +1)


@router.command("deduct", "扣分", description={"zh-CN": "扣除积分：/deduct @成员 数量 原因", "en": "Deduct points: /deduct @member N reason"}, admin_only=True)
async def deduct_command(ctx) -> None:
    await _admin_change(ctx, -1)


# --- shop ----------------------------------------------------------------------------------------
def _int_at_least(text: str, minimum: int) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= minimum else None


@router.command("shop", "商城", description={"zh-CN": "积分商城（管理员：/shop add 名称 价格 库存、/shop remove 编号）", "en": "The shop (admins: /shop add NAME PRICE STOCK, /shop remove ITEM)"})
async def shop(ctx) -> None:
    if not await _require_enabled(ctx):
        return
    args = list(ctx.event.args)
    sub = args[0].lower() if args else ""
    if sub in ("add", "remove", "上架", "下架"):
        if not await ctx.is_admin():
            await ctx.reply(ctx.t("points.shop_admin_only"))
            return
        if sub in ("add", "上架"):
            await _shop_add(ctx, args[1:])
        else:
            item = await repo.find_item(ctx.session, ctx.chat_row.id, " ".join(args[1:])) if len(args) > 1 else None
            if item is None:
                await ctx.reply(ctx.t("points.no_item", given=" ".join(args[1:])))
                return
            await repo.remove_item(ctx.session, ctx.chat_row.id, item.id)
            await ctx.audit("shop_remove", details={"item": item.id, "name": item.name}, actor=ctx.user.key)
            await ctx.reply(ctx.t("points.shop_removed", id=item.id, name=item.name))
        return
    items = await repo.list_items(ctx.session, ctx.chat_row.id)
    if not items:
        await ctx.reply(ctx.t("points.shop_empty"))
        return
    lines = [ctx.t("points.shop_header")]
    lines += [ctx.t("points.shop_line", id=i.id, name=i.name, price=i.price, stock=i.stock) for i in items]
    await ctx.reply("\n".join(lines))


async def _shop_add(ctx, args: list[str]) -> None:
    if len(args) < 3:
        await ctx.reply(ctx.t("points.shop_add_usage"))
        return
    name, price_text, stock_text = " ".join(args[:-2]), args[-2], args[-1]
    price = _int_at_least(price_text, 1)
    if price is None:
        await ctx.reply(ctx.t("points.shop_bad_number", given=price_text, what=ctx.t("points.what.price"), min=1))
        return
    stock = _int_at_least(stock_text, 0)
    if stock is None:
        await ctx.reply(ctx.t("points.shop_bad_number", given=stock_text, what=ctx.t("points.what.stock"), min=0))
        return
    item = await repo.put_item(ctx.session, ctx.chat_row.id, name[:128], price, stock, ctx.now)
    await ctx.audit("shop_add", details={"item": item.id, "name": item.name, "price": price, "stock": stock}, actor=ctx.user.key)
    await ctx.reply(ctx.t("points.shop_added", id=item.id, name=item.name, price=item.price, stock=item.stock))


@router.command("redeem", "兑换", description={"zh-CN": "兑换商品：/redeem 编号", "en": "Redeem an item: /redeem ITEM"})
async def redeem(ctx) -> None:
    if not await _require_enabled(ctx) or ctx.member_row is None:
        return
    ref = " ".join(ctx.event.args)
    if not ref:
        await ctx.reply(ctx.t("points.redeem_usage"))
        return
    result = await service.redeem(ctx.session, chat_id=ctx.chat_row.id, member_id=ctx.member_row.id, item_ref=ref, now=ctx.now)
    if result.status == "no_item":
        await ctx.reply(ctx.t("points.no_item", given=ref))
    elif result.status == "out_of_stock":
        await ctx.reply(ctx.t("points.out_of_stock", name=result.item.name))
    elif result.status == "insufficient":
        await ctx.reply(ctx.t("points.insufficient", name=result.item.name, price=result.item.price, balance=result.balance))
    else:
        order, item = result.order, result.item
        await ctx.reply(ctx.t("points.redeemed", who=ctx.mention(), name=item.name, order=order.id, price=item.price, balance=result.balance))
        await ctx.notify_admins(ctx.t("points.new_order_admin", order=order.id, who=ctx.mention(), name=item.name, price=item.price))


@router.command("orders", "订单", description={"zh-CN": "订单（管理员：待发放订单）", "en": "Orders (admins: the ones to fulfil)"})
async def orders(ctx) -> None:
    if not await _require_enabled(ctx) or ctx.member_row is None:
        return
    if await ctx.is_admin():
        rows = await repo.orders(ctx.session, ctx.chat_row.id, status="pending", limit=50)
        header = ctx.t("points.orders_header")
    else:
        rows = await repo.orders(ctx.session, ctx.chat_row.id, member_id=ctx.member_row.id, limit=50)
        header = ctx.t("points.my_orders_header", who=ctx.mention())
    if not rows:
        await ctx.reply(ctx.t("points.orders_empty"))
        return
    lines = [header] + [
        ctx.t("points.order_line", id=o.id, name=i.name, who=_name(m), status=ctx.t(f"points.status.{o.status}"), at=_local(ctx, o.created_at))
        for o, i, m in rows
    ]
    await ctx.reply("\n".join(lines))


@router.command("fulfil", "fulfill", "发放", description={"zh-CN": "标记订单已发放：/fulfil 订单号", "en": "Mark an order handed over: /fulfil ORDER"}, admin_only=True)
async def fulfil(ctx) -> None:
    if not await _require_enabled(ctx):
        return
    given = ctx.event.args[0].lstrip("#") if ctx.event.args else ""
    if not given.isdigit():
        await ctx.reply(ctx.t("points.fulfil_usage"))
        return
    order = await repo.fulfil_order(ctx.session, ctx.chat_row.id, int(given), ctx.user.key, ctx.now)
    if order is None:
        await ctx.reply(ctx.t("points.no_order", given=given))
        return
    rows = await repo.orders(ctx.session, ctx.chat_row.id, member_id=order.member_id, limit=1000)
    _, item, member = next(r for r in rows if r[0].id == order.id)
    await ctx.audit("fulfil", target=_user_of(member, ctx.chat.platform), details={"order": order.id, "item": item.name}, actor=ctx.user.key)
    text = ctx.t("points.fulfilled", order=order.id, name=item.name, who=ctx.platform.mention(_user_of(member, ctx.chat.platform)))
    if ctx.event.via_web:
        await ctx.send(text)  # fulfilled from the web console: the member is told in the group all the same
    await ctx.reply(text)


# --- lottery -------------------------------------------------------------------------------------
def parse_closing(text: str, now: datetime, tz: ZoneInfo, max_hours: int) -> datetime | None:
    """'30m', '2h', '1d', '90' (minutes) or 'HH:MM' (next such local time) → closing time (UTC)."""
    text = text.strip().lower()
    match = re.fullmatch(r"(\d+)([mhd]?)", text)
    closes: datetime | None = None
    if match:
        n, unit = int(match.group(1)), match.group(2) or "m"
        closes = now + {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]
    else:
        match = re.fullmatch(r"(\d{1,2})[:：](\d{2})", text)
        if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
            local = now.astimezone(tz)
            candidate = datetime.combine(local.date(), time(int(match.group(1)), int(match.group(2))), tz)
            if candidate <= local:
                candidate += timedelta(days=1)
            closes = candidate
    if closes is None or closes <= now or closes - now > timedelta(hours=max_hours):
        return None
    return closes


def _cost_text(ctx, cost: int) -> str:
    return ctx.t("points.draw_cost", cost=cost) if cost else ctx.t("points.draw_free")


@router.command("lottery", "抽奖", description={"zh-CN": "开启抽奖：/lottery 时长 人数 积分 奖品；/lottery cancel 编号", "en": "Open a draw: /lottery DURATION WINNERS COST PRIZE; /lottery cancel ID"}, admin_only=True)
async def open_lottery(ctx) -> None:
    if not await _require_enabled(ctx):
        return
    args = list(ctx.event.args)
    if args and args[0].lower() in ("cancel", "取消"):
        given = args[1].lstrip("#") if len(args) > 1 else ""
        if not given.isdigit():
            await ctx.reply(ctx.t("points.draw_cancel_usage"))
            return
        refunded = await service.cancel_draw(ctx.session, chat_id=ctx.chat_row.id, draw_id=int(given), now=ctx.now)
        if refunded is None:
            await ctx.reply(ctx.t("points.draw_none", given=given))
            return
        await ctx.audit("draw_cancel", details={"draw": int(given), "refunded": refunded}, actor=ctx.user.key)
        await ctx.reply(ctx.t("points.draw_cancelled", id=given, refunded=refunded))
        return
    if len(args) < 4:
        await ctx.reply(ctx.t("points.draw_usage"))
        return
    settings = _points(ctx)
    closes = parse_closing(args[0], ctx.now, _tz(ctx), settings.draw_max_hours)
    if closes is None:
        await ctx.reply(ctx.t("points.draw_bad_duration", given=args[0], max=settings.draw_max_hours))
        return
    winners = _int_at_least(args[1], 1)
    if winners is None:
        await ctx.reply(ctx.t("points.draw_bad_number", given=args[1], what=ctx.t("points.what.winners")))
        return
    cost = _int_at_least(args[2], 0)
    if cost is None:
        await ctx.reply(ctx.t("points.draw_bad_number", given=args[2], what=ctx.t("points.what.cost")))
        return
    prize = " ".join(args[3:])[:255]
    seed = service.new_seed()
    draw = await repo.create_draw(
        ctx.session, chat_id=ctx.chat_row.id, prize=prize, cost=cost, winners=winners, seed=seed,
        seed_hash=service.seed_hash(seed), created_by=ctx.user.key, created_at=ctx.now, closes_at=closes,
    )
    await ctx.audit("draw_open", details={"draw": draw.id, "prize": prize, "seed_hash": draw.seed_hash}, actor=ctx.user.key)
    text = ctx.t("points.draw_opened", id=draw.id, prize=prize, winners=winners, cost=_cost_text(ctx, cost),
                 closes=_local(ctx, closes), hash=draw.seed_hash)
    buttons = [[Button(ctx.t("points.draw_join_button"), f"{JOIN_PREFIX}{draw.id}")]] if ctx.can(Capability.BUTTONS) else None
    await ctx.send(text, buttons=buttons)


async def _join(ctx, draw_id: int) -> tuple[bool, str]:
    member = ctx.member_row
    result = await service.join_draw(
        ctx.session, chat_id=ctx.chat_row.id, member_id=member.id, user_id=member.user_id, draw_id=draw_id, now=ctx.now
    )
    who = ctx.mention()
    if result.status == "no_draw":
        return False, ctx.t("points.draw_none", given=draw_id)
    if result.status == "closed":
        return False, ctx.t("points.draw_closed", id=draw_id)
    if result.status == "already":
        return False, ctx.t("points.draw_already", who=who, id=draw_id)
    if result.status == "insufficient":
        draw = await repo.get_draw(ctx.session, ctx.chat_row.id, draw_id)
        return False, ctx.t("points.draw_insufficient", id=draw_id, cost=draw.cost, balance=result.balance)
    return True, ctx.t("points.draw_joined", who=who, id=draw_id, count=await repo.count_entries(ctx.session, draw_id))


@router.command("join_draw", "joindraw", description={"zh-CN": "参加抽奖：/join_draw [编号]", "en": "Join a draw: /join_draw [NUMBER]"})
async def join_draw(ctx) -> None:
    if not await _require_enabled(ctx) or ctx.member_row is None:
        return
    given = ctx.event.args[0].lstrip("#") if ctx.event.args else ""
    if given:
        if not given.isdigit():
            await ctx.reply(ctx.t("points.draw_none", given=given))
            return
        draw_id = int(given)
    else:
        open_now = await repo.open_draws(ctx.session, ctx.chat_row.id)
        if len(open_now) != 1:
            await ctx.reply(ctx.t("points.draws_empty") if not open_now else ctx.t("points.draw_which"))
            return
        draw_id = open_now[0].id
    _, text = await _join(ctx, draw_id)
    await ctx.reply(text)


@router.button(JOIN_PREFIX)
async def join_button(ctx) -> None:
    if ctx.member_row is None:
        return
    tail = ctx.event.data[len(JOIN_PREFIX):]
    joined, text = await _join(ctx, int(tail)) if tail.isdigit() else (False, ctx.t("points.draw_none", given=tail))
    if ctx.event.callback_id:
        await ctx.platform.answer_button(ctx.event.callback_id, text)
    if joined or not ctx.event.callback_id:
        await ctx.send(text)


@router.command("draws", description={"zh-CN": "进行中的抽奖", "en": "Open draws"})
async def draws(ctx) -> None:
    if not await _require_enabled(ctx):
        return
    rows = await repo.open_draws(ctx.session, ctx.chat_row.id)
    if not rows:
        await ctx.reply(ctx.t("points.draws_empty"))
        return
    lines = [ctx.t("points.draws_header")]
    for d in rows:
        lines.append(ctx.t("points.draws_line", id=d.id, prize=d.prize, winners=d.winners, cost=_cost_text(ctx, d.cost),
                           count=await repo.count_entries(ctx.session, d.id), closes=_local(ctx, d.closes_at)))
    await ctx.reply("\n".join(lines))


@router.command("draw_entries", description={"zh-CN": "抽奖参与名单（用于验证）", "en": "Entries of a draw (to verify it)"})
async def draw_entries(ctx) -> None:
    given = ctx.event.args[0].lstrip("#") if ctx.event.args else ""
    if not given.isdigit():
        await ctx.reply(ctx.t("points.draw_entries_usage"))
        return
    draw = await repo.get_draw(ctx.session, ctx.chat_row.id, int(given))
    if draw is None:
        await ctx.reply(ctx.t("points.draw_unknown", given=given))
        return
    entries = await repo.draw_entries(ctx.session, draw.id)
    lines = [ctx.t("points.draw_entries_header", id=draw.id, count=len(entries))] + [e.user_id for e in entries]
    await ctx.reply("\n".join(lines))


@router.on_tick
async def run_due_draws(app) -> None:
    """Draw every lottery whose closing time has passed, post the result with the seed revealed."""
    now = app.clock.now()
    async with app.work() as (session, actions):
        due = await repo.due_draws(session, now)
        for draw in due:
            chat = await session.get(Chat, draw.chat_id)
            if chat is None or chat.platform not in app.platforms:
                continue
            platform = actions.platform(chat.platform)
            entries = await repo.draw_entries(session, draw.id)
            winners = service.pick_winners(draw.seed, [e.user_id for e in entries], draw.winners)
            result = {"entries": len(entries), "winners": winners}
            if not await repo.claim_draw(session, draw.id, result, now):
                continue
            stored = await core_repo.stored_overrides(session, chat.id)
            settings = app.config.group_settings(chat.key, stored)
            by_user = {e.user_id: e.member_id for e in entries}
            members = await repo.members_by_ids(session, [by_user[w] for w in winners])
            names = [platform.mention(_user_of(members[by_user[w]], chat.platform)) for w in winners]
            lang = settings.language
            text = t(
                lang, "points.draw_result", id=draw.id, prize=draw.prize, count=len(entries),
                winners=("、" if lang.startswith("zh") else ", ").join(names) or t(lang, "points.draw_no_winners"),
                seed=draw.seed, hash=draw.seed_hash, n=draw.winners,
            )
            await core_repo.audit(session, chat_id=chat.id, at=now, actor="bot", action="draw",
                                  details={"draw": draw.id, "seed": draw.seed, "winners": winners})
            await platform.send(ChatRef(chat.platform, chat.external_id, chat.title), text)

