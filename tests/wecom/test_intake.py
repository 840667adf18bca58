"""The durable intake on WeCom's callback URL: stored before answered, 503 when it cannot be
stored (WeCom sends it again), handled once, and what a previous run stored is handled at start."""

from __future__ import annotations

from sqlalchemy import text

from storage import intake_repo
from tests.wecom.conftest import CUSTOMER_GROUP, OWNER, wecom_app
from tests.wecom.test_callbacks import recorder
from tests.wecom.wire import aibot_text, external_chat_xml, post_aibot, post_callback, text_xml


async def test_a_callback_the_database_cannot_store_is_answered_503_and_taken_when_sent_again(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        async with app.engine.begin() as conn:  # the inbox cannot be written (as with a broken disk)
            await conn.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
        status, _ = await post_callback(wecom.callback_url, text_xml(OWNER, "稍后再试", 8001))
        assert status == 503
        status, _ = await post_aibot(wecom.aibot_url, aibot_text("aib-503", CUSTOMER_GROUP, OWNER, "@bot /top"))
        assert status == 503
        await wecom.drain()
        assert seen == [] and qyapi.calls_to("message/send") == []
        async with app.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
        # WeCom's retry: taken now, once.
        for _ in range(2):
            assert await post_callback(wecom.callback_url, text_xml(OWNER, "稍后再试", 8001)) == (200, "success")
        await wecom.drain()
        assert [e.text for e in seen] == ["稍后再试"]
        assert [c.body["text"]["content"] for c in qyapi.calls_to("message/send")] == ["got: 稍后再试"]


async def test_what_a_previous_run_stored_and_did_not_handle_is_handled_at_start(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        # The process died right after storing (and answering) this one.
        stored = await app.intake.receive("wecom", "msg:8002", {"kind": "app", "xml": text_xml(OWNER, "重启前收到", 8002)})
        assert stored is not None
    assert seen == []
    router2, seen2 = recorder()
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router2]) as (app, wecom):
        await wecom.drain()
        assert [e.text for e in seen2] == ["重启前收到"]
        async with app.sessions() as session:
            assert await intake_repo.pending_updates(session, "wecom") == []
        # WeCom's own retry of it afterwards is recognised.
        await post_callback(wecom.callback_url, text_xml(OWNER, "重启前收到", 8002))
        await wecom.drain()
        assert len(seen2) == 1


async def test_an_event_redelivered_has_the_same_key_and_a_different_event_another(sqlite_url, tmp_path, qyapi, vt):
    from bot.platforms.wecom import WecomPlatform
    import xmltodict

    def key(xml: str) -> str:
        return WecomPlatform._key_of(xmltodict.parse(xml)["xml"])

    a = external_chat_xml(CUSTOMER_GROUP, "update", "add_member", create_time=1700000500)
    assert key(a) == key(a)
    assert key(a) != key(external_chat_xml(CUSTOMER_GROUP, "update", "del_member", create_time=1700000500))
    assert key(a) != key(external_chat_xml(CUSTOMER_GROUP, "update", "add_member", create_time=1700000501))
    assert key(text_xml(OWNER, "x", 42)) == "msg:42"


async def test_a_third_party_suite_callback_is_answered_success_and_ignored(sqlite_url, tmp_path, qyapi, vt):
    router, seen = recorder()
    suite_ticket = (
        "<xml><SuiteId><![CDATA[ww4asffe99e54c0fxxxx]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType>"
        "<TimeStamp>1403610513</TimeStamp><SuiteTicket><![CDATA[asdfasfdasdfasdf]]></SuiteTicket></xml>"
    )
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        assert await post_callback(wecom.callback_url, suite_ticket) == (200, "success")
        await wecom.drain()
        assert seen == [] and qyapi.calls == []
        async with app.sessions() as session:
            assert await intake_repo.pending_updates(session, "wecom") == []


async def test_a_suite_callback_encrypted_for_the_suite_is_answered_success_too(sqlite_url, tmp_path, qyapi, vt):
    """A suite's callbacks are encrypted with the SuiteId as receive id, not the corp id."""
    router, seen = recorder()
    suite_ticket = (
        "<xml><SuiteId><![CDATA[ww4asffe99e54c0fxxxx]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType>"
        "<TimeStamp>1403610513</TimeStamp><SuiteTicket><![CDATA[asdfasfdasdfasdf]]></SuiteTicket></xml>"
    )
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router]) as (app, wecom):
        assert await post_callback(wecom.callback_url, suite_ticket, corp="ww4asffe99e54c0fxxxx") == (200, "success")
        # An ordinary message encrypted for another corp is still refused.
        status, _ = await post_callback(wecom.callback_url, text_xml(OWNER, "x", 8100), corp="ww4asffe99e54c0fxxxx")
        assert status == 403
        await wecom.drain()
        assert seen == [] and qyapi.calls == []
