"""A customer adds an employee: the welcome goes out with WeCom's one-time WelcomeCode (20 s)."""

from __future__ import annotations


from bot.clock import FakeClock
from bot.dispatch import Router
from bot.events import ChatRef
from bot.platform import ActionFailed, Capability, CapabilityMissing
from tests.support.harness import START
from tests.wecom.conftest import CUSTOMER_2, OWNER, wecom_app
from tests.wecom.wire import external_contact_xml, post_callback


def welcomer(log: list):
    router = Router("welcomer", 90)

    @router.member_joined()
    async def hello(ctx):
        log.append((ctx.chat.id, ctx.user.id, ctx.can(Capability.SEND)))
        await ctx.send("您好，我是您的专属顾问，有问题随时找我。")

    @router.member_left()
    async def gone(ctx):
        log.append(("left", ctx.chat.id, ctx.user.id))

    return router


async def test_a_new_contact_gets_the_welcome_through_send_welcome_msg(db_url, tmp_path, qyapi, vt):
    log: list = []
    qyapi.welcome_codes.add("WELCOME-CODE-1")
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[welcomer(log)]) as (app, wecom):
        await post_callback(wecom.callback_url, external_contact_xml(OWNER, CUSTOMER_2, welcome_code="WELCOME-CODE-1"))
        await wecom.drain()
        assert log == [(f"contacts:{OWNER}", CUSTOMER_2, True)]
        sent = qyapi.calls_to("externalcontact/send_welcome_msg")
        assert [c.body for c in sent] == [{"welcome_code": "WELCOME-CODE-1", "text": {"content": "您好，我是您的专属顾问，有问题随时找我。"}}]
        # After the event, the window is closed: the app has no other way to write to a customer.
        chat = ChatRef("wecom", f"contacts:{OWNER}")
        assert not wecom.can_in(chat, Capability.SEND)
        try:
            await wecom.send(chat, "later")
        except ActionFailed as exc:
            assert exc.reason == "dm_blocked"
        else:
            raise AssertionError("no welcome window, no message")
        assert await wecom.admin_ids(chat) == {OWNER}
        # The customer deleting the employee is a leave.
        await post_callback(wecom.callback_url, external_contact_xml(OWNER, CUSTOMER_2, change="del_follow_user"))
        await wecom.drain()
        assert log[-1] == ("left", f"contacts:{OWNER}", CUSTOMER_2)


async def test_no_welcome_code_no_welcome(sqlite_url, tmp_path, qyapi, vt):
    """WeCom sends no WelcomeCode when the admin console already has a welcome for the employee."""
    log: list = []
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[welcomer(log)]) as (app, wecom):
        await post_callback(wecom.callback_url, external_contact_xml(OWNER, CUSTOMER_2))
        await wecom.drain()
        assert log == [(f"contacts:{OWNER}", CUSTOMER_2, False)]
        assert qyapi.calls_to("externalcontact/send_welcome_msg") == []


async def test_a_welcome_code_expires_after_20_seconds(sqlite_url, tmp_path, qyapi, vt):
    """A handler that takes longer than WeCom's 20 s gets a clear refusal instead of a silent loss
    (at once, when it queues the send: the window is closed)."""
    clock = FakeClock(START)
    log: list = []
    router = Router("slow", 90)

    @router.member_joined()
    async def slow(ctx):
        clock.advance(seconds=21)
        try:
            await ctx.send("too late")
        except CapabilityMissing:
            log.append("no window")

    qyapi.welcome_codes.add("CODE-SLOW")
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router], clock=clock) as (app, wecom):
        await post_callback(wecom.callback_url, external_contact_xml(OWNER, CUSTOMER_2, welcome_code="CODE-SLOW"))
        await wecom.drain()
    assert log == ["no window"]
    assert qyapi.calls_to("externalcontact/send_welcome_msg") == []


async def test_with_the_real_features_a_new_contact_gets_a_welcome_not_the_questionnaire(sqlite_url, tmp_path, qyapi, vt):
    """The onboarding feature greets a customer who added an employee; it does not tell them they
    cannot post until they answer (there is no group to post in)."""
    from bot.i18n import t

    qyapi.welcome_codes.add("WELCOME-REAL")
    extra = {"defaults": {"onboarding": {"questions": [{"id": "src", "text": "您从哪里了解到我们？", "kind": "text"}]}}}
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, extra=extra) as (app, wecom):
        await post_callback(wecom.callback_url, external_contact_xml(OWNER, CUSTOMER_2, welcome_code="WELCOME-REAL"))
        await wecom.drain()
    sent = [c.body["text"]["content"] for c in qyapi.calls_to("externalcontact/send_welcome_msg")]
    assert sent == [t("zh-CN", "onboarding.contact_welcome")]
    assert "不能发言" not in sent[0]
