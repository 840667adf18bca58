"""Group statistics: daily figures as the bot runs, /stats and /stats chart for admins, and the
privacy purge of old audit evidence.

Lowest feature priority, so it only sees messages the rules router let through: a removed ad is
counted as a violation (by the rules router), not as a message."""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.dispatch import Router
from bot.events import MemberJoined, MemberLeft, MessageReceived
from bot.i18n import register
from bot.actions import follow_up
from bot.platform import Capability, CapabilityMissing
from handlers.stats import charts
from storage import core_repo, stats_repo
from storage.db import read_only

if TYPE_CHECKING:  # bot.config imports this package (for StatsSettings): no bot.context at import time
    from bot.context import Context

log = logging.getLogger(__name__)

router = Router("stats", priority=10, private_chats=False)

# How often the evidence purge runs (it is idempotent; the database says what is due).
PURGE_EVERY = timedelta(hours=1)
# Audit entries blanked in one write transaction (milliseconds of the write lock).
EVIDENCE_BATCH = 500
_last_purge: "weakref.WeakKeyDictionary[object, datetime]" = weakref.WeakKeyDictionary()

register(
    {
        "stats.disabled": {"zh-CN": "本群未开启数据统计（stats.enabled = false）。", "en": "Statistics are off in this group (stats.enabled = false)."},
        "stats.bad_period": {
            "zh-CN": "看不懂「{given}」。用法：/stats [7d|30d|90d]，或 /stats chart [30d]。",
            "en": "I don't understand \"{given}\". Usage: /stats [7d|30d|90d], or /stats chart [30d].",
        },
        "stats.header": {
            "zh-CN": "📊 {group} · 最近 {days} 天（{start} 至 {end}）",
            "en": "📊 {group} · last {days} days ({start} to {end})",
        },
        "stats.members": {
            "zh-CN": "成员：现有 {now} 人；加入 {joins}，退出 {leaves}",
            "en": "Members: {now} now; {joins} joined, {leaves} left",
        },
        "stats.messages": {
            "zh-CN": "发言：共 {total} 条，日均 {per_day} 条",
            "en": "Messages: {total} in all, {per_day} a day",
        },
        "stats.active": {
            "zh-CN": "活跃：日均 {avg} 人，最多一天 {peak} 人；期间发过言的共 {distinct} 人",
            "en": "Active: {avg} members a day, {peak} at most; {distinct} different members posted",
        },
        "stats.growth": {"zh-CN": "运营：{items}", "en": "Growth: {items}"},
        "stats.metric.checkins": {"zh-CN": "签到 {n} 次", "en": "{n} check-ins"},
        "stats.metric.points_issued": {"zh-CN": "发放积分 {n}", "en": "{n} points issued"},
        # Who came in and who was removed: one line each (stats_repo.ADMISSIONS).
        "stats.metric.onboarded": {"zh-CN": "完成入群问卷：{n} 人", "en": "Completed the questionnaire: {n}"},
        "stats.metric.admitted_by_admin": {"zh-CN": "管理员放行（/skip）：{n} 人", "en": "Let in by an admin (/skip): {n}"},
        "stats.metric.removed_timeout": {
            "zh-CN": "未按时完成问卷被移出：{n} 人",
            "en": "Removed for not finishing the questionnaire in time: {n}",
        },
        "stats.metric.removed_refused": {"zh-CN": "不同意群规被移出：{n} 人", "en": "Removed for refusing the rules: {n}"},
        "stats.metric.removed_by_rules": {"zh-CN": "违反群规被移出：{n} 人", "en": "Removed by the rules: {n}"},
        "stats.metric.removed_by_admin": {"zh-CN": "管理员移出（/kick、/ban）：{n} 人", "en": "Removed by an admin (/kick, /ban): {n}"},
        "stats.violations": {"zh-CN": "违规（按规则）：{items}", "en": "Violations by rule: {items}"},
        "stats.violation_item": {"zh-CN": "{rule} {n} 次", "en": "{rule}: {n}"},
        "stats.none": {"zh-CN": "无", "en": "none"},
        "stats.top": {"zh-CN": "发言最多：", "en": "Top contributors:"},
        "stats.top_line": {"zh-CN": "  {rank}. {name}：{n} 条", "en": "  {rank}. {name}: {n}"},
        "stats.tags": {"zh-CN": "标签分布（在群成员）：{items}", "en": "Tags (members in the group): {items}"},
        "stats.retention": {
            "zh-CN": "新人留存（按入群周；留存 = 仍在群内且那一周内发过言）：",
            "en": "Retention by join week (retained = still in the group and posted in that week):",
        },
        "stats.cohort": {
            "zh-CN": "  {week} 起一周加入 {size} 人 · 7 天：{d7} · 30 天：{d30}",
            "en": "  week of {week}: {size} joined · day 7: {d7} · day 30: {d30}",
        },
        "stats.cohort_figure": {
            "zh-CN": "在群 {present}，留存 {retained}（{pct}）",
            "en": "{present} still in, {retained} retained ({pct})",
        },
        "stats.no_cohorts": {
            "zh-CN": "  前 {weeks} 个整周没有新成员加入。",
            "en": "  Nobody joined in the last {weeks} full weeks.",
        },
        "stats.pending": {"zh-CN": "未到期", "en": "not yet"},
        "stats.chart_hint": {"zh-CN": "图表：/stats chart", "en": "Charts: /stats chart"},
        "stats.chart_caption_activity": {
            "zh-CN": "最近 {days} 天的发言与活跃人数",
            "en": "Messages and active members, last {days} days",
        },
        "stats.chart_caption_retention": {
            "zh-CN": "新人留存曲线（{since} 以来加入的成员）",
            "en": "Retention curve (members who joined since {since})",
        },
        "stats.no_photo": {
            "zh-CN": "{platform} 平台不能发图片。请在服务器上生成图表：\n{commands}",
            "en": "{platform} cannot post images. Make the charts on the server instead:\n{commands}",
        },
    }
)

