"""What WeCom does to sends in real traffic: a token it keeps refusing, texts over 2,048 bytes,
members named in robot posts, and answers that never come after a send went out."""

from __future__ import annotations

import logging

import pytest

from bot import wire
from bot.events import ChatRef, UserRef
from bot.platform import ActionFailed, ActionUncertain
from bot.platforms.wecom import split_text
from tests.wecom.conftest import APP_CHAT, CUSTOMER_2, CUSTOMER_GROUP, OWNER, ROBOT_KEY, member, wecom_app
from tests.wecom.wire import external_chat_xml, post_callback


async def test_a_token_wecom_keeps_refusing_is_refreshed_boundedly_and_recovers(sqlite_url, tmp_path, qyapi, vt, caplog):
    group = ChatRef("wecom", APP_CHAT)
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[], extra={"wecom": {"app_chats": [APP_CHAT]}}) as (app, wecom):
        await wecom.dm(UserRef("wecom", OWNER), "先拿到 token")
        assert qyapi.tokens_issued == 1
        qyapi.token_refused = 42001  # from now on every call: "access_token expired"
        failures = 0
        with caplog.at_level(logging.ERROR, logger="bot.platforms.wecom"):
            for n in range(40):  # four minutes of sends, six seconds apart (under the chat's pace)
                with pytest.raises(ActionFailed) as refused:
                    await wecom.send(group, f"第{n}条")
                assert not isinstance(refused.value, ActionUncertain)  # WeCom answered: nothing was sent
                failures += 1
                await vt.sleep(6.0)
            await wecom.drain()
        assert failures == 40
        assert qyapi.tokens_issued <= 10  # refreshed at most once per call, with a backoff between
        reports = [r for r in caplog.records if r.name == "bot.platforms.wecom" and "access token" in r.getMessage()]
        assert len(reports) == 1  # the operator is told once
        # The app chat's admins were told too (DMs cannot go out without a token either; the chat
        # has no robot, so they hear nothing there — but they were tried once, not 40 times).
        tries_to_tell = [c for c in qyapi.calls_to("message/send", ok_only=False) if "access_token" in c.body["text"]["content"]]
        assert len(tries_to_tell) <= 2
        # WeCom recovers (with a new token); after the backoff the next send works.
        qyapi.token_refused = None
        qyapi.token = "FAKE-TOKEN-2"
        await vt.sleep(300.0)
        await wecom.send(group, "恢复了")
        assert [c.body["text"]["content"] for c in qyapi.calls_to("appchat/send")][-1:] == ["恢复了"]
        assert qyapi.calls_to("appchat/send")[-1].query["access_token"] == "FAKE-TOKEN-2"


async def test_a_token_expired_once_is_refreshed_and_the_send_goes_out(sqlite_url, tmp_path, qyapi, vt):
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        await wecom.dm(UserRef("wecom", OWNER), "一")
        qyapi.token = "FAKE-TOKEN-2"  # the old one is now refused with 40014
        await wecom.dm(UserRef("wecom", OWNER), "二")
        sends = qyapi.calls_to("message/send", ok_only=False)
        assert [(c.errcode, c.body["text"]["content"]) for c in sends] == [(0, "一"), (40014, "二"), (0, "二")]
        assert qyapi.tokens_issued == 2


def test_split_text_keeps_lines_and_never_cuts_a_character():
    line = "群规第{}条：禁止发广告、禁止私加好友。\n"
    text = "".join(line.format(n) for n in range(200))
    pieces = split_text(text, 2048)
    assert len(pieces) > 1 and all(len(p.encode()) <= 2048 for p in pieces)
    assert "\n".join(pieces) + "\n" == text  # whole lines, in order, nothing lost
    long_line = "长" * 1500 + "🎉" * 10  # one line of 4,540 bytes
    pieces = split_text(long_line, 2048)
    assert all(len(p.encode()) <= 2048 for p in pieces) and "".join(pieces) == long_line
    assert split_text("short") == ["short"]


async def test_long_texts_are_split_for_message_send_appchat_and_robots(sqlite_url, tmp_path, qyapi, vt):
    text = "\n".join(f"第{n}名 积分 {n * 10}：恭喜恭喜恭喜恭喜恭喜" for n in range(150))  # ~6 KB
    assert len(text.encode()) > 2048 * 2
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[], extra={"wecom": {"app_chats": [APP_CHAT]}}) as (app, wecom):
        await wecom.dm(UserRef("wecom", OWNER), text)
        await wecom.send(ChatRef("wecom", APP_CHAT), text)
        await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), text)
        await wecom.drain()
        for calls in (qyapi.calls_to("message/send", ok_only=False), qyapi.calls_to("appchat/send", ok_only=False),
                      qyapi.robot_messages(ROBOT_KEY)):
            assert len(calls) >= 3 and all(c.errcode == 0 for c in calls)
            assert "\n".join(c.body["text"]["content"] for c in calls) == text


