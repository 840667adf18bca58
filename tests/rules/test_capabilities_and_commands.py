"""Platforms that cannot do everything, admin commands, notices and undo, on the console platform."""

from bot.platform import Capability
from storage import core_repo, rules_repo
from tests.support.harness import running_app

ALL = Capability.all()


async def audit_rows(app, console):
    async with app.sessions() as session:
        chat = await core_repo.get_chat(session, "console", console.default_chat.id)
        return list(reversed(await core_repo.audit_entries(session, chat.id)))


async def settle(console, app, name="bob"):
    """A member past the newcomer window (three ordinary messages)."""
    for text in ("早上好", "今天开会吗", "收到"):
        await console.say(name, text)
        app.clock.advance(minutes=1)


def admin_dms(console):
    return [m.text for m in console.dms("admin")]


async def test_without_delete_the_admins_are_asked_to_delete(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), capabilities=ALL & ~Capability.DELETE) as (app, console):
        await settle(console, app)
        message_id, result = await console.say("bob", "https://spam.xyz/deal 点击加入")
        assert not console.messages[message_id].deleted
        assert result.stopped_by == "rules"
        assert any("请删除 @bob 的消息 #" + message_id in t for t in admin_dms(console))
        assert "删除消息并警告" in console.bot_messages()[-1].text


async def test_without_restrict_a_mute_becomes_a_warning_and_admins_are_told(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {"ladder": ["mute:1d", "kick"]}}}
    async with running_app(sqlite_url, str(tmp_path), config, capabilities=ALL & ~Capability.RESTRICT) as (app, console):
        await settle(console, app)
        message_id, _ = await console.say("bob", "https://spam.xyz/deal")
        assert console.messages[message_id].deleted and not console.is_muted("bob")
        assert any("缺少 RESTRICT" in t and "@bob" in t for t in admin_dms(console))
        assert "警告" in console.bot_messages()[-1].text


async def test_without_kick_or_ban_the_owner_is_asked_with_the_evidence_and_it_is_audited(sqlite_url, tmp_path):
    """WeCom customer groups: the bot cannot remove anyone."""
    caps = ALL & ~(Capability.KICK | Capability.BAN | Capability.UNBAN | Capability.DELETE | Capability.RESTRICT)
    config = {"defaults": {"rules": {"ladder": ["kick"]}}}
    async with running_app(sqlite_url, str(tmp_path), config, capabilities=caps) as (app, console):
        await settle(console, app)
        await console.say("bob", "进群 https://t.me/+AbC123 领福利")
        assert console.is_present("bob")
        asked = [t for t in admin_dms(console) if "请将 @bob 移出本群" in t]
        assert asked and "t.me/+abc123" in asked[0]
        rows = await audit_rows(app, console)
        assert rows[-1].action == "kick_requested" and rows[-1].rule == "invite"
        assert "已请群主/管理员将其移出本群" in console.bot_messages()[-1].text