PERIOD = re.compile(r"^(\d{1,3})\s*(d|天)?$", re.IGNORECASE)
CHART_WORDS = {"chart", "charts", "图表", "图"}


def parse_days(arg: str) -> int | None:
    match = PERIOD.match(arg.strip())
    if not match:
        return None
    days = int(match.group(1))
    return days if 1 <= days <= 365 else None


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def format_summary(ctx: Context, s: stats_repo.Summary) -> str:
    from handlers.rules.texts import rule_name  # here: bot.config imports this package, the rules import bot

    t = ctx.t
    none = t("stats.none")
    group = ctx.chat_row.title or ctx.chat.key
    lines = [
        t("stats.header", group=group, days=s.days, start=f"{s.start:%m-%d}", end=f"{s.end:%m-%d}"),
        t("stats.members", now=s.members_now, joins=s.totals.get("joins", 0), leaves=s.totals.get("leaves", 0)),
        t("stats.messages", total=s.totals.get("messages", 0), per_day=_num(round(s.messages_per_day, 1))),
        t("stats.active", avg=_num(round(s.active_avg, 1)), peak=s.active_peak, distinct=s.active_distinct),
    ]
    growth = [t(f"stats.metric.{m}", n=s.totals[m]) for m in ("checkins", "points_issued") if s.totals.get(m)]
    if growth:
        lines.append(t("stats.growth", items="，".join(growth) if ctx.lang == "zh-CN" else ", ".join(growth)))
    lines += [t(f"stats.metric.{m}", n=s.totals[m]) for m in stats_repo.ADMISSIONS if s.totals.get(m)]
    sep = "；" if ctx.lang == "zh-CN" else "; "
    named: dict[str, int] = {}
    for key, n in s.violations.items():  # old keys ("links") and new ones ("link") may name one rule
        name = rule_name(ctx.lang, key)
        named[name] = named.get(name, 0) + n
    items = sep.join(t("stats.violation_item", rule=name, n=n) for name, n in sorted(named.items(), key=lambda kv: (-kv[1], kv[0])))
    lines.append(t("stats.violations", items=items or none))
    lines.append(t("stats.top") + ("" if s.top else " " + none))
    for rank, c in enumerate(s.top, 1):
        lines.append(t("stats.top_line", rank=rank, name=c.name, n=c.messages))
    lines.append(t("stats.tags", items=" · ".join(f"{tag} {n}" for tag, n in s.tags) or none))
    lines.append(t("stats.retention"))
    if not any(c.size for c in s.cohorts):
        lines.append(t("stats.no_cohorts", weeks=len(s.cohorts)))
    for cohort in s.cohorts if any(c.size for c in s.cohorts) else []:
        figures = {}
        for n in (7, 30):
            if cohort.size == 0:
                figures[n] = "—"
            elif cohort.retained.get(n) is None:
                figures[n] = t("stats.pending")
            else:
                figures[n] = t(
                    "stats.cohort_figure",
                    present=cohort.present[n],
                    retained=cohort.retained[n],
                    pct=_pct(cohort.retained[n], cohort.size),
                )
        lines.append(t("stats.cohort", week=f"{cohort.week_start:%m-%d}", size=cohort.size, d7=figures[7], d30=figures[30]))
    lines.append(t("stats.chart_hint"))
    return "\n".join(lines)


