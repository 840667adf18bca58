"""The WeCom adapter under the real feature routers (handlers/rules, handlers/onboarding), not
stand-ins: what an operator sees when an ad is posted or a customer joins."""

from __future__ import annotations

from storage import core_repo
from tests.wecom.conftest import APP_CHAT, CUSTOMER_1, CUSTOMER_2, CUSTOMER_GROUP, GROUP_ADMIN, OWNER, ROBOT_KEY, member, wecom_app
from tests.wecom.wire import aibot_text, external_chat_xml, post_aibot, post_callback

AD = "@群主助手 低价代购名牌包，加V: abc12345 私聊"
# The operator's choice for these groups: contact solicitation and ads mean removal at once.
KICK_ADS = {"defaults": {"rules": {"actions": {"contact": "kick", "ads": "kick"}}}}


async def audit_of(app, chat_id: str):
    async with app.sessions() as session:
        chat = await core_repo.get_chat(session, "wecom", chat_id)
        return await core_repo.audit_entries(session, chat.id)


async def test_rules_remove_an_advertiser_from_an_app_chat_and_say_why(db_url, tmp_path, qyapi, vt):
    async with wecom_app(db_url, tmp_path, qyapi, vt, extra=KICK_ADS) as (app, wecom):
        await post_aibot(wecom.aibot_url, aibot_text("ad-real-1", APP_CHAT, "wangwu", AD))
        await wecom.drain()
        assert [(c.body["chatid"], c.body["del_user_list"]) for c in qyapi.calls_to("appchat/update")] == [(APP_CHAT, ["wangwu"])]
        notices = [c.body["text"]["content"] for c in qyapi.calls_to("appchat/send")]
        assert len(notices) == 1 and "@wangwu" in notices[0]
        # WeCom cannot delete the message itself: the chat's owner is asked to, by DM.
        assert {c.body["touser"] for c in qyapi.calls_to("message/send")} == {"boss"}
        assert [(e.action, e.target_user_id) for e in await audit_of(app, APP_CHAT)] == [("kick", "wangwu")]


async def test_rules_in_a_customer_group_send_the_owner_the_evidence(db_url, tmp_path, qyapi, vt):
    async with wecom_app(db_url, tmp_path, qyapi, vt, extra=KICK_ADS) as (app, wecom):
        await post_aibot(wecom.aibot_url, aibot_text("ad-real-2", CUSTOMER_GROUP, CUSTOMER_1, AD))
        await wecom.drain()
        assert qyapi.calls_to("appchat/update") == []
        dms = [(c.body["touser"], c.body["text"]["content"]) for c in qyapi.calls_to("message/send")]
        assert {to for to, _ in dms} == {OWNER, GROUP_ADMIN}
        assert any(to == OWNER and "abc12345" in text and CUSTOMER_1 in text for to, text in dms)  # the evidence
        entries = await audit_of(app, CUSTOMER_GROUP)
        assert [(e.action, e.target_user_id) for e in entries] == [("kick_requested", CUSTOMER_1)]
        assert "abc12345" in entries[0].details["text"]
        # The group hears through its robot that the owner was asked.
        assert len(qyapi.robot_messages(ROBOT_KEY)) == 1


async def test_onboarding_welcomes_a_customer_through_the_robot(db_url, tmp_path, qyapi, vt):
    extra = {"defaults": {"onboarding": {"welcome": {"value": "每周三晚8点答疑", "rules": "禁止广告、私加好友"}}}}
    async with wecom_app(db_url, tmp_path, qyapi, vt, extra=extra) as (app, wecom):
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "create", create_time=1700000000))
        await wecom.drain()
        qyapi.groups[CUSTOMER_GROUP]["member_list"].append(member(CUSTOMER_2, name="王女士", join_time=1700000300))
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "update", "add_member", create_time=1700000300))
        await wecom.drain()
        welcome = [c.body["text"]["content"] for c in qyapi.robot_messages(ROBOT_KEY)]
        assert len(welcome) == 1 and "@王女士" in welcome[0] and "每周三晚8点答疑" in welcome[0] and "VIP 客户群" in welcome[0]


async def test_a_column_fans_out_through_each_groups_robot_and_the_app_chat(sqlite_url, tmp_path, qyapi, vt):
    from bot.clock import FakeClock
    from tests.support.harness import START
    from tests.wecom.conftest import APP_CHAT_ROBOT

    qyapi.group("wrSecondGroup", owner=OWNER)
    clock = FakeClock(START)  # Monday 09:00 in Shanghai
    extra = {
        "wecom": {"robots": {CUSTOMER_GROUP: ROBOT_KEY, "wrSecondGroup": APP_CHAT_ROBOT}, "app_chats": [APP_CHAT]},
        "columns": {"column": {"zaobao": {"source": "morning", "times": ["09:05"], "lines": ["早安，今天也要加油"],
                                          "groups": [f"wecom:{CUSTOMER_GROUP}", "wecom:wrSecondGroup", f"wecom:{APP_CHAT}"]}}},
    }
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, extra=extra, clock=clock) as (app, wecom):
        clock.advance(minutes=6)
        await app.tick()
        await app.tick()  # a second wake-up posts nothing twice
        first = [c.body["text"]["content"] for c in qyapi.robot_messages(ROBOT_KEY)]
        second = [c.body["text"]["content"] for c in qyapi.robot_messages(APP_CHAT_ROBOT)]
        app_chat = [c.body["text"]["content"] for c in qyapi.calls_to("appchat/send")]
        assert len(first) == len(second) == len(app_chat) == 1
        assert all("早安，今天也要加油" in text for text in first + second + app_chat)
