"""Columns and campaigns of a group: each column's schedule and next run in its time zone (the
engine's own next_fire), paused or not, a preview of what it would post now (the engine's
preview: nothing claimed, nothing sent), its recent posts' states; the group's campaign runs with
their next step; and the "unknown" posts (a send interrupted mid-way, never repeated) for an admin
to check in the group. Pause/resume run /column and /campaign through the dispatcher; "checked"
is the console's own record (an audit row), since the engine never changes an unknown post."""

from __future__ import annotations


from aiohttp import web

from bot.i18n import register, t
from handlers.columns.router import applies_to
from handlers.web.lists import local_time
from handlers.web.server import Group, WebConsole, viewer_of
from storage import columns_repo, core_repo
from storage import web_content_repo as repo

POST_STATES = ("sent", "failed", "unknown", "skipped", "sending", "claimed")


def _post_rows(posts, tz: str, lang: str) -> list[dict]:
    return [{"at": local_time(p.slot_at, tz), "status": p.status, "label": t(lang, f"web.columns.post.{p.status}"),
             "detail": p.detail or "", "message_id": p.message_id or ""} for p in posts]


async def _preview(engine, column, target, session, lang: str) -> dict:
    from scheduler.sources import ContentProblem

    try:
        content = await engine.preview(column, target, session)
    except ContentProblem as problem:
        return {"problem": t(lang, "web.columns.preview_problem", detail=problem.detail), "text": "", "image": False}
    return {"problem": None, "text": content.text, "image": content.image is not None}


async def _columns(console: WebConsole, session, group: Group, lang: str, wanted_preview: str | None) -> list[dict]:
    from scheduler.engine import Target, describe_schedule, engine_for, next_fire

    engine = engine_for(console.app)
    now = console.app.clock.now()
    pauses = await columns_repo.group_pauses(session)
    states = await repo.post_states(session, group.id)
    out = []
    for column in await engine.columns(session):
        if not applies_to(column, group.row.key, group.settings):
            continue
        tz = column.spec.timezone or group.settings.timezone
        here = (column.name, group.id) in pauses
        item = {
            "name": column.name, "title": column.title, "origin": column.origin,
            "source": t(lang, f"columns.source.{column.spec.source}"),
            "schedule": describe_schedule(column.spec, lang), "tz": tz,
            "next": local_time(next_fire(column.spec, tz, now), tz) or t(lang, "web.columns.never"),
            "paused_here": here,
            # Paused where this group's resume cannot help: for every group, in the config, or the feature off here.
            "paused_elsewhere": [t(lang, f"web.columns.paused_by.{why}") for why, on in (
                ("all", bool(column.state and column.state.paused)), ("config", not column.spec.enabled),
                ("group", not group.settings.columns.enabled)) if on],
            "states": states.get(column.name, {}),
            "recent": _post_rows(await repo.recent_posts(session, group.id, column.name), tz, lang),
            "preview": None,
        }
        # A feed's preview fetches it: only when asked for.
        if column.spec.source != "feed" or wanted_preview == column.name:
            target = Target(group.row, group.settings, tz)
            item["preview"] = await _preview(engine, column, target, session, lang)
        out.append(item)
    return out


async def _campaigns(console: WebConsole, session, group: Group, lang: str) -> list[dict]:
    from scheduler.engine import engine_for

    engine = engine_for(console.app)
    now = console.app.clock.now()
    states = await repo.post_states(session, group.id)
    out = []
    for run in reversed(await columns_repo.runs_in_chat(session, group.id)):
        spec = console.app.config.columns.campaign.get(run.campaign)
        step = await engine.next_campaign_step(run, now, session) if run.status in ("active", "paused") else None
        source = f"campaign:{run.id}"
        out.append({
            "run": run, "title": (spec.title if spec else None) or run.campaign,
            "status": t(lang, f"columns.status.{run.status}") if run.status in ("active", "paused", "stopped", "finished") else run.status,
            "next": f"{local_time(step[0], run.timezone)} ({t(lang, 'web.columns.step', day=step[1].day)})" if step else t(lang, "web.columns.never"),
            "states": states.get(source, {}),
            "recent": _post_rows(await repo.recent_posts(session, group.id, source, limit=5), run.timezone, lang),
        })
    return out[:20]


