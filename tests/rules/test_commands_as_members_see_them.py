"""/help by role, unknown commands, an admin's /kick announced as theirs, /undo of a removal — as the group sees it."""

import pytest

from tests.rules.test_capabilities_and_commands import audit_rows, settle
from tests.support.harness import running_app


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_help_shows_members_their_commands_and_admins_all_marked(sqlite_url, tmp_path, lang):
    marker = "（管理员）" if lang == "zh-CN" else " (admins)"
    async with running_app(sqlite_url, str(tmp_path), {"defaults": {"language": lang}}) as (app, console):
        await console.say("bob", "/help")
        member_help = console.bot_messages()[-1].text
        await console.say("admin", "/help")
        admin_help = console.bot_messages()[-1].text
    assert "/rules" in member_help and "/checkin" in member_help and "/report" in member_help
    for admin_command in ("/kick", "/ban", "/undo", "/modlog", "/award", "/skip"):
        assert admin_command + " " not in member_help, admin_command
        assert admin_command + " " in admin_help, admin_command
    assert marker not in member_help
    kick_line = next(line for line in admin_help.splitlines() if line.startswith("/kick "))
    assert kick_line.endswith(marker)
    assert "/rules" in admin_help and not next(l for l in admin_help.splitlines() if l.startswith("/rules ")).endswith(marker)


@pytest.mark.parametrize("lang, words", [("zh-CN", "没有 /frobnicate 这个命令，发送 /help"), ("en", "no command /frobnicate; send /help")])
async def test_an_unknown_command_points_to_help_but_one_for_another_bot_gets_nothing(sqlite_url, tmp_path, lang, words):
    async with running_app(sqlite_url, str(tmp_path), {"defaults": {"language": lang}}) as (app, console):
        message_id, _ = await console.say("bob", "/frobnicate now")
        reply = console.bot_messages()[-1]
        assert words in reply.text and reply.reply_to == message_id
        before = len(console.bot_messages())
        await console.say("bob", "/frobnicate@some_other_bot")
        await console.say("bob", "/rules")  # a known command gets its own answer only
        assert len(console.bot_messages()) == before + 1
        assert "frobnicate" not in console.bot_messages()[-1].text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_an_admin_kick_is_announced_as_an_admin_action_and_undo_lets_them_back(sqlite_url, tmp_path, lang):
    said = {
        "zh-CN": ("@bob 已被管理员移出本群，原因：刷屏，可以重新加入", "管理员处理", "@bob 可以重新加入本群了"),
        "en": ("@bob was removed by an admin, reason: 刷屏; they may rejoin", "admin decision", "@bob may rejoin the group"),
    }[lang]
    async with running_app(sqlite_url, str(tmp_path), {"defaults": {"language": lang}}) as (app, console):
        await settle(console, app)
        await console.say("admin", "/kick @bob 刷屏")
        notice = console.bot_messages()[-1].text
        assert said[0] in notice, notice
        assert said[1] not in notice and "违反" not in notice and "broke the rule" not in notice
        assert not console.is_present("bob")
        kick = next(r for r in await audit_rows(app, console) if r.action == "kick")
        await console.say("admin", f"/undo {kick.id}")
        assert said[2] in console.bot_messages()[-1].text
        assert await console.join("bob") is not None and console.is_present("bob")


async def test_undo_of_a_ban_unbans_and_says_they_may_rejoin(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await settle(console, app)
        await console.say("admin", "/ban @bob")
        assert console.member("bob").banned
        assert "已被管理员永久移出本群" in console.bot_messages()[-1].text
        ban = next(r for r in await audit_rows(app, console) if r.action == "ban")
        await console.say("admin", f"/undo {ban.id}")
        text = console.bot_messages()[-1].text
        assert f"已撤销 #{ban.id}（封禁 @bob）" in text and "@bob 可以重新加入本群了" in text
        assert not console.member("bob").banned
        assert await console.join("bob") is not None and console.is_present("bob")


async def test_usage_lines_are_in_the_group_language(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await console.say("admin", "/kick")
        assert "/kick @用户名 [原因]" in console.bot_messages()[-1].text
        await console.say("admin", "/mute")
        assert "/mute @用户名 时长（如 1d） [原因]" in console.bot_messages()[-1].text
        await settle(console, app)
        await console.say("admin", "/kick @bob")
        await console.say("admin", "/modlog")
        line = console.bot_messages()[-1].text.splitlines()[1]
        assert " 移出 bob" in line and "处理人 console:admin" in line and " by " not in line