async def test_the_fake_refuses_what_wecom_refuses(sqlite_url, tmp_path, qyapi, vt):
    """The fake is as strict as WeCom: a text over 2,048 bytes sent as one is refused."""
    from aiohttp import ClientSession

    async with ClientSession() as http:
        url = f"{qyapi.base_url}webhook/send?key={ROBOT_KEY}"
        async with http.post(url, json={"msgtype": "text", "text": {"content": "字" * 683}}) as r:  # 2,049 bytes
            assert (await r.json())["errcode"] == 40058
        async with http.post(url, json={"msgtype": "markdown", "markdown": {"content": "字" * 1366}}) as r:
            assert (await r.json())["errcode"] == 40058
        async with http.get(f"{qyapi.base_url}gettoken", params={"corpid": qyapi.corp_id, "corpsecret": qyapi.secret}) as r:
            token = (await r.json())["access_token"]
        async with http.post(f"{qyapi.base_url}message/send", params={"access_token": token},
                             json={"touser": OWNER, "msgtype": "text", "agentid": 1, "text": {"content": "字" * 683}}) as r:
            assert (await r.json())["errcode"] == 45002


async def test_a_notice_naming_a_member_notifies_them_through_the_robot(sqlite_url, tmp_path, qyapi, vt):
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        user = UserRef("wecom", CUSTOMER_2, name="王女士")
        await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), f"{wecom.mention(user)} 请勿发广告。")
        await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), "大家好")  # nobody named, nobody notified
        posts = [p.body["text"] for p in qyapi.robot_messages(ROBOT_KEY)]
        assert posts == [{"content": "@王女士 请勿发广告。", "mentioned_list": [CUSTOMER_2]}, {"content": "大家好"}]
    # After a restart (a queued notice carried out by the next run) the name is known from the
    # member list WeCom gave with need_name=1.
    qyapi.groups[CUSTOMER_GROUP]["member_list"].append(member(CUSTOMER_2, name="王女士", join_time=1700000300))
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "create", create_time=1700000000))
        await wecom.drain()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), "@王女士 第二次警告")
        assert qyapi.robot_messages(ROBOT_KEY)[-1].body["text"]["mentioned_list"] == [CUSTOMER_2]


async def test_a_send_that_times_out_after_it_left_is_uncertain_and_not_repeated(sqlite_url, tmp_path, qyapi, vt):
    marks: list[str] = []

    async def hook() -> None:
        marks.append("left")

    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[], extra={"wecom": {"http_timeout": 0.3, "app_chats": [APP_CHAT]}}) as (app, wecom):
        await wecom.dm(UserRef("wecom", OWNER), "token first")
        for path, send in (
            ("message/send", lambda: wecom.dm(UserRef("wecom", OWNER), "慢")),
            ("appchat/send", lambda: wecom.send(ChatRef("wecom", APP_CHAT), "慢")),
            ("webhook/send", lambda: wecom.send(ChatRef("wecom", CUSTOMER_GROUP), "慢")),
        ):
            qyapi.delay_next[path] = [1.0]
            before = len(qyapi.calls_to(path, ok_only=False))
            token = wire.about_to_send.set(hook)
            try:
                with pytest.raises(ActionUncertain):
                    await send()
            finally:
                wire.about_to_send.reset(token)
            assert len(qyapi.calls_to(path, ok_only=False)) == before + 1  # it arrived once; no blind retry
        assert marks == ["left", "left", "left"]  # each marked right before it left


async def test_the_mark_comes_after_the_robots_pacing_wait(sqlite_url, tmp_path, qyapi, vt):
    """A post held by the 20-a-minute limit is marked when it leaves, not when it was queued."""
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        for n in range(20):
            await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), f"a{n}")
        marked_at: list[float] = []

        async def hook() -> None:
            marked_at.append(vt.now)

        token = wire.about_to_send.set(hook)
        try:
            await wecom.robot_pace.acquire(wecom._robot_url(CUSTOMER_GROUP))  # wait for the window like a sender would
            start = vt.now
            await wecom._robot_post(CUSTOMER_GROUP, {"msgtype": "text", "text": {"content": "late"}})
        finally:
            wire.about_to_send.reset(token)
        assert marked_at and marked_at[0] >= start