async def _unknown(session, group: Group, lang: str, columns: list[dict], campaigns: list[dict]) -> list[dict]:
    titles = {c["name"]: c["title"] for c in columns}
    titles.update({f"campaign:{c['run'].id}": c["title"] for c in campaigns})
    checked = await repo.checked_posts(session, group.id)
    tz = group.settings.timezone
    rows = []
    for post in await repo.unknown_posts(session, group.id):
        entry = checked.get(post.id)
        rows.append({
            "post": post, "title": titles.get(post.source, post.source), "at": local_time(post.slot_at, tz),
            "sending_since": local_time(post.updated_at, tz), "detail": post.detail or "",
            "checked": t(lang, "web.columns.checked_by", who=entry.actor, at=local_time(entry.at, tz)) if entry else None,
        })
    return rows


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        group = await console.group(request)
        lang = console.lang(request)
        # engine.columns() records when a column was first seen: a write, hence the transaction.
        async with console.app.sessions() as session, session.begin():
            columns = await _columns(console, session, group, lang, request.query.get("preview"))
            campaigns = await _campaigns(console, session, group, lang)
            unknown = await _unknown(session, group, lang, columns, campaigns)
        return console.render(request, "columns.html", group=group, section="columns", columns=columns,
                              campaigns=campaigns, unknown=unknown, post_states=POST_STATES,
                              available=list(console.app.config.columns.campaign))

    def pause_or_resume(command: str):
        """/column or /campaign pause|resume NAME, as the admin."""
        async def act(request: web.Request) -> web.StreamResponse:
            group = await console.group(request, change=True)
            action = request.match_info["action"]
            if action not in ("pause", "resume"):
                raise web.HTTPNotFound()
            console.flash(request, *await console.command(request, group, command, [action, request.match_info["name"]]))
            raise console.back(request, f"/console/g/{group.id}/columns")

        return act

    async def checked(request: web.Request) -> web.StreamResponse:
        group = await console.group(request, change=True)
        try:
            post_id = int(request.match_info["post"])
        except ValueError:
            raise web.HTTPNotFound() from None
        viewer = viewer_of(request)
        async with console.app.sessions() as session, session.begin():
            if not await console.once(session, request):
                message = console.text(request, "web.form_used")
            elif (post := await repo.unknown_post(session, group.id, post_id)) is None:
                message = console.text(request, "web.columns.no_unknown_post", id=post_id)
            else:
                await core_repo.audit(session, chat_id=group.id, at=console.app.clock.now(), actor=viewer.user_key,
                                      action=repo.POST_CHECKED,
                                      details={"post": post.id, "source": post.source, "slot": post.slot, "via": "web"})
                message = console.text(request, "web.columns.marked_checked", id=post_id)
        console.flash(request, message)
        raise console.back(request, f"/console/g/{group.id}/columns")

    return [
        web.get("/g/{chat}/columns", page),
        web.post("/g/{chat}/columns/{name}/{action}", pause_or_resume("column")),
        web.post("/g/{chat}/campaigns/{name}/{action}", pause_or_resume("campaign")),
        web.post("/g/{chat}/column-posts/{post}/checked", checked),
    ]


