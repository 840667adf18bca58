"""End to end on the console platform: the real App, real routers, real SQLite and PostgreSQL."""

from datetime import timedelta
import io

import qrcode

from storage import core_repo
from tests.support.harness import running_app

AD = "加我薇信 abc12345 日赚500，车队接料"


async def audit_rows(app, console):
    async with app.sessions() as session:
        chat = await core_repo.get_chat(session, "console", console.default_chat.id)
        return list(reversed(await core_repo.audit_entries(session, chat.id)))


async def test_ad_then_repeat_then_removal_with_public_notices(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path)) as (app, console):
        await console.join("spammer")
        for text in ("大家好", "今天天气真好", "晚上吃什么"):
            await console.say("spammer", text)  # past the newcomer window
            app.clock.advance(minutes=1)
        # 1st: deleted + warned, with a public notice naming the rule
        first, result = await console.say("spammer", AD)
        assert console.messages[first].deleted
        notice = console.bot_messages()[-1].text
        assert "@spammer" in notice and "删除消息并警告" in notice and "禁止私加好友" in notice
        assert result.stopped_by == "rules"
        # 2nd: muted for a day
        app.clock.advance(minutes=5)
        second, _ = await console.say("spammer", "联系QQ 123456789 有意私聊")
        assert console.messages[second].deleted and console.is_muted("spammer")
        assert "禁言 1 天" in console.bot_messages()[-1].text
        # muted members cannot post; after the mute they can, and the ladder goes on: 7d, 15d, removal
        app.clock.advance(days=1, minutes=1)
        for wanted, days in (("禁言 7 天", 7), ("禁言 15 天", 15)):
            await console.say("spammer", "https://spam.example.xyz/buy 点击加入")
            assert wanted in console.bot_messages()[-1].text
            app.clock.advance(days=days, minutes=1)
        await console.say("spammer", "t.me/+AbCdEf123 进群领福利")
        assert not console.is_present("spammer")
        last = console.bot_messages()[-1].text
        assert "移出本群" in last and "禁止拉人进其他群" in last and "@spammer" in last
        rows = await audit_rows(app, console)
        actions = [r.action for r in rows]
        assert actions.count("delete") == 5
        assert "warn" in actions and "mute" in actions and "kick" in actions
        kick = next(r for r in rows if r.action == "kick")
        assert kick.actor == "bot" and kick.rule == "invite" and "t.me/+abcdef123" in kick.evidence
        await app.flush_figures()  # figures are batched in memory until a tick
        async with app.sessions() as session:
            from storage.metrics import counters

            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            figures = await counters(session, chat.id, app.clock.now().date() - timedelta(days=60),
                                     app.clock.now().date() + timedelta(days=1), "violations")
        assert sum(f.value for f in figures) == 5


async def test_everyday_chat_passes(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {"allowed_domains": ["example.com"]}}}
    everyday = [
        "这件衣服 ¥129.00，打完折 99 元",
        "明天 2026-03-05 下午 3 点开会",
        "我的订单号 202603021234567890 还没发货",
        "今天又要加班到十点",
        "网络不好，视频一直卡",
        "官网文档在 https://docs.example.com/guide 可以看看",
        "明天10点在3号楼见",
        "周末一起去爬山吗？",
        "这个价格1,299挺划算的",
        "我们在二楼，电梯出来左转",
    ]
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        await console.join("alice")
        for text in everyday:
            message_id, result = await console.say("alice", text)
            app.clock.advance(seconds=20)
            assert not console.messages[message_id].deleted, text
            assert result.stopped_by is None, text
        assert console.bot_messages() == []


async def test_admins_and_allowlisted_members_are_exempt(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {"exempt": ["partner"]}}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        for name in ("admin", "partner"):
            message_id, _ = await console.say(name, "官方群 https://t.me/+official123 欢迎加入")
            assert not console.messages[message_id].deleted
        message_id, _ = await console.say("bob", "官方群 https://t.me/+official123 欢迎加入")
        assert console.messages[message_id].deleted


def qr_png(content: str) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(content).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_qr_code_of_a_foreign_link_gets_the_member_removed(db_url, tmp_path):
    config = {"defaults": {"rules": {"allowed_domains": ["ourshop.com"]}}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await console.join("carol")
        await console.join("dave")
        ok, _ = await console.post_photo("carol", qr_png("https://ourshop.com/item/42"), caption="店里新品")
        assert not console.messages[ok].deleted and console.is_present("carol")
        bad, _ = await console.post_photo("dave", qr_png("https://scam-deals.xyz/join?id=9"))
        assert console.messages[bad].deleted
        assert not console.is_present("dave")
        notice = console.bot_messages()[-1].text
        assert "@dave" in notice and "二维码" in notice and "移出本群" in notice
        rows = await audit_rows(app, console)
        kick = next(r for r in rows if r.action == "kick")
        assert "scam-deals.xyz" in kick.evidence


async def test_a_corrupt_image_is_logged_and_skipped(sqlite_url, tmp_path, caplog):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await console.join("erin")
        message_id, result = await console.post_photo("erin", b"\x89PNG\r\n\x1a\n not really a png", caption="看看这张图")
        assert result.errors == []
        assert not console.messages[message_id].deleted and console.is_present("erin")
        assert any("skipped image" in r.getMessage() for r in caplog.records)


async def test_flood_and_repeats_are_caught(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {"flood_messages": 5, "flood_seconds": 10, "repeat_count": 3}}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        await console.join("frank")
        ids = []
        for i in range(5):
            message_id, _ = await console.say("frank", f"第{i}条")
            ids.append(message_id)
            app.clock.advance(seconds=1)
        assert [console.messages[i].deleted for i in ids] == [False] * 4 + [True]
        assert "禁止刷屏" in console.bot_messages()[-1].text
        app.clock.advance(minutes=5)
        await console.join("grace")
        ids = []
        for _ in range(3):
            message_id, _ = await console.say("grace", "有人吗")
            ids.append(message_id)
            app.clock.advance(seconds=30)
        assert [console.messages[i].deleted for i in ids] == [False, False, True]
        assert "禁止重复发送" in console.bot_messages()[-1].text


async def test_an_edit_is_judged_again_and_earns_nothing(db_url, tmp_path):
    from handlers.points import service

    async with running_app(db_url, str(tmp_path)) as (app, console):
        await console.join("sly")
        for text in ("大家好呀", "今天天气真好", "晚上吃什么好呢"):
            await console.say("sly", text)  # past the newcomer window
            app.clock.advance(minutes=1)
        harmless, _ = await console.say("sly", "周末有人一起去爬山吗")
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            member = await core_repo.get_member(session, chat.id, "sly")
            before = await service.balance(session, chat_id=chat.id, member_id=member.id)
        assert before > 0, "points are on: the messages themselves earned"
        # an edit that stays harmless: no points for it, nothing deleted
        await console.edit_own("sly", harmless, "周末有人一起去爬山吗？八点出发")
        assert not console.messages[harmless].deleted
        # the same message edited into an ad: deleted, warned in public, audited as an edit
        result = await console.edit_own("sly", harmless, "周末爬山 加我薇信 abc12345 日赚500")
        assert result.stopped_by == "rules"
        assert console.messages[harmless].deleted
        assert "@sly" in console.bot_messages()[-1].text and "禁止私加好友" in console.bot_messages()[-1].text
        async with app.sessions() as session:
            assert await service.balance(session, chat_id=chat.id, member_id=member.id) == before
        warn = next(r for r in await audit_rows(app, console) if r.action == "warn")
        assert warn.details["edited"] is True and "abc12345" in warn.evidence
