"""A group's dashboard: the period's figures (as /stats gives them) and the activity and retention
charts (PNG, drawn by handlers/stats/charts.py in a thread, like /stats chart)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.i18n import register
from handlers.stats import charts
from handlers.web.server import WebConsole
from storage import stats_repo

PERIODS = (7, 30, 90)


def _days(request: web.Request) -> int:
    try:
        days = int(request.query.get("days", "30"))
    except ValueError:
        return 30
    return days if days in PERIODS else 30


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def dashboard(request: web.Request) -> web.Response:
        group = await console.group(request)
        days = _days(request)
        tz = ZoneInfo(group.settings.timezone)
        today = console.app.clock.now().astimezone(tz).date()
        await console.app.flush_figures()  # the figures batched in memory are on the page too
        async with console.app.sessions() as session:
            summary = await stats_repo.summary(session, group.id, tz=tz, today=today, days=days,
                                               top_n=group.settings.stats.top_contributors,
                                               retention_weeks=group.settings.stats.retention_weeks, now=console.app.clock.now())
        return console.render(request, "dashboard.html", group=group, section="dashboard", s=summary, days=days, periods=PERIODS)

    async def chart(request: web.Request) -> web.Response:
        group = await console.group(request)
        what = request.match_info["what"]
        days = _days(request)
        tz = ZoneInfo(group.settings.timezone)
        today = console.app.clock.now().astimezone(tz).date()
        lang = console.lang(request)
        font = str(console.app.config.resolve_path(group.settings.stats.chart_font)) if group.settings.stats.chart_font else None
        async with console.app.sessions() as session:
            if what == "activity":
                start = today - timedelta(days=days - 1)
                series = await stats_repo.daily_series(session, [group.id], start, today, ("messages", "active", "joins", "leaves"))
                draw = lambda: charts.activity_png(series, start, group=group.title, group_key=group.row.key,  # noqa: E731
                                                   language=lang, chart_font=font)
            elif what == "retention":
                since = today - timedelta(days=max(days, 90))
                size, points = await stats_repo.retention_curve(session, [group.id], tz, since, today)
                draw = lambda: charts.retention_png(points, size, since, group=group.title, group_key=group.row.key,  # noqa: E731
                                                    language=lang, chart_font=font)
            else:
                raise web.HTTPNotFound()
        png = await asyncio.to_thread(draw)
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=60"})

    return [web.get("/g/{chat}/", dashboard), web.get("/g/{chat}/chart/{what}.png", chart)]


register({
    "web.dashboard.title": {"zh-CN": "群概览", "en": "Group dashboard"},
    "web.dashboard.period": {"zh-CN": "最近 {days} 天", "en": "Last {days} days"},
    "web.dashboard.members_now": {"zh-CN": "当前成员", "en": "Members now"},
    "web.dashboard.messages": {"zh-CN": "消息", "en": "Messages"},
    "web.dashboard.active_avg": {"zh-CN": "日均活跃", "en": "Active per day"},
    "web.dashboard.active_distinct": {"zh-CN": "活跃成员", "en": "Active members"},
    "web.dashboard.joins": {"zh-CN": "入群", "en": "Joined"},
    "web.dashboard.leaves": {"zh-CN": "退群", "en": "Left"},
    "web.dashboard.violations": {"zh-CN": "违规", "en": "Violations"},
    "web.dashboard.activity_chart": {"zh-CN": "活跃度图表", "en": "Activity chart"},
    "web.dashboard.retention_chart": {"zh-CN": "留存曲线", "en": "Retention chart"},
    "web.dashboard.top": {"zh-CN": "发言最多", "en": "Top contributors"},
    "web.dashboard.by_rule": {"zh-CN": "违规（按规则）", "en": "Violations by rule"},
    "web.dashboard.tags": {"zh-CN": "成员标签", "en": "Member tags"},
})
