"""/help, and the answer to a command the bot does not know.

/help lists what the asker may use: members see the member commands, admins every command, the
admin ones marked. An unknown command in a group (one addressed to another bot, /cmd@otherbot, is
not ours and gets nothing) is answered with a short pointer to /help. In a one-to-one chat the bot
says nothing to an unknown command: onboarding takes typed answers there, and most commands are
group commands that do not work in a private chat."""

from bot.context import Context
from bot.dispatch import Router
from bot.events import CommandInvoked
from bot.i18n import register

router = Router("help", priority=0)
# Runs after every other router, in groups only.
unknown_router = Router("unknown_command", priority=-1000, private_chats=False)

register(
    {
        "help.admin_marker": {"zh-CN": "（管理员）", "en": " (admins)"},
        "help.unknown_command": {
            "zh-CN": "没有 /{command} 这个命令，发送 /help 查看可用命令。",
            "en": "There is no command /{command}; send /help to see the commands.",
        },
    }
)


@router.command("help", "start", "帮助", description={"zh-CN": "显示命令列表", "en": "Show the command list"})
async def show_help(ctx: Context) -> None:
    admin = not ctx.chat.private and await ctx.is_admin()
    lines = [ctx.t("core.help_header")]
    seen: set[str] = set()
    for spec in ctx.app.dispatcher.commands():
        name = spec.names[0]
        if name in seen or (spec.admin_only and not admin):
            continue
        seen.add(name)
        marker = ctx.t("help.admin_marker") if spec.admin_only else ""
        lines.append(f"/{name} — {spec.description.get(ctx.lang) or spec.description['zh-CN']}{marker}")
    await ctx.reply("\n".join(lines))


@unknown_router.on(CommandInvoked)
async def unknown_command(ctx: Context) -> None:
    event: CommandInvoked = ctx.event
    known = {name for spec in ctx.app.dispatcher.commands() for name in spec.names}
    if event.name in known:
        return
    await ctx.reply(ctx.t("help.unknown_command", command=event.name[:40]))
