"""A test-local router that drives every Platform action through ctx, the way feature routers do, and
records the events it sees. Each test builds a fresh one with `probe_router()`."""

from __future__ import annotations

from datetime import timedelta

from bot.dispatch import Router
from bot.events import (
    ButtonPressed,
    ChatMigrated,
    CommandInvoked,
    JoinRequested,
    MemberJoined,
    MemberLeft,
    MessageEdited,
    MessageReceived,
)
from bot.actions import Outcome, follow_up
from bot.platform import Button

# The probe of the running test (follow-ups are registered by name, once per process).
CURRENT: list["ProbeRouter"] = []


@follow_up("probe.failed")
async def _record_failure(scope, outcome: Outcome, args) -> None:
    if not outcome.ok:
        CURRENT[-1].failures.append(outcome)
    elif args.get("ok_reply"):
        await scope.send(args["ok_reply"], reply_to=args.get("reply_to"))
    if not outcome.ok and args.get("fail_reply"):
        await scope.send(args["fail_reply"].format(reason=outcome.reason), reply_to=args.get("reply_to"))


class ProbeRouter(Router):
    def __init__(self) -> None:
        super().__init__("probe", 50)
        self.events: list = []
        self.failures: list[Outcome] = []  # refusals of the probe's actions (reason, right, detail)
        self.downloads: list[bytes] = []

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def probe_router() -> ProbeRouter:
    r = ProbeRouter()
    CURRENT.append(r)

    @r.on(MessageReceived, MessageEdited, CommandInvoked, MemberJoined, MemberLeft, JoinRequested, ButtonPressed, ChatMigrated)
    async def record(ctx):
        r.events.append(ctx.event)

    @r.command("echo", description={"zh-CN": "复述", "en": "Say it back"})
    async def echo(ctx):
        await ctx.reply("echo: " + " ".join(ctx.event.args))

    @r.command("secret", description={"zh-CN": "管理员命令", "en": "An admin command"}, admin_only=True)
    async def secret(ctx):
        await ctx.reply("hello admin")

    async def target(ctx):
        return ctx.event.reply_to_user

    @r.command("mute", description={"zh-CN": "禁言", "en": "Mute"})
    async def mute(ctx):
        await ctx.platform.restrict(ctx.chat, await target(ctx), ctx.now + timedelta(hours=1), then="probe.failed",
                                    then_args={"ok_reply": "muted", "reply_to": ctx.event.message_id})

    @r.command("unmute", description={"zh-CN": "解除禁言", "en": "Unmute"})
    async def unmute(ctx):
        await ctx.platform.unrestrict(ctx.chat, await target(ctx))

    @r.command("kick", description={"zh-CN": "踢出", "en": "Kick"})
    async def kick(ctx):
        await ctx.platform.kick(ctx.chat, await target(ctx))

    @r.command("ban", description={"zh-CN": "封禁", "en": "Ban"})
    async def ban(ctx):
        await ctx.platform.ban(ctx.chat, await target(ctx))

    @r.command("quiz", description={"zh-CN": "答题", "en": "Quiz"})
    async def quiz(ctx):
        await ctx.send(f"{ctx.mention()}: ready?", buttons=[[Button("Yes", f"quiz:{ctx.user.id}:yes"),
                                                            Button("No", f"quiz:{ctx.user.id}:no")]])

    @r.button("quiz:")
    async def quiz_answer(ctx):
        _, owner, answer = ctx.event.data.split(":")
        if ctx.user.id != owner:
            await ctx.platform.answer_button(ctx.event.callback_id, "not for you", alert=True)
            return
        await ctx.platform.answer_button(ctx.event.callback_id, "thanks")
        await ctx.platform.edit(ctx.chat, ctx.event.message_id, f"{ctx.mention()} answered {answer}")

    @r.command("dmme", description={"zh-CN": "私信我", "en": "DM me"})
    async def dmme(ctx):
        await ctx.platform.dm(ctx.user, "psst", chat=ctx.chat, then="probe.failed", then_args={
            "ok_reply": "sent you a DM", "fail_reply": "cannot DM you ({reason})", "reply_to": ctx.event.message_id})

    @r.command("picture", description={"zh-CN": "发图", "en": "Send a picture"})
    async def picture(ctx):
        await ctx.platform.send_photo(ctx.chat, b"\x89PNG-chart-bytes", caption="today")

    @r.message()
    async def on_message(ctx):
        event = ctx.event
        for media in event.media:
            if media.file_id:
                r.downloads.append(await ctx.platform.download(media))
        if "spam" in event.text:
            await ctx.platform.delete(ctx.chat, event.message_id, then="probe.failed")

    @r.join_requested()
    async def on_request(ctx):
        if "friend" in (ctx.event.bio or ""):
            await ctx.platform.approve_join(ctx.chat, ctx.user)
        else:
            await ctx.platform.decline_join(ctx.chat, ctx.user)

    return r