async def test_admin_commands_warn_unwarn_mute_unmute_kick_ban_unban_pardon(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await settle(console, app, "carl")
        msg, _ = await console.say("carl", "你们都是垃圾")
        await console.say("admin", "/warn 不文明发言", reply_to=msg)
        assert console.messages[msg].deleted
        notice = console.bot_messages()[-1].text
        assert "@carl" in notice and "不文明发言" in notice and "删除消息并警告" in notice
        await console.say("admin", "/mute @carl 2h 刷屏")
        assert console.is_muted("carl") and "禁言 2 小时" in console.bot_messages()[-1].text
        await console.say("admin", "/mute @carl forever")
        assert "时长「forever」无效" in console.bot_messages()[-1].text
        await console.say("admin", "/unmute @carl")
        assert not console.is_muted("carl")
        await console.say("admin", "/unwarn @carl")
        assert "剩余 1 次" in console.bot_messages()[-1].text
        await console.say("admin", "/pardon @carl")
        assert "清除 @carl 的 1 次" in console.bot_messages()[-1].text
        await console.say("admin", "/kick @carl 广告")
        assert not console.is_present("carl")
        await console.join("carl")
        await console.say("admin", "/ban @carl")
        assert console.member("carl").banned
        await console.say("admin", "/unban @carl")
        assert not console.member("carl").banned
        await console.join("carl")
        await console.say("carl", "/warn @admin")
        assert "只有管理员" in console.bot_messages()[-1].text
        await console.say("admin", "/kick @admin")
        assert "不能处罚管理员" in console.bot_messages()[-1].text
        await console.say("admin", "/warn @nobody")
        assert "找不到成员 @nobody" in console.bot_messages()[-1].text
        actions = [r.action for r in await audit_rows(app, console)]
        for action in ("warn", "mute", "unmute", "unwarn", "pardon", "kick", "ban", "unban"):
            assert action in actions, action


async def test_undo_lifts_a_mute_and_takes_the_strike_off_the_ladder(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {"ladder": ["mute:1d", "mute:7d", "kick"]}}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        await settle(console, app)
        await console.say("bob", "https://spam.xyz/a")
        assert console.is_muted("bob")
        mute = next(r for r in await audit_rows(app, console) if r.action == "mute")
        await console.say("admin", "/modlog")
        assert f"#{mute.id}" in console.bot_messages()[-1].text
        await console.say("admin", f"/undo {mute.id}")
        assert not console.is_muted("bob")
        assert f"已撤销 #{mute.id}" in console.bot_messages()[-1].text
        await console.say("admin", f"/undo {mute.id}")
        assert "已撤销过" in console.bot_messages()[-1].text
        # the undone strike no longer counts: the next violation is the first step again
        await console.say("bob", "https://spam.xyz/b")
        assert "禁言 1 天" in console.bot_messages()[-1].text
        rows = await audit_rows(app, console)
        assert next(r for r in rows if r.id == mute.id).undone_by == "console:admin"


async def test_rules_setrules_allow_block_and_report(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await settle(console, app)
        await console.say("bob", "/rules")
        assert "禁止广告" in console.bot_messages()[-1].text
        await console.say("admin", "/setrules 1. 友善交流 2. 不发广告")
        await console.say("bob", "/rules")
        assert console.bot_messages()[-1].text == "1. 友善交流 2. 不发广告"
        await console.say("admin", "/allow https://www.ourdocs.org/")
        ok, _ = await console.say("bob", "看文档 https://ourdocs.org/start")
        assert not console.messages[ok].deleted
        await console.say("admin", "/block 代写论文")
        bad, _ = await console.say("bob", "专业代写论文")
        assert console.messages[bad].deleted
        await console.say("admin", "/allow @bob")
        fine, _ = await console.say("bob", "https://anything.xyz")
        assert not console.messages[fine].deleted
        # a member reports a message; the admins get it with the text
        await settle(console, app, "dan")
        rude, _ = await console.say("dan", "你是个大笨蛋")
        await console.say("bob", "/report", reply_to=rude)
        assert any("举报了 @dan 的消息 #" + rude in t and "大笨蛋" in t for t in admin_dms(console))
        assert "已通知管理员" in console.bot_messages()[-1].text


async def test_notice_template_its_failure_and_auto_deletion(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {
        "notice_template": "【群规】{{ member }} · {{ rule }} · {{ penalty }}{% if strikes > 5 %}{{ 1 / 0 }}{% endif %}",
        "notice_delete_after": 120,
        "ladder": ["warn"],
    }}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        await settle(console, app)
        await console.say("bob", "https://spam.xyz/1")
        notice = console.bot_messages()[-1]
        assert notice.text == "【群规】@bob · 禁止发链接 · 删除消息并警告"
        app.clock.advance(seconds=60)
        await app.tick()
        assert not console.messages[notice.id].deleted
        app.clock.advance(seconds=61)
        await app.tick()
        assert console.messages[notice.id].deleted
        for i in range(5):  # the sixth strike makes the template divide by zero
            app.clock.advance(minutes=1)
            await console.say("bob", f"https://spam.xyz/{i + 2}")
        assert console.bot_messages()[-1].text.startswith("⚠️ @bob 违反群规「禁止发链接」")
        assert any("通知模板出错" in t and "ZeroDivisionError" in t for t in admin_dms(console))
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            assert await rules_repo.pending_notices(session, chat.id) == 5


async def test_a_newcomer_posting_a_link_is_removed_at_once(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await console.join("newbie")
        await console.say("newbie", "大家好 https://cheap-vpn.xyz")
        assert not console.is_present("newbie")
        assert "移出本群" in console.bot_messages()[-1].text


async def test_members_the_bot_never_saw_join_are_not_newcomers(sqlite_url, tmp_path):
    from bot.platforms.console import ConsoleMember

    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        console.chat().members["oldtimer"] = ConsoleMember(console.user("oldtimer"))  # there before the bot
        message_id, _ = await console.say("oldtimer", "https://cheap-vpn.xyz")
        assert console.messages[message_id].deleted and console.is_present("oldtimer")
        assert "删除消息并警告" in console.bot_messages()[-1].text
