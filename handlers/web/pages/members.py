"""A group's members (paged, searchable, filtered by tag, status and join date) and a member's page:
questionnaire answers, tags (editable), points and their history, strikes, the audit trail, and the
moderation and points actions — each run as the admin's slash command (console.command), so the
same handler, public notice and audit row as in the group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.events import UserRef
from bot.i18n import catalogue, register
from handlers.onboarding.router import shown_answer
from handlers.onboarding.settings import local
from handlers.web.lists import PAGE_SIZE, local_time, member_name, page_asked, pages
from handlers.web.server import Group, WebConsole, viewer_of, form_of
from storage import core_repo, onboarding_repo, points_repo, rules_repo, web_members_repo
from storage.web_members_repo import MemberFilter

HISTORY = 50  # ledger rows, strikes and audit entries on a member's page
STATUSES = ("active", "left", "removed", "banned", "requested")
TAG_MAX = 64
QUERY_MAX = 100
# The member page's actions: the slash command each runs and the form fields it takes first.
ACTIONS = {
    "warn": ("warn", ()), "mute": ("mute", ("duration",)), "unmute": ("unmute", ()), "kick": ("kick", ()),
    "ban": ("ban", ()), "unban": ("unban", ()), "award": ("award", ("amount",)), "deduct": ("deduct", ("amount",)),
}
WITH_REASON = {"warn", "mute", "kick", "ban", "award", "deduct"}
MUTE_DURATIONS = ("1h", "1d", "7d", "15d")


@dataclass
class ListRequest:
    """The members list's query string read: the filter, the page asked for, what was not understood."""

    filter: MemberFilter
    page: int
    kept: dict[str, str]  # the valid filters, as given (for the form and the pager links)
    errors: list[str]


def read_list_request(console: WebConsole, request: web.Request, tz: ZoneInfo) -> ListRequest:
    query = request.query
    kept: dict[str, str] = {}
    errors: list[str] = []

    def bad(name: str, value: str, key: str) -> None:
        errors.append(console.text(request, key, field=console.text(request, f"web.members.field.{name}"), value=value[:40]))

    q = query.get("q", "").strip()
    if len(q) > QUERY_MAX:
        bad("q", q, "web.members.bad_long")
        q = ""
    tag = query.get("tag", "").strip()
    if len(tag) > TAG_MAX:
        bad("tag", tag, "web.members.bad_long")
        tag = ""
    status = query.get("status", "").strip()
    if status and status not in STATUSES:
        bad("status", status, "web.members.bad_status")
        status = ""
    bounds: dict[str, date | None] = {}
    for name in ("joined_from", "joined_to"):
        raw = query.get(name, "").strip()
        bounds[name] = _date(raw) if raw else None
        if raw and bounds[name] is None:
            bad(name, raw, "web.members.bad_date")
        elif raw:
            kept[name] = raw
    page = page_asked(request)
    if page is None:
        bad("page", query.get("page", ""), "web.members.bad_page")
        page = 1
    for name, value in (("q", q), ("tag", tag), ("status", status)):
        if value:
            kept[name] = value
    start, end = bounds["joined_from"], bounds["joined_to"]
    return ListRequest(
        MemberFilter(q=q, tag=tag, status=status,
                     joined_from=_local_midnight(start, tz) if start else None,
                     joined_before=_local_midnight(end + timedelta(days=1), tz) if end else None),
        page, kept, errors)


