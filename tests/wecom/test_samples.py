"""Tencent's own vectors and WeCom's documented callbacks through the real callback server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import xmltodict
from aiohttp import ClientSession

from bot.events import MemberJoined, MessageReceived
from storage import intake_repo, wecom_repo
from tests.support.fake_qyapi import FakeQyapi
from tests.wecom.conftest import member, wecom_app
from tests.wecom.test_callbacks import recorder
from tests.wecom.wire import VirtualTime, post_callback

SAMPLES = Path(__file__).parent / "samples"


@pytest.mark.parametrize("vector", ["tencent_vector_2014.json", "tencent_vector_2016.json"])
async def test_tencents_vector_verifies_the_url_and_decrypts_through_our_server(vector, sqlite_url, tmp_path):
    v = json.loads((SAMPLES / vector).read_text(encoding="utf-8"))
    plaintext = v["message"]["plaintext"]
    published = xmltodict.parse(plaintext)["xml"]
    sender = published["FromUserName"]
    fake = FakeQyapi(v["corp_id"], "sample-secret", clock=VirtualTime().monotonic, employees={"mycreate", "ChenJiaShun"})
    await fake.start()
    try:
        extra = {"wecom": {"corp_id": v["corp_id"], "token": v["token"], "encoding_aes_key": v["encoding_aes_key"],
                           "agent_id": v["message"]["agent_id"], "secret": "sample-secret"}}
        router, seen = recorder()
        async with wecom_app(sqlite_url, tmp_path, fake, VirtualTime(), routers=[router], extra=extra) as (app, wecom):
            async with ClientSession() as http:
                # The GET WeCom sends when the URL is saved, exactly as published.
                async with http.get(wecom.callback_url, params={k: v["verify_url"][k] for k in ("msg_signature", "timestamp", "nonce", "echostr")}) as r:
                    assert (r.status, await r.text()) == (200, v["verify_url"]["echo_plaintext"])
                query = {k: v["message"][k] for k in ("msg_signature", "timestamp", "nonce")}
                async with http.post(wecom.callback_url, params=query, data=v["message"]["body"].encode()) as r:
                    assert (r.status, await r.text()) == (200, "success")
                # One changed byte in the signature: refused.
                async with http.post(wecom.callback_url, params=query | {"msg_signature": "0" * 40}, data=v["message"]["body"].encode()) as r:
                    assert r.status == 403
            await wecom.drain()
            async with app.sessions() as session:
                assert await intake_repo.pending_updates(session, "wecom") == []
        # The decrypted content, as Tencent published it, reached the handlers.
        assert [(type(e), e.user.id, e.text, e.message_id) for e in seen] == [
            (MessageReceived, sender, published["Content"], published["MsgId"])
        ]
        assert published["Content"] in ("hello", "你好")
        assert [c.body["touser"] for c in fake.calls_to("message/send")] == [sender]
    finally:
        await fake.stop()


async def test_every_documented_callback_goes_through_the_server_cleanly(sqlite_url, tmp_path, qyapi, vt, caplog):
    chat_id = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    qyapi.group(chat_id, owner="zhangsan", name="文档示例群", members=[member("zhangsan", type=1, join_time=1400000000), member("Jack", join_time=1403610513)])
    qyapi.welcome_codes.add("WELCOMECODE")
    router, seen = recorder()
    extra = {"wecom": {"agent_id": 1, "robots": {chat_id: "robot-key-customer-group"}}}
    with caplog.at_level(logging.WARNING):
        async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[router], extra=extra) as (app, wecom):
            for name in ("text.xml", "enter_agent.xml", "change_external_contact_add_external_contact.xml",
                         "change_external_chat_add_member.xml", "change_external_chat_del_member.xml", "suite_ticket.xml"):
                if name == "change_external_chat_del_member.xml":
                    qyapi.groups[chat_id]["member_list"] = [m for m in qyapi.groups[chat_id]["member_list"] if m["userid"] != "Jack"]
                xml = (SAMPLES / name).read_text(encoding="utf-8")
                assert await post_callback(wecom.callback_url, xml) == (200, "success"), name
                await wecom.drain()
            async with app.sessions() as session:
                assert await intake_repo.pending_updates(session, "wecom") == []
                assert set(await wecom_repo.members(session, chat_id)) == {"zhangsan"}  # Jack left (del_member)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    kinds = [(type(e).__name__, e.chat.id, e.user.id) for e in seen]
    assert kinds == [
        ("MessageReceived", "user:fromUser", "fromUser"),
        ("MemberJoined", "user:FromUser", "FromUser"),
        ("MemberJoined", "contacts:zhangsan", "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w"),
        ("MemberJoined", chat_id, "Jack"),  # first seen on this update: joined at the event's time
    ]
    assert isinstance(seen[0], MessageReceived) and seen[0].text == "this is a test"
    assert isinstance(seen[3], MemberJoined)