def _tz(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.settings.timezone)


# --- counting --------------------------------------------------------------------------------------
@router.on(MessageReceived, filter=lambda ctx: ctx.settings.stats.enabled and not ctx.user.is_bot)
async def count_message(ctx: Context) -> None:
    await ctx.count("messages")
    if ctx.member_row is not None:
        figure = (ctx.chat_row.id, ctx.local_day, ctx.member_row.id)
        ctx.after_commit(lambda: ctx.app.tally.add(MEMBER_DAYS, figure))


MEMBER_DAYS = "stats.member_days"
router.figure(MEMBER_DAYS)(stats_repo.write_member_days)


@router.on(MemberJoined, filter=lambda ctx: ctx.settings.stats.enabled)
async def count_join(ctx: Context) -> None:
    await ctx.count("joins")


@router.on(MemberLeft, filter=lambda ctx: ctx.settings.stats.enabled)
async def count_leave(ctx: Context) -> None:
    await ctx.count("leaves")


# --- /stats ----------------------------------------------------------------------------------------
@router.command(
    "stats",
    "统计",
    "数据",
    description={"zh-CN": "群数据：/stats [7d|30d|90d]，/stats chart 出图", "en": "Group statistics: /stats [7d|30d|90d]; /stats chart for charts"},
    admin_only=True,
)
async def stats_command(ctx: Context) -> None:
    settings = ctx.settings.stats
    if not settings.enabled:
        await ctx.reply(ctx.t("stats.disabled"))
        return
    args = [a.lower() for a in ctx.event.args]
    chart = bool(args) and args[0] in CHART_WORDS
    if chart:
        args = args[1:]
    days = parse_days(args[0]) if args else parse_days(settings.default_period if not chart else "30d")
    if days is None or len(args) > 1:
        await ctx.reply(ctx.t("stats.bad_period", given=" ".join(ctx.event.args)))
        return
    await ctx.flush_figures()
    if chart:
        await _post_charts(ctx, days)
        return
    summary = await stats_repo.summary(
        ctx.session,
        ctx.chat_row.id,
        tz=_tz(ctx),
        today=ctx.local_day,
        days=days,
        top_n=settings.top_contributors,
        retention_weeks=settings.retention_weeks,
        now=ctx.now,
    )
    await ctx.reply(format_summary(ctx, summary))


def chart_font(ctx_or_app, settings) -> str | None:
    if not settings.stats.chart_font:
        return None
    config = ctx_or_app.config if hasattr(ctx_or_app, "config") else ctx_or_app.app.config
    return str(config.resolve_path(settings.stats.chart_font))


async def _post_charts(ctx: Context, days: int) -> None:
    if not ctx.can(Capability.SEND_PHOTO):
        key = ctx.chat.key
        commands = "\n".join(
            f"qunzhu chart -c CONFIG --group {key} --what {what} --days {days} -o {what}.png" for what in ("activity", "retention")
        )
        await ctx.reply(ctx.t("stats.no_photo", platform=ctx.platform.name, commands=commands))
        return
    today = ctx.local_day
    start = today - timedelta(days=days - 1)
    since = today - timedelta(days=max(days, 90))
    series = await stats_repo.daily_series(ctx.session, [ctx.chat_row.id], start, today, ("messages", "active", "joins", "leaves"))
    size, points = await stats_repo.retention_curve(ctx.session, [ctx.chat_row.id], _tz(ctx), since, today)
    group = ctx.chat_row.title or ctx.chat.key
    font = chart_font(ctx.app, ctx.settings)
    activity = await asyncio.to_thread(charts.activity_png, series, start, group=group, group_key=ctx.chat.key, language=ctx.lang, chart_font=font)
    retention = await asyncio.to_thread(charts.retention_png, points, size, since, group=group, group_key=ctx.chat.key, language=ctx.lang, chart_font=font)
    instead = ctx.t("stats.no_photo", platform=ctx.platform.name, commands=f"qunzhu chart -c CONFIG --group {ctx.chat.key} --what activity -o activity.png")
    try:
        await ctx.platform.send_photo(ctx.chat, activity, ctx.t("stats.chart_caption_activity", days=days), thread_id=ctx.thread_id,
                                      then="stats.chart_posted", then_args={"instead": instead, "thread_id": ctx.thread_id})
        await ctx.platform.send_photo(ctx.chat, retention, ctx.t("stats.chart_caption_retention", since=f"{since:%Y-%m-%d}"), thread_id=ctx.thread_id)
    except CapabilityMissing:
        await ctx.reply(instead)


