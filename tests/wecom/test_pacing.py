"""Group robots take at most 20 messages a minute: a column fanned out to a group is paced, and a
45009 (too frequent) answer is waited out and retried, never dropped."""

from __future__ import annotations

from bot.events import ChatRef
from bot.platform import ActionFailed
from tests.wecom.conftest import CUSTOMER_GROUP, ROBOT_KEY, wecom_app


def max_in_any_minute(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    return max((sum(1 for t in stamps if s <= t < s + 60.0) for s in stamps), default=0)


async def test_a_burst_of_30_robot_messages_is_paced_to_20_a_minute(sqlite_url, tmp_path, qyapi, vt):
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        group = ChatRef("wecom", CUSTOMER_GROUP)
        start = vt.now
        for n in range(30):
            await wecom.send(group, f"早报 第{n + 1}条")
        # The sender was not held for a minute (it may be inside a database transaction): the
        # ten over the limit wait in a queue, in order.
        assert vt.now == start and len(qyapi.robot_messages(ROBOT_KEY)) == 20
        await wecom.drain()
        posts = qyapi.robot_messages(ROBOT_KEY)
        assert [p.body["text"]["content"] for p in posts] == [f"早报 第{n + 1}条" for n in range(30)]
        assert qyapi.calls_to("webhook/send", ok_only=False) == posts  # WeCom never had to refuse one
        assert max_in_any_minute([p.at for p in posts]) == 20
        assert vt.now - start >= 60.0  # the last ten waited for the window to roll


async def test_robots_are_paced_each_on_their_own(sqlite_url, tmp_path, qyapi, vt):
    from tests.wecom.conftest import APP_CHAT_ROBOT

    qyapi.group("wrSecondGroup", owner="zhangsan")
    extra = {"wecom": {"robots": {CUSTOMER_GROUP: ROBOT_KEY, "wrSecondGroup": APP_CHAT_ROBOT}}}
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[], extra=extra) as (app, wecom):
        for n in range(20):
            await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), f"a{n}")  # the first robot's minute is full
        start = vt.now
        for n in range(20):
            await wecom.send(ChatRef("wecom", "wrSecondGroup"), f"b{n}")
        assert vt.now == start  # the second robot did not wait for the first one's minute
        assert len(qyapi.robot_messages(APP_CHAT_ROBOT)) == 20


async def test_errcode_45009_is_obeyed_not_dropped(sqlite_url, tmp_path, qyapi, vt):
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        qyapi.fail_next["webhook/send"] = [45009, 45009]
        await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), "晚报")
        tried = qyapi.calls_to("webhook/send", ok_only=False)
        assert [c.errcode for c in tried] == [45009, 45009, 0]
        assert tried[-1].body["text"]["content"] == "晚报"
        assert tried[1].at - tried[0].at >= 30 and tried[2].at - tried[1].at >= 30  # waited as configured
        # When WeCom keeps refusing, the sender hears about it (ActionFailed), after the retries.
        qyapi.fail_next["webhook/send"] = [45009] * 10
        try:
            await wecom.send(ChatRef("wecom", CUSTOMER_GROUP), "still refused")
        except ActionFailed as exc:
            assert "45009" in str(exc) or "limit" in str(exc)
        else:
            raise AssertionError("a send WeCom kept refusing must fail loudly")


async def test_app_api_45009_is_retried_too(sqlite_url, tmp_path, qyapi, vt):
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        from bot.events import UserRef

        qyapi.fail_next["message/send"] = [45009]
        await wecom.dm(UserRef("wecom", "zhangsan"), "提醒")
        assert [c.errcode for c in qyapi.calls_to("message/send", ok_only=False)] == [45009, 0]
        assert vt.slept and vt.slept[-1] == 30


async def test_a_burst_of_admin_dms_is_queued_in_order_not_dropped(sqlite_url, tmp_path, qyapi, vt):
    """35 notices to one owner in a minute (a spam raid): 30 go at once (WeCom's per-member
    limit), the rest follow when the minute has rolled over, in order."""
    from bot.events import UserRef

    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[]) as (app, wecom):
        for n in range(35):
            await wecom.dm(UserRef("wecom", "zhangsan"), f"通知 {n}")
        assert len(qyapi.calls_to("message/send")) == 30
        await wecom.drain()
        sent = qyapi.calls_to("message/send")
        assert [c.body["text"]["content"] for c in sent] == [f"通知 {n}" for n in range(35)]
        assert max_in_any_minute([c.at for c in sent]) == 30
