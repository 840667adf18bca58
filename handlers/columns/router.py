"""Columns and campaigns: the engine runs on every tick (scheduler/engine.py); admins steer it
with /columns, /column … and /campaign …."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.dispatch import Router
from handlers.columns import texts  # noqa: F401  (registers the texts)

if TYPE_CHECKING:
    from bot.config import GroupSettings
    from bot.ports import AppServices
    from bot.context import Context
    from scheduler.engine import Column, ColumnEngine, Target

log = logging.getLogger(__name__)

router = Router("columns", priority=30, private_chats=False)


def _engine(app: "AppServices") -> "ColumnEngine":
    from scheduler.engine import engine_for

    return engine_for(app)


@router.on_tick
async def run_columns(app: "AppServices") -> None:
    await _engine(app).tick()


@router.on_shutdown
async def finish_sends(app: "AppServices") -> None:
    try:
        await asyncio.wait_for(_engine(app).wait_idle(), timeout=30)
    except asyncio.TimeoutError:
        log.warning("column sends still running at shutdown")


# --- helpers -----------------------------------------------------------------------------------
def applies_to(column: "Column", chat_key: str, settings: "GroupSettings") -> bool:
    """The column posts in this group (named in its groups, or sharing one of its tags)."""
    return chat_key in column.spec.groups or bool(set(column.spec.tags) & set(settings.columns.tags))


def _applies(column: "Column", ctx: "Context") -> bool:
    return applies_to(column, ctx.chat.key, ctx.settings)


def _target(column: "Column", ctx: "Context") -> "Target":
    from scheduler.engine import Target

    return Target(ctx.chat_row, ctx.settings, column.spec.timezone or ctx.settings.timezone)


def _local(when: datetime | None, tz: str, ctx: "Context") -> str:
    if when is None:
        return ctx.t("columns.list.never")
    return f"{when.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} ({tz})"


async def _mine(ctx: "Context") -> list["Column"]:
    return [c for c in await _engine(ctx.app).columns(ctx.session) if _applies(c, ctx)]


async def _find(ctx: "Context", name: str | None) -> "Column | None":
    mine = await _mine(ctx)
    column = next((c for c in mine if c.name == name), None)
    if column is None:
        await ctx.reply(ctx.t("columns.unknown", name=name or "", names=", ".join(c.name for c in mine) or "—"))
    return column


def _is_operator(ctx: "Context") -> bool:
    return ctx.user.key in ctx.app.config.columns.operators


# --- /columns ----------------------------------------------------------------------------------
@router.command(
    "columns", "栏目",
    description={"zh-CN": "栏目与活动列表、下次发布时间", "en": "Columns and campaigns, with their next run times"},
    admin_only=True,
)
async def list_columns(ctx: "Context") -> None:
    from scheduler.engine import describe_schedule, next_fire
    from storage import columns_repo as repo

    engine = _engine(ctx.app)
    mine = await _mine(ctx)
    pauses = await repo.group_pauses(ctx.session)
    lines = [ctx.t("columns.list.header")] if mine else [ctx.t("columns.list.none")]
    for column in mine:
        tz = column.spec.timezone or ctx.settings.timezone
        paused = column.paused or (column.name, ctx.chat_row.id) in pauses or not ctx.settings.columns.enabled
        lines.append(
            ctx.t(
                "columns.list.item", name=column.name, title=column.title, source=ctx.t(f"columns.source.{column.spec.source}"),
                schedule=describe_schedule(column.spec, ctx.lang), tz=tz, next=_local(next_fire(column.spec, tz, ctx.now), tz, ctx),
                state=ctx.t("columns.list.paused") if paused else "",
            )
        )
    runs = await repo.runs_in_chat(ctx.session, ctx.chat_row.id, live_only=True)
    if runs:
        lines.append(ctx.t("columns.list.campaigns"))
        for run in runs:
            spec = ctx.app.config.columns.campaign.get(run.campaign)
            step = await engine.next_campaign_step(run, ctx.now, ctx.session)
            nxt = f"{_local(step[0], run.timezone, ctx)} {ctx.t('columns.step', day=step[1].day, time=step[1].time)}" if step else ctx.t("columns.list.never")
            lines.append(
                ctx.t("columns.list.campaign", name=run.campaign, title=(spec.title if spec else None) or run.campaign,
                      status=ctx.t(f"columns.status.{run.status}"), start=run.start_date.isoformat(), next=nxt)
            )
    if ctx.app.config.columns.campaign:
        lines.append(ctx.t("columns.list.available", names=", ".join(ctx.app.config.columns.campaign)))
    await ctx.reply("\n".join(lines))


# --- /column … ---------------------------------------------------------------------------------
@router.command(
    "column", "栏目管理",
    description={"zh-CN": "栏目管理：preview/pause/resume/add/queue/new/delete/template", "en": "Manage a column: preview/pause/resume/add/queue/new/delete/template"},
    admin_only=True,
)
async def column_command(ctx: "Context") -> None:
    args = list(ctx.event.args)
    action = args[0].lower() if args else ""
    name = args[1] if len(args) > 1 else None
    handlers = {
        "preview": _preview, "pause": _pause, "resume": _resume, "add": _add, "queue": _queue,
        "new": _new, "delete": _delete, "template": _template,
    }
    if action not in handlers or (name is None and action != "new") or (action == "new" and len(args) < 4):
        await ctx.reply(ctx.t("columns.usage"))
        return
    await handlers[action](ctx, name, args[2:])


async def _preview(ctx: "Context", name: str, rest: list[str]) -> None:
    from scheduler.sources import ContentProblem

    column = await _find(ctx, name)
    if column is None:
        return
    engine = _engine(ctx.app)
    try:
        content = await engine.preview(column, _target(column, ctx), ctx.session)
    except ContentProblem as problem:
        await ctx.reply(ctx.t("columns.preview_problem", name=name, detail=problem.detail))
        return
    marked = f"{ctx.t('columns.preview_marker')}\n{content.text}"
    await ctx.dm_or_reply(marked, sent_note=ctx.t("columns.preview_sent"))


async def _pause(ctx: "Context", name: str, rest: list[str]) -> None:
    await _set_paused(ctx, name, rest, paused=True)


async def _resume(ctx: "Context", name: str, rest: list[str]) -> None:
    await _set_paused(ctx, name, rest, paused=False)


async def _set_paused(ctx: "Context", name: str, rest: list[str], *, paused: bool) -> None:
    """Pause or resume a column in this group, or everywhere with `all` (operators only)."""
    from scheduler.engine import next_fire
    from storage import columns_repo as repo

    column = await _find(ctx, name)
    if column is None:
        return
    verb = "pause" if paused else "resume"
    if rest and rest[0].lower() == "all":
        if not _is_operator(ctx):
            await ctx.reply(ctx.t("columns.operators_only"))
            return
        await repo.set_paused(ctx.session, column.name, paused, ctx.user.key, ctx.now)
        await ctx.audit(f"column_{verb}", details={"column": column.name, "scope": "all"}, actor=ctx.user.key)
        await ctx.reply(ctx.t("columns.paused_all" if paused else "columns.resumed_all", name=column.name))
        return
    if paused:
        await repo.pause_group(ctx.session, column.name, ctx.chat_row.id, ctx.user.key, ctx.now)
    else:
        await repo.resume_group(ctx.session, column.name, ctx.chat_row.id)
    await ctx.audit(f"column_{verb}", details={"column": column.name, "scope": "group"}, actor=ctx.user.key)
    if paused:
        await ctx.reply(ctx.t("columns.paused", name=column.name))
        return
    tz = column.spec.timezone or ctx.settings.timezone
    await ctx.reply(ctx.t("columns.resumed", name=column.name, next=_local(next_fire(column.spec, tz, ctx.now), tz, ctx)))


def _rest_of_text(ctx: "Context", words_before: int) -> str:
    """The raw text after the first `words_before` words (keeps the admin's line breaks)."""
    parts = ctx.text.split(None, words_before)
    return parts[words_before].strip() if len(parts) > words_before else ""


async def _add(ctx: "Context", name: str, rest: list[str]) -> None:
    from storage import columns_repo as repo

    column = await _find(ctx, name)
    if column is None:
        return
    if column.spec.source != "queue":
        await ctx.reply(ctx.t("columns.not_queue", name=name, source=ctx.t(f"columns.source.{column.spec.source}")))
        return
    text = _rest_of_text(ctx, 3)
    if not text:
        await ctx.reply(ctx.t("columns.add_usage"))
        return
    position = await repo.add_item(ctx.session, column.name, text, ctx.user.key, ctx.now)
    await ctx.reply(ctx.t("columns.added", name=column.name, position=position))


async def _queue(ctx: "Context", name: str, rest: list[str]) -> None:
    from storage import columns_repo as repo

    column = await _find(ctx, name)
    if column is None:
        return
    items = await repo.pending_items(ctx.session, column.name, limit=20)
    if not items:
        await ctx.reply(ctx.t("columns.queue_empty", name=column.name))
        return
    listing = "\n".join(f"{i}. {item.text[:60]}" for i, item in enumerate(items, 1))
    await ctx.reply(ctx.t("columns.queue_list", name=column.name, count=len(items), items=listing))


async def _new(ctx: "Context", name: str, rest: list[str]) -> None:
    """/column new NAME SOURCE [URL] HH:MM [HH:MM …]   or   … cron M H D M W"""
    from pydantic import ValidationError

    from bot.config import _describe
    from handlers.columns.settings import ColumnDef
    from scheduler.engine import describe_schedule, next_fire
    from storage import columns_repo as repo

    existing = await repo.get_state(ctx.session, name)
    if name in ctx.app.config.columns.column or (existing is not None and existing.definition):
        await ctx.reply(ctx.t("columns.exists", name=name))
        return
    source, rest = rest[0].lower(), rest[1:]
    definition: dict = {"source": source, "groups": [ctx.chat.key]}
    if source == "feed" and rest:
        definition["url"], rest = rest[0], rest[1:]
    if rest and rest[0].lower() == "cron":
        definition["cron"] = " ".join(rest[1:])
    else:
        definition["times"] = rest
    try:
        import re

        if not re.match(r"^[\w\-]{1,48}$", name):
            raise ValueError(f"name {name!r}: use letters, digits, '_' or '-' (up to 48), no spaces")
        spec = ColumnDef.model_validate(definition)
    except ValidationError as exc:
        await ctx.reply(ctx.t("columns.create_invalid", detail=_describe(exc)))
        return
    except ValueError as exc:
        await ctx.reply(ctx.t("columns.create_invalid", detail=str(exc)))
        return
    await repo.define_column(ctx.session, name, spec.model_dump(exclude_defaults=True), ctx.user.key, ctx.now)
    await ctx.audit("column_new", details={"column": name, "definition": definition}, actor=ctx.user.key)
    tz = ctx.settings.timezone
    await ctx.reply(
        ctx.t("columns.created", name=name, source=ctx.t(f"columns.source.{source}"), schedule=describe_schedule(spec, ctx.lang),
              next=_local(next_fire(spec, tz, ctx.now), tz, ctx))
    )


async def _delete(ctx: "Context", name: str, rest: list[str]) -> None:
    from storage import columns_repo as repo

    column = await _find(ctx, name)
    if column is None:
        return
    if column.origin != "admin":
        await ctx.reply(ctx.t("columns.not_deletable", name=name))
        return
    await repo.define_column(ctx.session, column.name, None, ctx.user.key, ctx.now)
    await ctx.audit("column_delete", details={"column": column.name}, actor=ctx.user.key)
    await ctx.reply(ctx.t("columns.deleted", name=column.name))


async def _template(ctx: "Context", name: str, rest: list[str]) -> None:
    from scheduler.templates import TemplateProblem, compile_template
    from storage import columns_repo as repo

    column = await _find(ctx, name)
    if column is None:
        return
    text = _rest_of_text(ctx, 3)
    if not text:
        await ctx.reply(ctx.t("columns.usage"))
        return
    if text.lower() == "reset":
        await repo.set_template(ctx.session, column.name, None, ctx.user.key, ctx.now)
        await ctx.reply(ctx.t("columns.template_reset", name=column.name))
        return
    try:
        compile_template(text)
    except TemplateProblem as exc:
        await ctx.reply(ctx.t("columns.template_invalid", detail=str(exc)))
        return
    await repo.set_template(ctx.session, column.name, text, ctx.user.key, ctx.now)
    await ctx.audit("column_template", details={"column": column.name, "template": text}, actor=ctx.user.key)
    await ctx.reply(ctx.t("columns.template_set", name=column.name))


# --- /campaign … -------------------------------------------------------------------------------
@router.command(
    "campaign", "活动",
    description={"zh-CN": "SOP 活动：start/list/pause/resume/stop", "en": "SOP campaigns: start/list/pause/resume/stop"},
    admin_only=True,
)
async def campaign_command(ctx: "Context") -> None:
    args = list(ctx.event.args)
    action = args[0].lower() if args else ""
    if action == "list":
        await _campaign_list(ctx)
        return
    if action not in ("start", "pause", "resume", "stop") or len(args) < 2:
        await ctx.reply(ctx.t("columns.campaign.usage"))
        return
    name = args[1]
    campaigns = ctx.app.config.columns.campaign
    if action == "start":
        await _campaign_start(ctx, name, args[2] if len(args) > 2 else None)
        return
    from storage import columns_repo as repo

    run = await repo.live_run(ctx.session, name, ctx.chat_row.id)
    if run is None:
        if name not in campaigns:
            await ctx.reply(ctx.t("columns.campaign.unknown", name=name, names=", ".join(campaigns) or "—"))
        else:
            await ctx.reply(ctx.t("columns.campaign.not_running", name=name))
        return
    if action == "pause":
        await repo.set_run_status(ctx.session, run.id, "paused", ctx.now, only_from=("active",))
        await ctx.reply(ctx.t("columns.campaign.paused_ok", name=name))
    elif action == "resume":
        await repo.set_run_status(ctx.session, run.id, "active", ctx.now, only_from=("paused",))
        await ctx.reply(ctx.t("columns.campaign.resumed_ok", name=name))
    else:
        await repo.set_run_status(ctx.session, run.id, "stopped", ctx.now)
        await ctx.reply(ctx.t("columns.campaign.stopped_ok", name=name))
    await ctx.audit(f"campaign_{action}", details={"campaign": name, "run": run.id}, actor=ctx.user.key)


async def _campaign_start(ctx: "Context", name: str, when: str | None) -> None:
    from scheduler.sources import ContentProblem
    from storage import columns_repo as repo

    campaigns = ctx.app.config.columns.campaign
    spec = campaigns.get(name)
    if spec is None:
        await ctx.reply(ctx.t("columns.campaign.unknown", name=name, names=", ".join(campaigns) or "—"))
        return
    engine = _engine(ctx.app)
    try:
        steps = engine.steps_of(spec)
    except ContentProblem as problem:
        await ctx.reply(ctx.t("columns.campaign.bad_steps", name=name, detail=problem.detail))
        return
    tz = spec.timezone or ctx.settings.timezone
    if when:
        try:
            start = date.fromisoformat(when)
        except ValueError:
            await ctx.reply(ctx.t("columns.campaign.bad_date", value=when))
            return
    else:
        start = ctx.now.astimezone(ZoneInfo(tz)).date()
    live = await repo.live_run(ctx.session, name, ctx.chat_row.id)
    if live is not None:
        await ctx.reply(ctx.t("columns.campaign.already", name=name, status=ctx.t(f"columns.status.{live.status}")))
        return
    await repo.start_run(ctx.session, name, ctx.chat_row.id, start, tz, ctx.user.key, ctx.now)
    await ctx.audit("campaign_start", details={"campaign": name, "start": start.isoformat()}, actor=ctx.user.key)
    dues = [(engine.step_due(start, s, tz), s) for s in steps]
    passed = [d for d, _ in dues if d < ctx.now - timedelta(minutes=1)]
    upcoming = [(d, s) for d, s in dues if d >= ctx.now - timedelta(minutes=1)]
    nxt = f"{_local(upcoming[0][0], tz, ctx)} {ctx.t('columns.step', day=upcoming[0][1].day, time=upcoming[0][1].time)}" if upcoming else ctx.t("columns.list.never")
    await ctx.reply(
        ctx.t("columns.campaign.started", name=spec.title or name, start=start.isoformat(), total=len(steps), next=nxt,
              passed=ctx.t("columns.campaign.passed", count=len(passed)) if passed else "")
    )


async def _campaign_list(ctx: "Context") -> None:
    from storage import columns_repo as repo

    engine = _engine(ctx.app)
    runs = await repo.runs_in_chat(ctx.session, ctx.chat_row.id)
    lines = []
    for run in runs[-10:]:
        spec = ctx.app.config.columns.campaign.get(run.campaign)
        step = await engine.next_campaign_step(run, ctx.now, ctx.session) if run.status in ("active", "paused") else None
        nxt = f"{_local(step[0], run.timezone, ctx)} {ctx.t('columns.step', day=step[1].day, time=step[1].time)}" if step else ctx.t("columns.list.never")
        lines.append(
            ctx.t("columns.list.campaign", name=run.campaign, title=(spec.title if spec else None) or run.campaign,
                  status=ctx.t(f"columns.status.{run.status}"), start=run.start_date.isoformat(), next=nxt)
        )
    if not lines:
        lines.append(ctx.t("columns.campaign.none"))
    if ctx.app.config.columns.campaign:
        lines.append(ctx.t("columns.list.available", names=", ".join(ctx.app.config.columns.campaign)))
    await ctx.reply("\n".join(lines))
