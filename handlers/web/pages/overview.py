"""The groups overview: the groups the viewer runs with members, messages today, violations this
week, the rights the bot lacks there, and the platform."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.i18n import catalogue, register, t
from bot.platform import Capability
from handlers.web.server import Group, WebConsole, viewer_of
from storage import web_repo

# What the bot needs of a group to enforce its rules, with the word the overview uses for each.
NEEDED = (("delete", Capability.DELETE), ("restrict", Capability.RESTRICT), ("kick", Capability.KICK))


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def overview(request: web.Request) -> web.Response:
        viewer = viewer_of(request)
        lang = console.lang(request)
        groups = await console.groups_of(viewer)
        ids = [g.id for g in groups]
        now = console.app.clock.now()
        async with console.app.sessions() as session:
            members = await web_repo.members_by_chat(session, ids)
            figures = await web_repo.daily_figures(session, ids, (now - timedelta(days=8)).date(), ("messages", "violations"))
        rows, tags = [], set()
        wanted = request.query.get("tag", "").strip()
        for group in groups:
            tags.update(group.settings.tags)
            if wanted and wanted not in group.settings.tags:
                continue
            today = now.astimezone(ZoneInfo(group.settings.timezone)).date()
            week = today - timedelta(days=6)
            mine = [f for f in figures if f[0] == group.id]
            rows.append({
                "group": group,
                "members": members.get(group.id, 0),
                "messages_today": sum(v for _, day, metric, v in mine if metric == "messages" and day == today),
                "violations_week": sum(v for _, day, metric, v in mine if metric == "violations" and day >= week),
                "lacks": lacking(console, group, lang),
            })
        return console.render(request, "overview.html", rows=rows, tags=sorted(tags), wanted=wanted)

    return [web.get("/", overview)]


def lacking(console: WebConsole, group: Group, lang: str) -> list[str]:
    """The rights the bot was refused in the group and what its platform cannot do there."""
    platform = console.app.platforms.get(group.row.platform)
    if platform is None:
        return [t(lang, "web.overview.platform_off")]
    known = catalogue()
    found = [t(lang, f"telegram.right.{r}") if f"telegram.right.{r}" in known else r for r in sorted(platform.missing_rights(group.ref))]
    found += [t(lang, f"web.overview.cannot.{word}") for word, capability in NEEDED if not platform.can_in(group.ref, capability)]
    return found


register({
    "web.overview.title": {"zh-CN": "我管理的群", "en": "Groups you run"},
    "web.overview.empty": {
        "zh-CN": "没有找到你管理的群。请确认你是群管理员，并在群里发过言或发送过 /console。",
        "en": "No group you run was found. Check that you are an admin there and have posted in it (or sent /console).",
    },
    "web.overview.group": {"zh-CN": "群", "en": "Group"},
    "web.overview.platform": {"zh-CN": "平台", "en": "Platform"},
    "web.overview.members": {"zh-CN": "成员", "en": "Members"},
    "web.overview.messages_today": {"zh-CN": "今日消息", "en": "Messages today"},
    "web.overview.violations_week": {"zh-CN": "本周违规", "en": "Violations this week"},
    "web.overview.lacks": {"zh-CN": "机器人缺少的权限", "en": "Rights the bot lacks"},
    "web.overview.tags": {"zh-CN": "群标签", "en": "Group tags"},
    "web.overview.all_tags": {"zh-CN": "全部", "en": "All"},
    "web.overview.platform_off": {"zh-CN": "该平台未启用", "en": "platform not enabled"},
    "web.overview.cannot.delete": {"zh-CN": "不能删除消息", "en": "cannot delete messages"},
    "web.overview.cannot.restrict": {"zh-CN": "不能禁言", "en": "cannot mute"},
    "web.overview.cannot.kick": {"zh-CN": "不能移出成员", "en": "cannot remove members"},
})
