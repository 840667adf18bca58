"""The callback server: URL verification, signatures, corp id, acknowledgement, redeliveries."""

from __future__ import annotations

from bot.dispatch import Router
from bot.events import CommandInvoked, MemberJoined, MessageReceived
from tests.wecom.conftest import APP_CHAT, CUSTOMER_GROUP, OWNER, wecom_app
from tests.wecom.wire import (
    AIBOT_AES_KEY,
    AIBOT_TOKEN,
    aibot_text,
    enter_agent_xml,
    external_chat_xml,
    post_aibot,
    post_callback,
    text_xml,
    verify_url,
)


def recorder():
    """A router that notes every event and answers texts and commands, as a feature would."""
    router = Router("recorder", 10)
    seen: list = []

    @router.on(MessageReceived, CommandInvoked, MemberJoined)
    async def note(ctx):
        seen.append(ctx.event)
        if isinstance(ctx.event, MessageReceived):
            await ctx.reply(f"got: {ctx.text}")
        elif isinstance(ctx.event, CommandInvoked):
            await ctx.reply(f"command {ctx.event.name} {' '.join(ctx.event.args)}")

    return router, seen


async def test_url_verification_answers_the_echo_and_refuses_a_wrong_signature(sqlite_url, tmp_path, qyapi, vt):
    router, _ = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        assert await verify_url(wecom.callback_url, "echo-12345") == (200, "echo-12345")
        status, _ = await verify_url(wecom.callback_url, "echo-12345", bad_signature=True)
        assert status == 403
        status, _ = await verify_url(wecom.callback_url, "echo-12345", receive_id="wwsomebodyelse")
        assert status == 403
        # The 智能机器人 has its own URL, token and key, and an empty receive id.
        assert await verify_url(wecom.aibot_url, "bot-echo", token=AIBOT_TOKEN, key=AIBOT_AES_KEY, receive_id="") == (200, "bot-echo")


async def test_an_employee_text_reaches_the_handlers_and_the_answer_goes_out_by_message_send(db_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        status, body = await post_callback(wecom.callback_url, text_xml(OWNER, "你好", 7001))
        assert (status, body) == (200, "success")
        await wecom.drain()
        assert [type(e) for e in seen] == [MessageReceived]
        assert seen[0].chat.id == f"user:{OWNER}" and seen[0].user.id == OWNER and seen[0].text == "你好"
        assert len(qyapi.calls_to("gettoken")) == 1  # the token URL follows api_base_url
        sends = qyapi.calls_to("message/send")
        assert [(c.body["touser"], c.body["text"]["content"], c.body["agentid"]) for c in sends] == [(OWNER, "got: 你好", 1000002)]


async def test_a_slash_text_is_a_command(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, text_xml(OWNER, "/stats 7d", 7002))
        await wecom.drain()
        assert isinstance(seen[0], CommandInvoked) and (seen[0].name, seen[0].args) == ("stats", ("7d",))
        assert qyapi.calls_to("message/send")[0].body["text"]["content"] == "command stats 7d"


async def test_wrong_signature_is_refused_and_nothing_is_handled(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        status, _ = await post_callback(wecom.callback_url, text_xml(OWNER, "forged", 7003), bad_signature=True)
        assert status == 403
        status, _ = await post_callback(wecom.callback_url, text_xml(OWNER, "forged", 7004), token="not-our-token")
        assert status == 403
        status, _ = await post_aibot(wecom.aibot_url, aibot_text("m1", CUSTOMER_GROUP, OWNER, "@bot hi"), bad_signature=True)
        assert status == 403
        await wecom.drain()
        assert seen == []
        assert qyapi.calls == []


async def test_a_message_encrypted_for_another_corp_is_rejected(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        status, body = await post_callback(wecom.callback_url, text_xml(OWNER, "other corp", 7005), corp="wwanothercorp")
        assert status == 403 and "corp" in body
        await wecom.drain()
        assert seen == [] and qyapi.calls == []


async def test_a_garbled_body_is_a_bad_request(sqlite_url, tmp_path, qyapi, vt):
    from aiohttp import ClientSession

    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        async with ClientSession() as http:
            async with http.post(wecom.callback_url, params={"msg_signature": "x", "timestamp": "1", "nonce": "n"}, data=b"not xml") as r:
                assert r.status == 400
        assert seen == []


async def test_a_redelivered_message_is_handled_once(db_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        for _ in range(3):  # WeCom retries when it got no answer in 5 s
            assert (await post_callback(wecom.callback_url, text_xml(OWNER, "once", 7006)))[0] == 200
        await wecom.drain()
        assert len(seen) == 1
        assert len(qyapi.calls_to("message/send")) == 1
    # A redelivery after a restart (the in-memory list is gone) is still recognised.
    router2, seen2 = recorder()
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[router2]) as (app, wecom):
        await post_callback(wecom.callback_url, text_xml(OWNER, "once", 7006))
        await wecom.drain()
        assert seen2 == []


async def test_a_redelivered_group_event_is_handled_once_even_after_a_restart(db_url, tmp_path, qyapi, vt):
    from tests.wecom.conftest import CUSTOMER_2, member

    router, seen = recorder()
    event = external_chat_xml(CUSTOMER_GROUP, "update", "add_member", create_time=1700000500)
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "create", create_time=1700000000))
        await wecom.drain()
        qyapi.groups[CUSTOMER_GROUP]["member_list"].append(member(CUSTOMER_2, join_time=1700000500))
        await post_callback(wecom.callback_url, event)
        await post_callback(wecom.callback_url, event)
        await wecom.drain()
        assert [e.user.id for e in seen if isinstance(e, MemberJoined)] == [CUSTOMER_2]
        reads = len(qyapi.calls_to("externalcontact/groupchat/get"))
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, event)
        await wecom.drain()
    assert len(qyapi.calls_to("externalcontact/groupchat/get")) == reads  # not even looked at again
    assert [e.user.id for e in seen if isinstance(e, MemberJoined)] == [CUSTOMER_2]


