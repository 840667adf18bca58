"""/console (/后台): the bot DMs the asker a one-time sign-in link to the web console. Never in the
group: where the DM fails, the group is told to open a chat with the bot first (without the link)."""

from __future__ import annotations

from datetime import timedelta

from bot.actions import follow_up
from bot.dispatch import Router
from bot.platform import Capability
from handlers.web import links, texts
from storage import web_repo

router = Router("web", priority=5)


@router.command("console", "后台", "web", description=texts.COMMAND_DESCRIPTION)
async def cmd_console(ctx) -> None:
    cfg = ctx.app.config.web
    if not cfg.enabled:
        await ctx.reply(ctx.t("web.disabled"))
        return
    if not ctx.platform.can(Capability.DM):
        await ctx.reply(ctx.t("web.no_dm", platform=ctx.platform.name, user=ctx.user.key))
        return
    try:
        url = await links.issue_link(ctx.session, cfg, ctx.user.key, ctx.user.display, ctx.now)
    except links.TooManyLinks:
        await ctx.reply(ctx.t("web.too_many_links", minutes=int(links.LINK_WINDOW.total_seconds() // 60)))
        return
    text = ctx.t("web.link_dm", url=url, minutes=cfg.link_minutes)
    where = {"private": ctx.chat.private, "reply_to": getattr(ctx.event, "message_id", None), "thread_id": ctx.thread_id,
             "bot": ctx.app.config.bot.name}
    await ctx.platform.dm(ctx.user, text, chat=ctx.chat, then="web.link_sent", then_args=where)


@router.on_tick
async def forget_ended_sign_ins(app) -> None:
    """Hourly: links expired and sessions ended more than a day ago go (they open nothing anyway)."""
    now = app.clock.now()
    state = app.__dict__.setdefault("_web_purge", {"at": None})
    if state["at"] is not None and now - state["at"] < timedelta(hours=1):
        return
    state["at"] = now
    async with app.work() as (session, _):
        await web_repo.forget_before(session, now - timedelta(days=1))


@follow_up("web.link_sent")
async def _link_sent(scope, outcome, args) -> None:
    if outcome.uncertain or args.get("private"):
        return
    key = "web.link_sent_note" if outcome.ok else "web.link_dm_failed"
    await scope.send(scope.t(key, bot=args.get("bot", "")), reply_to=args.get("reply_to"), thread_id=args.get("thread_id"))


__all__ = ["router"]
