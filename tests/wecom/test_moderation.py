"""An ad posted with @bot: removed where WeCom allows it (groups the app created), otherwise the
owner is told by DM, with the evidence, and the audit log records it."""

from __future__ import annotations

from bot.dispatch import Router
from bot.events import ChatRef, UserRef
from bot.platform import Capability
from storage import core_repo
from tests.wecom.conftest import APP_CHAT, CUSTOMER_1, CUSTOMER_GROUP, GROUP_ADMIN, OWNER, ROBOT_KEY, wecom_app
from tests.wecom.wire import aibot_text, post_aibot

AD = "@群主助手 低价代购名牌包，加V: abc12345 私聊"


def keyword_rules():
    """Stands in for the rules feature (handlers/rules): removes on a keyword where the platform
    can, else asks the admins — exactly the choice the real router makes with ctx.can(KICK)."""
    router = Router("test-rules", 100)

    @router.message(filter=lambda ctx: "加V" in ctx.text)
    async def ad(ctx):
        if ctx.can(Capability.KICK):
            await ctx.platform.kick(ctx.chat, ctx.user)
            await ctx.send(f"{ctx.mention()} 因发广告被移出群聊。")
            await ctx.audit("kick", target=ctx.user, rule="ads", evidence=ctx.text)
        else:
            await ctx.notify_admins(f"请将 {ctx.mention()} 移出 {ctx.chat.id}（广告）。证据：{ctx.text}")
            await ctx.audit("kick_requested", target=ctx.user, rule="ads", evidence=ctx.text)
        ctx.stop()

    return router


async def test_ad_in_an_app_chat_removes_the_member_and_posts_a_notice(db_url, tmp_path, qyapi, vt):
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[keyword_rules()]) as (app, wecom):
        status, _ = await post_aibot(wecom.aibot_url, aibot_text("ad-1", APP_CHAT, "wangwu", AD))
        assert status == 200
        await wecom.drain()
        updates = qyapi.calls_to("appchat/update")
        assert [(u.body["chatid"], u.body["del_user_list"]) for u in updates] == [(APP_CHAT, ["wangwu"])]
        assert "wangwu" not in qyapi.app_chats[APP_CHAT]["userlist"]
        notices = [c.body["text"]["content"] for c in qyapi.calls_to("appchat/send")]
        assert notices == ["@wangwu 因发广告被移出群聊。"]
        assert qyapi.calls_to("message/send") == []
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "wecom", APP_CHAT)
            entries = await core_repo.audit_entries(session, chat.id)
            assert [(e.action, e.target_user_id, e.rule) for e in entries] == [("kick", "wangwu", "ads")]


async def test_ad_in_a_customer_group_is_sent_to_the_owner_with_the_evidence(db_url, tmp_path, qyapi, vt):
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[keyword_rules()]) as (app, wecom):
        await post_aibot(wecom.aibot_url, aibot_text("ad-2", CUSTOMER_GROUP, CUSTOMER_1, AD))
        await wecom.drain()
        assert qyapi.calls_to("appchat/update") == []  # WeCom has no way to remove a customer
        dms = {c.body["touser"]: c.body["text"]["content"] for c in qyapi.calls_to("message/send")}
        assert set(dms) == {OWNER, GROUP_ADMIN}
        assert "加V: abc12345" in dms[OWNER] and CUSTOMER_GROUP in dms[OWNER]
        assert qyapi.robot_messages(ROBOT_KEY) == []  # the DMs arrived: nothing said in the group
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "wecom", CUSTOMER_GROUP)
            entries = await core_repo.audit_entries(session, chat.id)
            assert [(e.action, e.target_user_id, e.evidence) for e in entries] == [("kick_requested", CUSTOMER_1, "低价代购名牌包，加V: abc12345 私聊")]


async def test_kick_in_a_customer_group_is_refused_loudly(sqlite_url, tmp_path, qyapi, vt):
    from bot.platform import CapabilityMissing

    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[keyword_rules()]) as (app, wecom):
        await wecom.admin_ids(ChatRef("wecom", CUSTOMER_GROUP))  # learn the group's kind
        try:
            await wecom.kick(ChatRef("wecom", CUSTOMER_GROUP), UserRef("wecom", CUSTOMER_1))
        except CapabilityMissing as exc:
            assert exc.capability == Capability.KICK and "owner" in str(exc)
        else:
            raise AssertionError("kick in a customer group must raise CapabilityMissing")
        assert qyapi.calls_to("appchat/update") == []


async def test_a_reply_with_no_robot_uses_the_bots_response_url_once(sqlite_url, tmp_path, qyapi, vt):
    """A customer group without a robot key: the 智能机器人's response_url (one use, 1 h) carries
    the notice."""
    qyapi.group("wrNoRobotGroup", owner=OWNER, members=[])
    router = Router("echo", 10)

    @router.message()
    async def echo(ctx):
        await ctx.send("收到")

    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_aibot(wecom.aibot_url, aibot_text("r-1", "wrNoRobotGroup", CUSTOMER_1, "@群主助手 在吗", response_url=qyapi.response_url("abc")))
        await wecom.drain()
        replies = qyapi.calls_to("aibot/response")
        assert [(r.query["id"], r.body["markdown"]["content"]) for r in replies] == [("abc", "收到")]
        assert not wecom.can_in(ChatRef("wecom", "wrNoRobotGroup"), Capability.SEND)  # used up
