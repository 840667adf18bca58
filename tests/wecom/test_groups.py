"""Customer groups: who joined and who left, found by comparing groupchat/get with the list seen
last; posting through the group's robot; the owner as the group's admin."""

from __future__ import annotations

from bot.dispatch import Router
from bot.events import ChatRef
from bot.platform import ActionFailed, Capability
from storage import wecom_repo
from tests.wecom.conftest import (
    APP_CHAT,
    CUSTOMER_1,
    CUSTOMER_2,
    CUSTOMER_GROUP,
    GROUP_ADMIN,
    OWNER,
    ROBOT_KEY,
    member,
    wecom_app,
)
from tests.wecom.wire import external_chat_xml, post_callback


def greeter():
    """Stands in for the onboarding feature: greets whoever joins, notes whoever leaves."""
    router = Router("greeter", 90)
    log: list = []

    @router.member_joined()
    async def greet(ctx):
        log.append(("joined", ctx.chat.id, ctx.user.id, ctx.event.invited_by.id if ctx.event.invited_by else None))
        await ctx.send(f"欢迎 {ctx.mention()} 加入 {ctx.chat.title}!")

    @router.member_left()
    async def bye(ctx):
        log.append(("left", ctx.chat.id, ctx.user.id, ctx.event.removed_by.id if ctx.event.removed_by else None))

    return router, log


async def test_a_customer_joining_is_welcomed_through_the_groups_robot(db_url, tmp_path, qyapi, vt):
    router, log = greeter()
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "create", create_time=1700000000))
        await wecom.drain()
        assert log == []  # members of a new group did not "join"
        qyapi.groups[CUSTOMER_GROUP]["member_list"].append(member(CUSTOMER_2, name="王女士", join_time=1700000300, invitor=OWNER))
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "update", "add_member", create_time=1700000300))
        await wecom.drain()
        assert log == [("joined", CUSTOMER_GROUP, CUSTOMER_2, OWNER)]
        posts = qyapi.robot_messages(ROBOT_KEY)
        # The name comes from groupchat/get with need_name=1 (without it WeCom sends no names), and
        # the robot names the member in mentioned_list so WeCom notifies them.
        assert [p.body for p in posts] == [
            {"msgtype": "text", "text": {"content": "欢迎 @王女士 加入 VIP 客户群!", "mentioned_list": [CUSTOMER_2]}}
        ]
        assert [c.body["need_name"] for c in qyapi.calls_to("externalcontact/groupchat/get")] == [1, 1]
        # The join is in the member table too (what stats and onboarding read).
        async with app.sessions() as session:
            from storage import core_repo

            chat = await core_repo.get_chat(session, "wecom", CUSTOMER_GROUP)
            row = await core_repo.get_member(session, chat.id, CUSTOMER_2)
            assert row.status == "active" and row.display_name == "王女士"


async def test_members_who_left_are_found_by_the_diff(db_url, tmp_path, qyapi, vt):
    router, log = greeter()
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "create", create_time=1700000000))
        await wecom.drain()
        qyapi.groups[CUSTOMER_GROUP]["member_list"] = [m for m in qyapi.groups[CUSTOMER_GROUP]["member_list"] if m["userid"] != CUSTOMER_1]
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "update", "del_member", quit_scene="1", create_time=1700000400))
        await wecom.drain()
        assert log == [("left", CUSTOMER_GROUP, CUSTOMER_1, OWNER)]  # quit scene 1: removed by the owner
        async with app.sessions() as session:
            assert set(await wecom_repo.members(session, CUSTOMER_GROUP)) == {OWNER}


async def test_a_group_first_seen_on_an_update_only_counts_todays_joiners(sqlite_url, tmp_path, qyapi, vt):
    """No earlier member list: the members whose join time is this event's are the new ones."""
    router, log = greeter()
    qyapi.groups[CUSTOMER_GROUP]["member_list"].append(member(CUSTOMER_2, join_time=1700009000))
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "update", "add_member", create_time=1700009001))
        await wecom.drain()
        assert log == [("joined", CUSTOMER_GROUP, CUSTOMER_2, None)]


async def test_the_owner_and_group_admins_are_the_customer_groups_admins(sqlite_url, tmp_path, qyapi, vt):
    router, _ = greeter()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        group = ChatRef("wecom", CUSTOMER_GROUP)
        assert await wecom.admin_ids(group) == {OWNER, GROUP_ADMIN}
        assert await wecom.admin_ids(ChatRef("wecom", APP_CHAT)) == {"boss"}
        assert await wecom.admin_ids(ChatRef("wecom", f"user:{OWNER}")) == set()
        # What WeCom allows, chat by chat.
        assert wecom.can_in(ChatRef("wecom", APP_CHAT), Capability.KICK)
        assert not wecom.can_in(group, Capability.KICK)
        assert wecom.can_in(group, Capability.SEND)  # it has a robot
        assert not wecom.can(Capability.DELETE) and not wecom.can(Capability.RESTRICT) and not wecom.can(Capability.BAN)
        assert not wecom.can(Capability.KICK)  # not in every chat: only where can_in says so
        assert not wecom.can_in(ChatRef("wecom", APP_CHAT), Capability.KICK | Capability.DELETE)
        # A group with neither robot nor app: sending is refused, naming the config key.
        qyapi.group("wrNoRobotGroup", owner=OWNER)
        lonely = ChatRef("wecom", "wrNoRobotGroup")
        assert not wecom.can_in(lonely, Capability.SEND)
        try:
            await wecom.send(lonely, "hello")
        except ActionFailed as exc:
            assert exc.reason == "no_rights" and exc.right == '[wecom] robots."wrNoRobotGroup"'
        else:
            raise AssertionError("send into a group without a robot must fail loudly")


async def test_a_dismissed_group_forgets_its_members(sqlite_url, tmp_path, qyapi, vt):
    router, log = greeter()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "create", create_time=1700000000))
        await post_callback(wecom.callback_url, external_chat_xml(CUSTOMER_GROUP, "dismiss", create_time=1700000600))
        await wecom.drain()
        async with app.sessions() as session:
            chat = await wecom_repo.get_chat(session, CUSTOMER_GROUP)
            assert chat.dismissed and await wecom_repo.members(session, CUSTOMER_GROUP) == {}
        assert log == []


async def test_photos_go_inline_through_robots_and_uploaded_into_app_chats(sqlite_url, tmp_path, qyapi, vt):
    import base64
    import hashlib

    png = b"\x89PNG\r\n\x1a\n" + b"chart-bytes" * 50
    router, _ = greeter()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        await wecom.send_photo(ChatRef("wecom", CUSTOMER_GROUP), png, caption="本周活跃度")
        posts = [p.body for p in qyapi.robot_messages(ROBOT_KEY)]
        assert posts[0] == {"msgtype": "text", "text": {"content": "本周活跃度"}}
        assert posts[1]["msgtype"] == "image"
        assert base64.b64decode(posts[1]["image"]["base64"]) == png and posts[1]["image"]["md5"] == hashlib.md5(png).hexdigest()

        await wecom.send_photo(ChatRef("wecom", APP_CHAT), png)  # never seen before: WeCom is asked what it is
        uploads = qyapi.calls_to("media/upload")
        assert len(uploads) == 1 and uploads[0].body["media"] == png
        sent = qyapi.calls_to("appchat/send")
        assert [(c.body["chatid"], c.body["msgtype"], c.body["image"]["media_id"]) for c in sent] == [(APP_CHAT, "image", "MEDIA1")]
        assert not wecom.can_in(ChatRef("wecom", "wrNoRobot"), Capability.SEND_PHOTO)
