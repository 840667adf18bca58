"""Questionnaire answers: one row per member who was questioned (name, joined, how the questionnaire
ended, each answer as the member saw it, the tags the answers earned), 50 a page, searchable by
name; and the same table as CSV (UTF-8 with a byte-order mark so Excel opens Chinese right),
streamed in batches so a group of any size exports without holding it all in memory."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.i18n import register, t
from handlers.onboarding.router import shown_answer
from handlers.onboarding.settings import local
from handlers.web.lists import PAGE_SIZE, local_time, member_name, page_asked, pages
from handlers.web.server import Group, WebConsole
from storage import web_content_repo as repo

EXPORT_BATCH = 1000
MEMBER_STATES = ("active", "left", "removed", "banned")
STATES = ("pending", "done", "skipped", "removed", "declined", "refused", "left", "approved")
# A cell Excel would run as a formula (a member's typed answer is not trusted).
FORMULA = re.compile(r"^[=+@\t\r]|^-(?![\d.]+$)")


@dataclass
class Question:
    id: str
    title: str


def questions_of(group: Group, answered_ids: list[str], lang: str) -> list[Question]:
    """The group's questionnaire in order, then the ids of answers to questions it no longer has."""
    asked = [Question(q.id, (local(q.text, lang).strip().splitlines() or [q.id])[0]) for q in group.settings.onboarding.questions]
    known = {q.id for q in asked}
    return asked + [Question(qid, qid) for qid in answered_ids if qid not in known]




def _state(run, lang: str) -> str:
    if run is None:
        return t(lang, "web.answers.state.none")
    return t(lang, f"web.answers.state.{run.status}") if run.status in STATES else run.status


async def _rows(session, group: Group, members: list, questions: list[Question], lang: str) -> list[dict]:
    ids = [m.id for m, _ in members]
    answers = await repo.answers_of_members(session, ids)
    tags = await repo.tags_of_members(session, ids, source="onboarding")
    tz = ZoneInfo(group.settings.timezone)
    rows = []
    for member, run in members:
        mine = answers.get(member.id, {})
        rows.append({
            "member": member,
            "name": member_name(member),
            "joined": local_time(member.joined_at, tz),
            "state": _state(run, lang),
            "state_key": run.status if run else "none",
            "left": member.status != "active",
            "member_status": t(lang, f"web.answers.member.{member.status}") if member.status in MEMBER_STATES else member.status,
            "answers": [shown_answer(group.settings.onboarding, q.id, mine[q.id], lang) if q.id in mine else "" for q in questions],
            "tags": tags.get(member.id, []),
        })
    return rows


def _safe_cell(value: object) -> object:
    return f"'{value}" if isinstance(value, str) and FORMULA.match(value) else value


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def answers(request: web.Request) -> web.Response:
        group = await console.group(request)
        lang = console.lang(request)
        search = request.query.get("q", "").strip()
        async with console.app.sessions() as session:
            total = await repo.count_questioned(session, group.id, search=search)
            pager = pages(request, page_asked(request) or 1, total)
            questions = questions_of(group, await repo.answered_question_ids(session, group.id), lang)
            members = await repo.questioned_members(session, group.id, search=search, offset=pager.offset, limit=PAGE_SIZE)
            rows = await _rows(session, group, members, questions, lang)
        return console.render(request, "answers.html", group=group, section="answers", rows=rows, questions=questions,
                              search=search, pager=pager, tz=group.settings.timezone)

    async def answers_csv(request: web.Request) -> web.StreamResponse:
        group = await console.group(request)
        lang = console.lang(request)
        search = request.query.get("q", "").strip()
        async with console.app.sessions() as session:
            questions = questions_of(group, await repo.answered_question_ids(session, group.id), lang)
        header = [t(lang, f"web.answers.{k}") for k in ("name", "user_id", "username")]
        header += [t(lang, "web.answers.joined_in", tz=group.settings.timezone), t(lang, "web.answers.state"),
                   t(lang, "web.answers.member_status")]
        header += [q.title for q in questions] + [t(lang, "web.answers.tags")]
        safe_key = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{group.row.platform}-{group.row.external_id}")
        response = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="answers-{safe_key}.csv"',
            "Cache-Control": "no-store",
        })
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(header)
        below: int | None = None
        while True:
            async with console.app.sessions() as session:
                members = await repo.questioned_members(session, group.id, search=search, limit=EXPORT_BATCH, below_id=below)
                rows = await _rows(session, group, members, questions, lang)
            for r in rows:
                m = r["member"]
                writer.writerow([_safe_cell(v) for v in (
                    r["name"], m.user_id, m.username or "", r["joined"], r["state"], r["member_status"],
                    *r["answers"], ";".join(r["tags"]),
                )])
            await response.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
            if len(members) < EXPORT_BATCH:
                break
            below = members[-1][0].id
        await response.write_eof()
        return response

    return [web.get("/g/{chat}/answers", answers), web.get("/g/{chat}/answers.csv", answers_csv)]


