"""The moderation review list: the group's recent decisions (the bot's and the admins'), newest
first, with evidence, rule, who decided, whether it was undone and its learning label. Undo runs
the real /undo; Spam / Not spam run /label for the learning loop (both through console.command,
so the same handler, audit rows and platform calls as in the group)."""

from __future__ import annotations

from aiohttp import web

from bot.i18n import register
from handlers.web.lists import PAGE_SIZE, pages
from handlers.web.pages.audit import BadFilter, bad_filter_text, page_number, present
from handlers.web.server import WebConsole, form_of
from storage import web_audit_repo

LABELS = ("spam", "ham")


def _filters(request: web.Request) -> dict:
    undone = request.query.get("undone", "").strip()
    by = request.query.get("by", "").strip()
    if undone not in ("", "0", "1"):
        raise BadFilter("undone", undone)
    if by not in ("", "bot", "admin"):
        raise BadFilter("by", by)
    return {"undone": None if undone == "" else undone == "1", "by": by or None}


def _audit_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise web.HTTPNotFound()
    return int(raw)


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def review(request: web.Request) -> web.Response:
        group = await console.group(request)
        try:
            page = page_number(request)
            filters = _filters(request)
        except BadFilter as exc:
            return console.render(request, "review.html", status=400, group=group, section="review",
                                  error=bad_filter_text(console, request, exc, "review"), rows=[], pages=None, here=request.path_qs)
        async with console.app.sessions() as session:
            entries, total = await web_audit_repo.decisions(session, group.id, **filters, offset=(page - 1) * PAGE_SIZE,
                                                            limit=PAGE_SIZE)
            rows = await present(console, request, group, session, entries)
        return console.render(request, "review.html", group=group, section="review", error=None, rows=rows,
                              pages=pages(request, page, total), here=request.path_qs)

    async def undo(request: web.Request) -> web.StreamResponse:
        group = await console.group(request, change=True)
        audit_id = _audit_id(request)
        console.flash(request, *await console.command(request, group, "undo", [str(audit_id)]))
        raise console.back(request, f"/console/g/{group.id}/review")

    async def label(request: web.Request) -> web.StreamResponse:
        group = await console.group(request, change=True)
        audit_id = _audit_id(request)
        value = form_of(request).get("label")
        if value not in LABELS:
            console.flash(request, console.text(request, "web.review.bad_label"))
        else:
            console.flash(request, *await console.command(request, group, "label", [str(audit_id), value]))
        raise console.back(request, f"/console/g/{group.id}/review")

    return [
        web.get("/g/{chat}/review", review),
        web.post("/g/{chat}/review/{id}/undo", undo),
        web.post("/g/{chat}/review/{id}/label", label),
    ]


register({
    "web.review.title": {"zh-CN": "处理复核", "en": "Moderation review"},
    "web.review.intro": {
        "zh-CN": "本群最近的处理决定（机器人自动处理和管理员处理），最新的在前，时间为本群时区（{tz}）。「撤销」与群里的 /undo 相同：解除禁言或封禁、清除违规记录并记为误判；「是垃圾消息」/「不是垃圾消息」为模型学习打标签。",
        "en": "The group's recent moderation decisions (the bot's and the admins'), newest first, in the group's time zone ({tz}). Undo is the group's /undo: it lifts the mute or ban, clears the strike and notes a mistake; Spam / Not spam label the decision for the model to learn.",
    },
    "web.review.all": {"zh-CN": "全部", "en": "All"},
    "web.review.not_undone": {"zh-CN": "未撤销", "en": "Standing"},
    "web.review.undone_only": {"zh-CN": "已撤销", "en": "Undone"},
    "web.review.by_bot": {"zh-CN": "机器人处理", "en": "By the bot"},
    "web.review.by_admin": {"zh-CN": "管理员处理", "en": "By admins"},
    "web.review.state": {"zh-CN": "状态", "en": "State"},
    "web.review.standing": {"zh-CN": "有效", "en": "standing"},
    "web.review.label": {"zh-CN": "学习标签", "en": "Label"},
    "web.review.label_spam": {"zh-CN": "垃圾消息", "en": "spam"},
    "web.review.label_ham": {"zh-CN": "误判", "en": "not spam"},
    "web.review.unlabelled": {"zh-CN": "未标记", "en": "not labelled"},
    "web.review.no_sample": {"zh-CN": "无样本", "en": "no sample"},
    "web.review.undo": {"zh-CN": "撤销", "en": "Undo"},
    "web.review.mark_spam": {"zh-CN": "是垃圾消息", "en": "Spam"},
    "web.review.mark_ham": {"zh-CN": "不是垃圾消息", "en": "Not spam"},
    "web.review.empty": {"zh-CN": "没有符合条件的处理记录。", "en": "No decision matches."},
    "web.review.bad_label": {"zh-CN": "标签只能是 spam 或 ham。", "en": "The label must be spam or ham."},
    "web.review.actions": {"zh-CN": "操作", "en": "Actions"},
    "web.review.bad.page": {"zh-CN": "页码无效：{value}。", "en": "The page number is not valid: {value}."},
    "web.review.bad.undone": {"zh-CN": "筛选条件「撤销」无效：{value}（填 0 或 1）。",
                             "en": "The filter \"undone\" is not valid: {value} (use 0 or 1)."},
    "web.review.bad.by": {"zh-CN": "筛选条件「处理者」无效：{value}（填 bot 或 admin）。",
                         "en": "The filter \"by\" is not valid: {value} (use bot or admin)."},
})