@follow_up("stats.chart_posted")
async def _chart_posted(scope, outcome, args) -> None:
    if not outcome.ok and not outcome.uncertain:
        log.warning("posting a chart in %s failed: %s %s", scope.chat.key, outcome.reason, outcome.detail)
        await scope.send(args["instead"], thread_id=args.get("thread_id"))


# --- privacy: blank old evidence ----------------------------------------------------------------
async def purge_evidence(app) -> int:
    """Blank audit evidence older than each group's stats.evidence_retention_days. Returns how many.
    What is due is read without the write lock, then blanked EVIDENCE_BATCH entries a transaction,
    so a backlog never keeps the groups' messages waiting."""
    now = app.clock.now()
    due: list[int] = []
    async with app.sessions() as session:
        await read_only(session)
        for chat in await core_repo.list_chats(session):
            stored = await core_repo.stored_overrides(session, chat.id)
            days = app.config.group_settings(chat.key, stored).stats.evidence_retention_days
            due += await stats_repo.evidence_due(session, chat.id, now - timedelta(days=days))
    total = 0
    for i in range(0, len(due), EVIDENCE_BATCH):
        async with app.sessions() as session, session.begin():
            total += await stats_repo.blank_evidence(session, due[i : i + EVIDENCE_BATCH])
    if total:
        log.info("privacy: blanked the evidence of %d audit entries past their retention", total)
    return total


@router.on_tick
async def privacy_tick(app) -> None:
    now = app.clock.now()
    last = _last_purge.get(app)
    if last is not None and now - last < PURGE_EVERY:
        return
    await purge_evidence(app)
    _last_purge[app] = now


# --- warm-up: today's snapshots of the closed days, before anyone asks ---------------------------
WARM_EVERY = timedelta(minutes=10)
_last_warm: "weakref.WeakKeyDictionary[object, datetime]" = weakref.WeakKeyDictionary()


async def warm_snapshots(app) -> int:
    """For each group with figures from yesterday or today, make today's snapshots for its default
    /stats period and its retention cohorts. Returns how many groups needed it. The snapshots are
    computed in read-only transactions and each group's stored in a short write transaction of its
    own: the write lock every incoming message needs is never held for the computation."""
    now = app.clock.now()
    async with app.sessions() as session:
        await read_only(session)
        chats = await core_repo.list_chats(session)
        plans = []
        for chat in chats:
            settings = app.config.group_settings(chat.key, await core_repo.stored_overrides(session, chat.id))
            if not settings.stats.enabled:
                continue
            tz = ZoneInfo(settings.timezone)
            today = now.astimezone(tz).date()
            if await stats_repo.has_activity_since(session, chat.id, today - timedelta(days=1)):
                plans.append((chat.id, tz, today, parse_days(settings.stats.default_period), settings.stats.retention_weeks))
    warmed = 0
    for chat_id, tz, today, days, weeks in plans:
        async with app.sessions() as session:
            await read_only(session)
            payloads = await stats_repo.missing_snapshots(session, chat_id, tz=tz, today=today, days=days, weeks=weeks)
        if payloads:
            async with app.sessions() as session, session.begin():
                if await stats_repo.store_snapshots(session, chat_id, today, payloads, now):
                    warmed += 1
    return warmed


@router.on_tick
async def warm_tick(app) -> None:
    now = app.clock.now()
    last = _last_warm.get(app)
    if last is not None and timedelta(0) <= now - last < WARM_EVERY:
        return
    _last_warm[app] = now
    await warm_snapshots(app)
