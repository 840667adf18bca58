"""The audit log of a group: every row (moderation, points, tags, undo, settings …), newest first,
50 a page, filtered by action, actor, target and the group's local days. Also how an audit row is
shown (time in the group's zone, the member and the admin by name, the rule's text), which the
review list uses too."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.i18n import register, t
from handlers.rules import texts as rules_texts
from handlers.web.lists import PAGE_SIZE, local_time, member_name, page_asked, pages
from handlers.web.server import Group, WebConsole
from storage import core_repo, web_audit_repo

DETAILS_SHOWN = 160  # characters of a row's details on the page (the whole JSON is its tooltip)

_ACTION = re.compile(r"^[\w:.\-]{1,64}$")
_NO_SPACE = re.compile(r"^\S{1,160}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadFilter(Exception):
    """A query parameter the page cannot use; the page says which and shows nothing else."""

    def __init__(self, field: str, value: str):
        super().__init__(field)
        self.field, self.value = field, value


def page_number(request: web.Request) -> int:
    page = page_asked(request)
    if page is None:
        raise BadFilter("page", request.query.get("page", ""))
    return page


def local_day(raw: str, field: str) -> date:
    if not _DAY.match(raw):
        raise BadFilter(field, raw)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(field, raw) from None


def _filters(request: web.Request, group: Group) -> dict[str, Any]:
    """The query's filters as the repository takes them (BadFilter names a field it cannot use)."""
    q = {k: request.query.get(k, "").strip() for k in ("action", "actor", "target", "from", "to")}
    if q["action"] and not _ACTION.match(q["action"]):
        raise BadFilter("action", q["action"])
    actor = q["actor"]
    if actor and not _NO_SPACE.match(actor):
        raise BadFilter("actor", actor)
    if actor and actor != "bot" and ":" not in actor:
        actor = f"{group.row.platform}:{actor}"  # a bare user id: an admin of this group's platform
    if q["target"] and (len(q["target"]) > 128 or not _NO_SPACE.match(q["target"])):
        raise BadFilter("target", q["target"])
    tz = ZoneInfo(group.settings.timezone)
    since = until = None
    if q["from"]:
        since = datetime.combine(local_day(q["from"], "from"), time(0), tzinfo=tz)
    if q["to"]:
        until = datetime.combine(local_day(q["to"], "to") + timedelta(days=1), time(0), tzinfo=tz)
    if since and until and since >= until:
        raise BadFilter("to", q["to"])
    return {"action": q["action"] or None, "actor": actor or None, "target": q["target"] or None,
            "since": since, "until": until}


def bad_filter_text(console: WebConsole, request: web.Request, exc: BadFilter, page: str = "audit") -> str:
    return console.text(request, f"web.{page}.bad.{exc.field}", value=exc.value[:80])


# --- showing rows ------------------------------------------------------------------------------