register({
    "web.columns.title": {"zh-CN": "栏目与活动", "en": "Columns and campaigns"},
    "web.columns.columns": {"zh-CN": "栏目", "en": "Columns"},
    "web.columns.none": {
        "zh-CN": "没有发往本群的栏目（在配置 [columns.column.名称] 中设置 groups 或 tags，或在群里发送 /column new）。",
        "en": "No column posts in this group (set groups or tags in [columns.column.NAME], or send /column new in the group).",
    },
    "web.columns.name": {"zh-CN": "栏目", "en": "Column"},
    "web.columns.source": {"zh-CN": "内容来源", "en": "Source"},
    "web.columns.schedule": {"zh-CN": "发布时间", "en": "Schedule"},
    "web.columns.next": {"zh-CN": "下次发布", "en": "Next run"},
    "web.columns.timezone": {"zh-CN": "时区", "en": "Time zone"},
    "web.columns.state": {"zh-CN": "状态", "en": "State"},
    "web.columns.running": {"zh-CN": "运行中", "en": "running"},
    "web.columns.paused": {"zh-CN": "本群已暂停", "en": "paused in this group"},
    "web.columns.paused_by.all": {"zh-CN": "运营者已在所有群暂停", "en": "paused in every group by an operator"},
    "web.columns.paused_by.config": {"zh-CN": "配置中已停用（enabled = false）", "en": "disabled in the config (enabled = false)"},
    "web.columns.paused_by.group": {"zh-CN": "本群的栏目功能已关闭（columns.enabled）", "en": "columns are off in this group (columns.enabled)"},
    "web.columns.pause": {"zh-CN": "暂停", "en": "Pause"},
    "web.columns.resume": {"zh-CN": "恢复", "en": "Resume"},
    "web.columns.made_by_admin": {"zh-CN": "（管理员创建）", "en": " (made by an admin)"},
    "web.columns.never": {"zh-CN": "无", "en": "none"},
    "web.columns.preview": {"zh-CN": "预览（现在发布会是这样，未发送）", "en": "Preview (what it would post now; not sent)"},
    "web.columns.preview_feed": {"zh-CN": "显示预览（会读取订阅源）", "en": "Show the preview (fetches the feed)"},
    "web.columns.preview_problem": {"zh-CN": "现在无法生成内容：{detail}", "en": "It cannot be made now: {detail}"},
    "web.columns.with_image": {"zh-CN": "（附图片）", "en": "(with an image)"},
    "web.columns.recent": {"zh-CN": "最近的发布", "en": "Recent posts"},
    "web.columns.slot": {"zh-CN": "时段", "en": "Slot"},
    "web.columns.detail": {"zh-CN": "说明", "en": "Detail"},
    "web.columns.message": {"zh-CN": "消息 ID", "en": "Message id"},
    "web.columns.no_posts": {"zh-CN": "还没有发布过。", "en": "Nothing posted yet."},
    "web.columns.post.sent": {"zh-CN": "已发布", "en": "posted"},
    "web.columns.post.failed": {"zh-CN": "失败", "en": "failed"},
    "web.columns.post.unknown": {"zh-CN": "未知（发送中断）", "en": "unknown (send interrupted)"},
    "web.columns.post.skipped": {"zh-CN": "已跳过", "en": "skipped"},
    "web.columns.post.sending": {"zh-CN": "发送中", "en": "sending"},
    "web.columns.post.claimed": {"zh-CN": "待发送", "en": "about to send"},
    "web.columns.campaigns": {"zh-CN": "本群的活动", "en": "Campaigns in this group"},
    "web.columns.campaigns_none": {"zh-CN": "本群还没有开始过活动（/campaign start 名称）。",
                                   "en": "No campaign was started in this group (/campaign start NAME)."},
    "web.columns.available": {"zh-CN": "可用的活动：{names}", "en": "Campaigns available: {names}"},
    "web.columns.campaign": {"zh-CN": "活动", "en": "Campaign"},
    "web.columns.started": {"zh-CN": "开始日期", "en": "Start date"},
    "web.columns.step": {"zh-CN": "第 {day} 天", "en": "day {day}"},
    "web.columns.unknown_title": {"zh-CN": "需要核对的发布（状态未知）", "en": "Posts to check (state unknown)"},
    "web.columns.unknown_help": {
        "zh-CN": "这些发布在发送途中被中断（例如机器人重启），平台可能收到也可能没收到。机器人不会重发，以免重复。请到群里看一看，缺了就手动补发，然后标记为已核对。",
        "en": "These sends were interrupted mid-way (e.g. the bot restarted); the platform may or may not have got them. The bot never sends them again, to avoid a duplicate. Look in the group, post by hand if one is missing, then mark it checked.",
    },
    "web.columns.unknown_none": {"zh-CN": "没有需要核对的发布。", "en": "No post to check."},
    "web.columns.sending_since": {"zh-CN": "开始发送", "en": "Send started"},
    "web.columns.mark_checked": {"zh-CN": "已在群里核对", "en": "Checked in the group"},
    "web.columns.checked_by": {"zh-CN": "{who} 于 {at} 已核对", "en": "checked by {who} at {at}"},
    "web.columns.marked_checked": {"zh-CN": "发布 #{id} 已标记为已核对。", "en": "Post #{id} is marked checked."},
    "web.columns.no_unknown_post": {"zh-CN": "本群没有状态未知的发布 #{id}。", "en": "This group has no unknown post #{id}."},
    "web.columns.times_in": {"zh-CN": "时间按各栏目的时区显示", "en": "Times in each column's time zone"},
})