register({
    "web.answers.title": {"zh-CN": "入群问卷答案", "en": "Questionnaire answers"},
    "web.answers.search_placeholder": {"zh-CN": "按昵称或用户名搜索", "en": "Search by name or username"},
    "web.answers.csv": {"zh-CN": "导出 CSV", "en": "Export CSV"},
    "web.answers.no_questions": {
        "zh-CN": "本群没有配置入群问卷（[groups.\"…\".onboarding] questions）。",
        "en": "This group has no questionnaire configured ([groups.\"…\".onboarding] questions).",
    },
    "web.answers.empty": {"zh-CN": "还没有成员填写问卷。", "en": "No member has been questioned yet."},
    "web.answers.no_match": {"zh-CN": "没有名字包含“{q}”的成员。", "en": "No member's name contains “{q}”."},
    "web.answers.name": {"zh-CN": "成员", "en": "Member"},
    "web.answers.user_id": {"zh-CN": "用户 ID", "en": "User ID"},
    "web.answers.username": {"zh-CN": "用户名", "en": "Username"},
    "web.answers.joined": {"zh-CN": "入群时间", "en": "Joined"},
    "web.answers.joined_in": {"zh-CN": "入群时间（{tz}）", "en": "Joined ({tz})"},
    "web.answers.state": {"zh-CN": "问卷状态", "en": "State"},
    "web.answers.member_status": {"zh-CN": "成员状态", "en": "Member status"},
    "web.answers.tags": {"zh-CN": "标签", "en": "Tags"},
    "web.answers.times_in": {"zh-CN": "时间为 {tz} 时区", "en": "Times in {tz}"},
    "web.answers.state.none": {"zh-CN": "未答题", "en": "not questioned"},
    "web.answers.state.pending": {"zh-CN": "答题中", "en": "pending"},
    "web.answers.state.done": {"zh-CN": "已完成", "en": "answered"},
    "web.answers.state.skipped": {"zh-CN": "管理员放行", "en": "let in by an admin"},
    "web.answers.state.removed": {"zh-CN": "超时被移出", "en": "removed (timeout)"},
    "web.answers.state.declined": {"zh-CN": "申请被拒绝", "en": "request declined"},
    "web.answers.state.refused": {"zh-CN": "不同意群规", "en": "refused the rules"},
    "web.answers.state.left": {"zh-CN": "中途退群", "en": "left before finishing"},
    "web.answers.state.approved": {"zh-CN": "申请已通过", "en": "request approved"},
    "web.answers.member.active": {"zh-CN": "在群", "en": "in the group"},
    "web.answers.member.left": {"zh-CN": "已退群", "en": "left"},
    "web.answers.member.removed": {"zh-CN": "已移出", "en": "removed"},
    "web.answers.member.banned": {"zh-CN": "已封禁", "en": "banned"},
})