async def present(console: WebConsole, request: web.Request, group: Group, session, entries: list) -> list[dict[str, Any]]:
    """What a page shows of each audit row (two queries for the whole page: members and samples)."""
    lang = console.lang(request)
    tz = ZoneInfo(group.settings.timezone)
    platform = group.row.platform + ":"
    wanted = {e.target_user_id for e in entries if e.target_user_id}
    wanted |= {e.actor[len(platform):] for e in entries if e.actor.startswith(platform)}
    members = await core_repo.members_by_user_ids(session, group.id, wanted)
    labels = await web_audit_repo.sample_labels(session, [e.id for e in entries])
    rows = []
    for e in entries:
        target = members.get(e.target_user_id) if e.target_user_id else None
        admin = members.get(e.actor[len(platform):]) if e.actor.startswith(platform) else None
        details = json.dumps(e.details or {}, ensure_ascii=False, sort_keys=True, default=str)
        rows.append({
            "id": e.id,
            "at": local_time(e.at, tz),
            "action": e.action,
            "action_name": t(lang, f"rules.action.{e.action}") if e.action in rules_texts.ACTION_NAMES else e.action,
            "target_id": e.target_user_id,
            "target_name": member_name(target) if target else e.target_user_id,
            "member_id": target.id if target else None,
            "rule": rules_texts.rule_name(lang, e.rule, e.details if isinstance(e.details, dict) else None) if e.rule else "",
            "evidence": e.evidence or "",
            "actor": e.actor,
            "actor_name": console.text(request, "web.audit.bot") if e.actor == "bot" else (member_name(admin) if admin else e.actor),
            "undone": e.undone_at is not None,
            "undone_at": local_time(e.undone_at, tz),
            "details": details if details != "{}" else "",
            "details_short": details[:DETAILS_SHOWN] + ("…" if len(details) > DETAILS_SHOWN else "") if details != "{}" else "",
            "has_sample": e.id in labels,
            "label": labels.get(e.id),
        })
    return rows


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def audit_log(request: web.Request) -> web.Response:
        group = await console.group(request)
        try:
            page = page_number(request)
            filters = _filters(request, group)
        except BadFilter as exc:
            return console.render(request, "audit.html", status=400, group=group, section="audit", error=bad_filter_text(console, request, exc),
                                  rows=[], actions=[], pages=None)
        async with console.app.sessions() as session:
            entries, total = await web_audit_repo.entries(session, group.id, **filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
            rows = await present(console, request, group, session, entries)
            actions = await web_audit_repo.actions_in(session, group.id)
        return console.render(request, "audit.html", group=group, section="audit", error=None, rows=rows, actions=actions,
                              pages=pages(request, page, total))

    return [web.get("/g/{chat}/audit", audit_log)]


register({
    "web.audit.title": {"zh-CN": "操作日志", "en": "Audit log"},
    "web.audit.intro": {
        "zh-CN": "本群的全部记录（机器人的处理、管理员的操作、积分、标签、撤销、设置修改），最新的在前，时间为本群时区（{tz}）。",
        "en": "Every record of this group (the bot's decisions, admins' actions, points, tags, undos, settings changes), newest first, in the group's time zone ({tz}).",
    },
    "web.audit.id": {"zh-CN": "编号", "en": "#"},
    "web.audit.at": {"zh-CN": "时间", "en": "Time"},
    "web.audit.action": {"zh-CN": "操作", "en": "Action"},
    "web.audit.actor": {"zh-CN": "操作者", "en": "By"},
    "web.audit.target": {"zh-CN": "成员", "en": "Member"},
    "web.audit.rule": {"zh-CN": "规则", "en": "Rule"},
    "web.audit.evidence": {"zh-CN": "证据", "en": "Evidence"},
    "web.audit.details": {"zh-CN": "详情", "en": "Details"},
    "web.audit.undone": {"zh-CN": "已撤销", "en": "undone"},
    "web.audit.undone_at": {"zh-CN": "已于 {at} 撤销", "en": "undone {at}"},
    "web.audit.bot": {"zh-CN": "机器人", "en": "the bot"},
    "web.audit.filter_action": {"zh-CN": "操作（如 mute）", "en": "Action (e.g. mute)"},
    "web.audit.filter_actor": {"zh-CN": "操作者（bot 或用户 ID）", "en": "By (bot or a user id)"},
    "web.audit.filter_target": {"zh-CN": "成员用户 ID", "en": "Member's user id"},
    "web.audit.filter_from": {"zh-CN": "从", "en": "From"},
    "web.audit.filter_to": {"zh-CN": "到", "en": "To"},
    "web.audit.filter": {"zh-CN": "筛选", "en": "Filter"},
    "web.audit.clear": {"zh-CN": "清除筛选", "en": "Clear filters"},
    "web.audit.empty": {"zh-CN": "没有符合条件的记录。", "en": "No record matches."},
    "web.audit.bad.action": {"zh-CN": "筛选条件「操作」无效：{value}（只能包含字母、数字、_ : . -，最多 64 个字符）。",
                             "en": "The filter \"action\" is not valid: {value} (letters, digits, _ : . - only, at most 64 characters)."},
    "web.audit.bad.actor": {"zh-CN": "筛选条件「操作者」无效：{value}（填 bot、用户 ID 或 平台:用户ID，不含空格）。",
                            "en": "The filter \"actor\" is not valid: {value} (bot, a user id or PLATFORM:USER_ID, no spaces)."},
    "web.audit.bad.target": {"zh-CN": "筛选条件「成员」无效：{value}（填成员的用户 ID，不含空格）。",
                             "en": "The filter \"target\" is not valid: {value} (a member's user id, no spaces)."},
    "web.audit.bad.from": {"zh-CN": "筛选条件「从」不是有效日期：{value}（格式 YYYY-MM-DD）。",
                           "en": "The filter \"from\" is not a date: {value} (use YYYY-MM-DD)."},
    "web.audit.bad.to": {"zh-CN": "筛选条件「到」无效：{value}（格式 YYYY-MM-DD，且不早于「从」）。",
                         "en": "The filter \"to\" is not valid: {value} (use YYYY-MM-DD, not before \"from\")."},
    "web.audit.bad.page": {"zh-CN": "页码无效：{value}。", "en": "The page number is not valid: {value}."},
})