def _date(raw: str) -> date | None:
    """A YYYY-MM-DD date (None when it is not one, or too far off to be a join date)."""
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None
    return day if day is not None and 1970 <= day.year <= 9000 else None


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of the group's local `day` (the dates on the page are the group's)."""
    return datetime.combine(day, time(), tzinfo=tz)


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return local_time(at, tz, "—")


def _member_url(group: Group, member_id: int) -> str:
    return f"/console/g/{group.id}/members/{member_id}"


def routes(console: WebConsole) -> list[web.RouteDef]:
    def labeller(request: web.Request):
        """The text of the first `prefix + value` registered (an action, a source), else the value."""
        known = catalogue()

        def label(value: str | None, *prefixes: str) -> str:
            base, colon, detail = (value or "").partition(":")  # "mute:1d" → the text of mute, then 1d
            for prefix in prefixes:
                if f"{prefix}{base}" in known:
                    return console.text(request, f"{prefix}{base}") + (f" {detail}" if colon else "")
            return value or ""

        return label

    async def members(request: web.Request) -> web.Response:
        group = await console.group(request)
        tz = ZoneInfo(group.settings.timezone)
        asked = read_list_request(console, request, tz)
        async with console.app.sessions() as session:
            found = await web_members_repo.list_members(session, group.id, asked.filter, page=asked.page, size=PAGE_SIZE)
        return console.render(
            request, "members.html", group=group, section="members", rows=found.rows,
            pager=pages(request, found.page, found.total, keep=asked.kept),
            kept=asked.kept, errors=asked.errors, statuses=STATUSES, tz=tz, local=_local, name=member_name,
            tag_link=lambda tag: "?" + urlencode({k: v for k, v in {**asked.kept, "tag": tag}.items() if k != "page"}),
        )

    async def member_page(request: web.Request) -> web.Response:
        group = await console.group(request)
        tz = ZoneInfo(group.settings.timezone)
        lang = console.lang(request)
        now = console.app.clock.now()
        async with console.app.sessions() as session:
            member = await _member(session, group, request)
            if member is None:
                return console.refuse(request, "web.not_found", 404)
            answers = await onboarding_repo.answers_of(session, member.id)
            tags = await web_members_repo.tags_with_source(session, member.id)
            totals = await points_repo.totals(session, member.id)
            ledger = await points_repo.history(session, group.id, member.id, limit=HISTORY)
            window = group.settings.rules.ladder_window_days
            active = await rules_repo.active_strikes(session, group.id, member.user_id, now - timedelta(days=window))
            strikes = await web_members_repo.strikes_of(session, group.id, member.user_id, limit=HISTORY)
            trail = await core_repo.audit_entries(session, group.id, target_user_id=member.user_id, limit=HISTORY)
        return console.render(
            request, "member.html", group=group, section="members", m=member, name=member_name(member),
            answers=_answers(group, answers, lang), tags=tags, balance=totals.balance if totals else 0,
            earned=totals.earned if totals else 0, ledger=ledger, active_ids={s.id for s in active},
            active_count=len(active), window=window, strikes=strikes, trail=trail, tz=tz, local=_local,
            label=labeller(request), durations=MUTE_DURATIONS, url=_member_url(group, member.id), statuses=STATUSES,
        )

    async def edit_tags(request: web.Request) -> web.StreamResponse:
        group = await console.group(request, change=True)
        form = form_of(request)
        add, remove = str(form.get("add") or "").strip(), str(form.get("remove") or "").strip()
        tag = add or remove
        now = console.app.clock.now()
        async with console.app.sessions() as session, session.begin():
            member = await _member(session, group, request)
            if member is None:
                return console.refuse(request, "web.not_found", 404)
            url = _member_url(group, member.id)
            done = await _change_tag(console, request, session, group, member, tag, add=bool(add), now=now)
        # The redirect is raised after the transaction is committed (raised inside, it would roll back).
        console.flash(request, done)
        raise console.back(request, url)

    async def act(request: web.Request) -> web.StreamResponse:
        group = await console.group(request, change=True)
        form = form_of(request)
        async with console.app.sessions() as session:
            member = await _member(session, group, request)
        if member is None:
            return console.refuse(request, "web.not_found", 404)
        url = _member_url(group, member.id)
        do = str(form.get("do") or "")
        if do not in ACTIONS:
            console.flash(request, console.text(request, "web.member.unknown_action", action=do[:20]))
            raise console.back(request, url)
        command, fields = ACTIONS[do]
        args: list[str] = []
        for field in fields:
            value = str(form.get(field) or "").strip()
            if field == "duration":
                value = value or "1d"
            if field == "amount" and not (value.isdigit() and int(value) > 0):
                console.flash(request, console.text(request, "web.member.bad_amount", value=value[:20]))
                raise console.back(request, url)
            args.append(value)
        if do in WITH_REASON:
            args += str(form.get("reason") or "").split()
        target = UserRef(group.row.platform, member.user_id, name=member.display_name, username=member.username)
        replies = await console.command(request, group, command, args, target=target)
        console.flash(request, console.text(request, "web.member.did", action=console.text(request, f"web.member.do.{do}"),
                                            replies="\n".join(replies)))
        raise console.back(request, url)

    return [
        web.get("/g/{chat}/members", members),
        web.get("/g/{chat}/members/{member}", member_page),
        web.post("/g/{chat}/members/{member}/tags", edit_tags),
        web.post("/g/{chat}/members/{member}/act", act),
    ]


async def _member(session, group: Group, request: web.Request):
    """The URL's member when they belong to the URL's group (None: no such member here)."""
    try:
        member_id = int(request.match_info["member"])
    except ValueError:
        return None
    if not 0 < member_id < 2**63:  # beyond a BIGINT: no such member (not a database error)
        return None
    return await web_members_repo.member_of_chat(session, group.id, member_id)


async def _change_tag(console: WebConsole, request: web.Request, session, group: Group, member, tag: str, *,
                      add: bool, now: datetime) -> str:
    """Add or remove one tag of the member with its audit row; returns what to tell the admin."""
    if not tag or len(tag) > TAG_MAX:
        return console.text(request, "web.member.bad_tag", max=TAG_MAX)
    has = tag in await core_repo.tags_of(session, member.id)
    if add == has:
        return console.text(request, "web.member.tag_had" if add else "web.member.tag_missing", tag=tag)
    if not await console.once(session, request):
        return console.text(request, "web.form_used")
    if add:
        await core_repo.add_tags(session, member.id, [tag], "admin", now)
    else:
        await core_repo.remove_tags(session, member.id, [tag])
    await core_repo.audit(session, chat_id=group.id, at=now, actor=viewer_of(request).user_key,
                          action="tag" if add else "untag", target_user_id=member.user_id,
                          details={"tag": tag, "via": "web"})
    return console.text(request, "web.member.tag_added" if add else "web.member.tag_removed", tag=tag)


def _answers(group: Group, answers: dict[str, str], lang: str) -> list[tuple[str, str]]:
    """(question, answer) in the questionnaire's order, each as the member saw it (onboarding's
    shown_answer); answers to questions no longer asked come last under their ids."""
    onboarding = group.settings.onboarding
    rows = [(local(q.text, lang), shown_answer(onboarding, q.id, answers.pop(q.id), lang))
            for q in onboarding.questions if q.id in answers]
    return rows + sorted(answers.items())


register({
    # --- the list ----------------------------------------------------------------------------------
    "web.members.title": {"zh-CN": "成员", "en": "Members"},
    "web.members.search_hint": {"zh-CN": "昵称、@用户名或用户 ID", "en": "Name, @username or user id"},
    "web.members.tag_hint": {"zh-CN": "标签", "en": "Tag"},
    "web.members.any_status": {"zh-CN": "全部状态", "en": "Any status"},
    "web.members.joined_from": {"zh-CN": "入群自", "en": "Joined from"},
    "web.members.joined_to": {"zh-CN": "至", "en": "to"},
    "web.members.clear": {"zh-CN": "清除筛选", "en": "Clear filters"},
    "web.members.empty": {"zh-CN": "没有符合条件的成员。", "en": "No member matches."},
    "web.members.name": {"zh-CN": "昵称", "en": "Name"},
    "web.members.username": {"zh-CN": "用户名", "en": "Username"},
    "web.members.user_id": {"zh-CN": "用户 ID", "en": "User id"},
    "web.members.status": {"zh-CN": "状态", "en": "Status"},
    "web.members.role": {"zh-CN": "身份", "en": "Role"},
    "web.members.joined": {"zh-CN": "入群时间", "en": "Joined"},
    "web.members.last_seen": {"zh-CN": "最近发言", "en": "Last seen"},
    "web.members.balance": {"zh-CN": "积分", "en": "Points"},
    "web.members.tags": {"zh-CN": "标签", "en": "Tags"},
    "web.members.times_in": {"zh-CN": "时间为群所在时区 {tz}", "en": "Times in the group's time zone, {tz}"},
    "web.members.status.active": {"zh-CN": "在群", "en": "active"},
    "web.members.status.left": {"zh-CN": "已退群", "en": "left"},
    "web.members.status.removed": {"zh-CN": "被移出", "en": "removed"},
    "web.members.status.banned": {"zh-CN": "已封禁", "en": "banned"},
    "web.members.status.requested": {"zh-CN": "申请入群中", "en": "asked to join"},
    "web.members.role.member": {"zh-CN": "成员", "en": "member"},
    "web.members.role.admin": {"zh-CN": "管理员", "en": "admin"},
    "web.members.role.owner": {"zh-CN": "群主", "en": "owner"},
    "web.members.field.q": {"zh-CN": "搜索", "en": "search"},
    "web.members.field.tag": {"zh-CN": "标签", "en": "tag"},
    "web.members.field.status": {"zh-CN": "状态", "en": "status"},
    "web.members.field.joined_from": {"zh-CN": "入群自", "en": "joined from"},
    "web.members.field.joined_to": {"zh-CN": "入群至", "en": "joined to"},
    "web.members.field.page": {"zh-CN": "页码", "en": "page"},
    "web.members.bad_date": {"zh-CN": "“{field}”不是 YYYY-MM-DD 格式的日期（{value}），已忽略。",
                             "en": "\"{field}\" is not a date as YYYY-MM-DD ({value}); it was ignored."},
    "web.members.bad_status": {"zh-CN": "“{field}”没有“{value}”这个值（可选：在群、已退群、被移出、已封禁、申请入群中），已忽略。",
                               "en": "\"{field}\" has no value \"{value}\" (one of active, left, removed, banned, requested); it was ignored."},
    "web.members.bad_page": {"zh-CN": "“{field}”应为正整数（{value}），已显示第 1 页。",
                             "en": "\"{field}\" must be a whole number from 1 ({value}); page 1 is shown."},
    "web.members.bad_long": {"zh-CN": "“{field}”太长，已忽略。", "en": "\"{field}\" is too long; it was ignored."},
    # --- a member's page -----------------------------------------------------------------------------
    "web.member.back": {"zh-CN": "← 返回成员列表", "en": "← Back to the members"},
    "web.member.ids": {"zh-CN": "成员编号 {id} · 平台用户 ID {user_id}", "en": "Member #{id} · platform user id {user_id}"},
    "web.member.left": {"zh-CN": "离开时间", "en": "Left"},
    "web.member.answers": {"zh-CN": "入群问卷", "en": "Questionnaire answers"},
    "web.member.no_answers": {"zh-CN": "没有问卷回答。", "en": "No answers."},
    "web.member.tags": {"zh-CN": "标签", "en": "Tags"},
    "web.member.tag_source": {"zh-CN": "来源：{source}", "en": "from {source}"},
    "web.member.add_tag": {"zh-CN": "添加标签", "en": "Add a tag"},
    "web.member.remove_tag": {"zh-CN": "移除", "en": "Remove"},
    "web.member.bad_tag": {"zh-CN": "标签不能为空，且最多 {max} 个字符。", "en": "A tag must not be empty and has at most {max} characters."},
    "web.member.tag_had": {"zh-CN": "该成员已有标签“{tag}”。", "en": "The member already has the tag \"{tag}\"."},
    "web.member.tag_missing": {"zh-CN": "该成员没有标签“{tag}”。", "en": "The member has no tag \"{tag}\"."},
    "web.member.tag_added": {"zh-CN": "已添加标签“{tag}”。", "en": "Tag \"{tag}\" added."},
    "web.member.tag_removed": {"zh-CN": "已移除标签“{tag}”。", "en": "Tag \"{tag}\" removed."},
    "web.member.points": {"zh-CN": "积分", "en": "Points"},
    "web.member.balance": {"zh-CN": "余额 {balance}（累计获得 {earned}）", "en": "Balance {balance} (earned in all {earned})"},
    "web.member.ledger_at": {"zh-CN": "时间", "en": "When"},
    "web.member.ledger_amount": {"zh-CN": "变动", "en": "Change"},
    "web.member.ledger_source": {"zh-CN": "来源", "en": "Source"},
    "web.member.ledger_reason": {"zh-CN": "原因", "en": "Reason"},
    "web.member.strikes": {"zh-CN": "违规记录", "en": "Strikes"},
    "web.member.strikes_now": {"zh-CN": "有效违规", "en": "Strikes in force"},
    "web.member.strikes_active": {"zh-CN": "最近 {days} 天内有效：{count} 次", "en": "In force (last {days} days): {count}"},
    "web.member.strike_rule": {"zh-CN": "规则", "en": "Rule"},
    "web.member.strike_action": {"zh-CN": "处理", "en": "Action"},
    "web.member.strike_state": {"zh-CN": "状态", "en": "State"},
    "web.member.strike_in_force": {"zh-CN": "有效", "en": "in force"},
    "web.member.strike_expired": {"zh-CN": "已过期", "en": "expired"},
    "web.member.strike_cleared": {"zh-CN": "已撤销（{by}）", "en": "cleared ({by})"},
    "web.member.audit": {"zh-CN": "操作记录", "en": "Audit trail"},
    "web.member.audit_actor": {"zh-CN": "执行者", "en": "By"},
    "web.member.audit_action": {"zh-CN": "操作", "en": "Action"},
    "web.member.audit_evidence": {"zh-CN": "依据", "en": "Evidence"},
    "web.member.action.award": {"zh-CN": "奖励积分", "en": "points awarded"},
    "web.member.action.deduct": {"zh-CN": "扣除积分", "en": "points deducted"},
    "web.member.action.tag": {"zh-CN": "添加标签", "en": "tag added"},
    "web.member.action.untag": {"zh-CN": "移除标签", "en": "tag removed"},
    "web.member.action.onboarded": {"zh-CN": "完成入群问卷", "en": "questionnaire done"},
    "web.member.audit_undone": {"zh-CN": "已撤销", "en": "undone"},
    "web.member.actions": {"zh-CN": "操作", "en": "Actions"},
    "web.member.actions_note": {"zh-CN": "以你的身份执行对应的群命令，群内公告与操作记录与在群里执行相同。",
                                "en": "Each runs the group command as you: the same public notice and audit entry as in the group."},
    "web.member.reason": {"zh-CN": "原因", "en": "Reason"},
    "web.member.duration": {"zh-CN": "时长", "en": "Duration"},
    "web.member.amount": {"zh-CN": "数量", "en": "Amount"},
    "web.member.do.warn": {"zh-CN": "警告", "en": "Warn"},
    "web.member.do.mute": {"zh-CN": "禁言", "en": "Mute"},
    "web.member.do.unmute": {"zh-CN": "解除禁言", "en": "Unmute"},
    "web.member.do.kick": {"zh-CN": "移出", "en": "Kick"},
    "web.member.do.ban": {"zh-CN": "封禁", "en": "Ban"},
    "web.member.do.unban": {"zh-CN": "解封", "en": "Unban"},
    "web.member.do.award": {"zh-CN": "奖励积分", "en": "Award points"},
    "web.member.do.deduct": {"zh-CN": "扣除积分", "en": "Deduct points"},
    "web.member.did": {"zh-CN": "{action}：{replies}", "en": "{action}: {replies}"},
    "web.member.unknown_action": {"zh-CN": "没有这个操作（{action}）。", "en": "There is no such action ({action})."},
    "web.member.bad_amount": {"zh-CN": "“数量”应为正整数（{value}），未执行。", "en": "\"Amount\" must be a whole number from 1 ({value}); nothing was done."},
})
