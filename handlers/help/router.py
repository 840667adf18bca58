from bot.context import Context
from bot.dispatch import Router
from bot.i18n import register

router = Router("help", priority=0)

register(
    {
        "help.admin_marker": {"zh-CN": "（管理员）", "en": " (admins)"},
    }
)


@router.command("help", "start", "帮助", description={"zh-CN": "显示命令列表", "en": "Show the command list"})
async def show_help(ctx: Context) -> None:
    lines = [ctx.t("core.help_header")]
    seen: set[str] = set()
    for spec in ctx.app.dispatcher.commands():
        name = spec.names[0]
        if name in seen:
            continue
        seen.add(name)
        marker = ctx.t("help.admin_marker") if spec.admin_only else ""
        lines.append(f"/{name} — {spec.description.get(ctx.lang) or spec.description['zh-CN']}{marker}")
    await ctx.reply("\n".join(lines))