async def test_a_message_for_another_app_is_ignored(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, text_xml(OWNER, "for agent 9", 7007, agent=9))
        await wecom.drain()
        assert seen == []


async def test_opening_the_app_the_first_time_is_a_join_of_the_dm_chat(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, enter_agent_xml(OWNER, 1700000001))
        await post_callback(wecom.callback_url, enter_agent_xml(OWNER, 1700000999))  # a later visit
        await wecom.drain()
        joins = [e for e in seen if isinstance(e, MemberJoined)]
        assert [(e.chat.id, e.user.id) for e in joins] == [(f"user:{OWNER}", OWNER)]


async def test_aibot_group_message_reaches_handlers_without_the_mention(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        status, _ = await post_aibot(wecom.aibot_url, aibot_text("aib-1", APP_CHAT, "wangwu", "@群主助手 今天几点开会"))
        assert status == 200
        await wecom.drain()
        assert [(e.chat.id, e.user.id, e.text) for e in seen] == [(APP_CHAT, "wangwu", "今天几点开会")]
        # The answer goes into the app chat; the chat was recognised as one the app created.
        assert [c.body["text"]["content"] for c in qyapi.calls_to("appchat/send")] == ["got: 今天几点开会"]
        assert wecom.kind(APP_CHAT) == "app"
        # A command addressed to the bot.
        await post_aibot(wecom.aibot_url, aibot_text("aib-2", APP_CHAT, "boss", "@群主助手 /top 5"))
        await post_aibot(wecom.aibot_url, aibot_text("aib-2", APP_CHAT, "boss", "@群主助手 /top 5"))  # retried
        await wecom.drain()
        commands = [e for e in seen if isinstance(e, CommandInvoked)]
        assert [(c.name, c.args) for c in commands] == [("top", ("5",))]


async def test_the_app_builds_and_runs_the_platform_from_the_config_alone(sqlite_url, tmp_path, qyapi):
    """`qunzhu run` path: App.build_platforms() makes the WecomPlatform from [wecom]."""
    from bot.app import App
    from tests.support.harness import make_config
    from tests.wecom.conftest import wecom_config

    app = App(make_config(sqlite_url, str(tmp_path), wecom_config(qyapi)), run_scheduler=False, routers=[])
    app.build_platforms()
    assert set(app.platforms) == {"wecom"}
    async with app:
        wecom = app.platforms["wecom"]
        assert await verify_url(wecom.callback_url, "hello-from-wecom") == (200, "hello-from-wecom")
