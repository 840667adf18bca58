"""Flood limits, server errors, missing admin rights and forged webhook calls."""

from __future__ import annotations

import asyncio

from bot.events import ChatRef, MessageReceived
from bot.platform import ActionFailed
from tests.support.telegram_harness import running_telegram_app
from tests.telegram.probe import probe_router


async def test_429_retry_after_is_obeyed_and_the_message_delivered_once(db_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(db_url, str(tmp_path), routers=[probe]) as h:
        h.fake.fail("sendMessage", 429, retry_after=1)
        await h.command("alice", "/echo hi")
        attempts = h.fake.calls_to("sendMessage")
        assert [c.status for c in attempts] == [429, 200]
        assert attempts[1].at - attempts[0].at >= 1.0, "the bot came back before retry_after"
        assert h.bot_texts() == ["echo: hi"]


async def test_server_errors_are_retried_with_backoff(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        h.fake.fail("sendMessage", 500)
        await h.command("alice", "/echo one")
        assert [c.status for c in h.fake.calls_to("sendMessage")] == [500, 200]
        h.fake.fail("sendMessage", 502, times=2)
        h.fake.fail("restrictChatMember", 500)
        await h.command("alice", "/echo two")
        assert h.bot_texts() == ["echo: one", "echo: two"]
        spam = await h.send_text("spammer", "hello")
        await h.command("owner", "/mute", reply_to=spam.message_id)
        assert [c.status for c in h.fake.calls_to("restrictChatMember")] == [500, 200]
        assert h.fake.member_status(h.chat["id"], h.user("spammer")["id"]) == "restricted"


async def test_a_lasting_outage_ends_in_a_clear_failure(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), {"telegram": {"retry_attempts": 2}}, routers=[]) as h:
        h.fake.fail("sendMessage", 500, times=10)
        try:
            await h.platform.send(h.chat_ref, "hello")
        except ActionFailed as exc:
            assert exc.reason == "other" and "3 attempts" in exc.detail
        else:
            raise AssertionError("a send that never got through must not pass as sent")
        assert len(h.fake.calls_to("sendMessage")) == 3 and h.bot_texts() == []


async def test_missing_rights_are_reported_to_the_admins_once(db_url, tmp_path):
    probe = probe_router()
    config = {"defaults": {"language": "en"}}
    async with running_telegram_app(db_url, str(tmp_path), config, routers=[probe]) as h:
        h.set_admins("owner", "helper")
        h.fake.block_dms(h.user("helper")["id"])
        h.fake.bot_rights[h.chat["id"]] = {"can_delete_messages": False, "can_restrict_members": False}
        owner_id = str(h.user("owner")["id"])

        await h.send_text("spammer", "buy spam now")
        await h.send_text("spammer", "more spam")
        first = await h.send_text("spammer", "and spam again")
        await h.command("owner", "/mute", reply_to=first.message_id)
        await h.command("owner", "/mute", reply_to=first.message_id)

        assert [(f.reason, f.right) for f in probe.failures] == [
            ("no_rights", "can_delete_messages")] * 3 + [("no_rights", "can_restrict_members")] * 2
        assert all(f.admins_told for f in probe.failures)
        dms = [c.params["text"] for c in h.fake.sent("sendMessage") if c.params["chat_id"] == owner_id]
        assert len(dms) == 2, dms
        assert '"Delete messages"' in dms[0] and "Test group" in dms[0]
        assert '"Ban users"' in dms[1]
        assert h.bot_texts() == [], "the owner got a DM, so nothing is said in the group"

        # An admin gives the bot its rights back, and later someone takes them away again:
        # that is news again.
        await h.deliver(h.fake.my_chat_member_update(h.chat, old="administrator", new="administrator"))
        await h.send_text("spammer", "spam after the change")
        dms = [c.params["text"] for c in h.fake.sent("sendMessage") if c.params["chat_id"] == owner_id]
        assert len(dms) == 3


async def test_missing_rights_said_in_the_group_when_no_admin_takes_dms(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:  # group language: zh-CN
        h.set_admins("owner")
        h.fake.block_dms(h.user("owner")["id"])
        h.fake.bot_rights[h.chat["id"]] = {"can_delete_messages": False}
        await h.send_text("spammer", "spam 1")
        await h.send_text("spammer", "spam 2")
        texts = h.bot_texts()
        assert len(texts) == 1 and "删除消息" in texts[0]


async def test_webhook_with_a_wrong_secret_is_rejected(db_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(db_url, str(tmp_path), mode="webhook", routers=[probe]) as h:
        forged = h.fake.command_update(h.chat, h.user("mallory"), "/echo forged")
        assert await h.post_webhook(forged, secret="wrong") == 403
        assert await h.post_webhook(h.fake.command_update(h.chat, h.user("mallory"), "/echo none"), secret="") == 403
        # Nothing was processed: a genuine update afterwards is the first one handled.
        await h.command("alice", "/echo genuine")
        assert h.platform.updates_handled == 1
        assert h.bot_texts() == ["echo: genuine"]
        assert [e.user.name for e in probe.events] == ["alice"]


async def test_a_redelivered_update_is_handled_once(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), mode="webhook", routers=[probe]) as h:
        update = h.fake.text_update(h.chat, h.user("alice"), "spam, twice?")
        first = await h.deliver(update)
        again = await h.deliver(update)  # Telegram re-sends when it did not see our 200 in time
        assert first and not first[0].duplicate
        assert not again or again[0].duplicate  # skipped by the adapter, or by the dispatcher's de-dupe
        assert len(probe.of(MessageReceived)) == 1
        assert len(h.fake.sent("deleteMessage")) == 1
        command = h.fake.command_update(h.chat, h.user("alice"), "/echo once")
        await h.deliver(command)
        await h.deliver(command)
        assert h.bot_texts() == ["echo: once"]


async def test_outgoing_pace_per_group(sqlite_url, tmp_path):
    config = {"telegram": {"per_group_per_minute": 2, "per_bot_per_second": 30}}
    async with running_telegram_app(sqlite_url, str(tmp_path), config, routers=[]) as h:
        limiter = h.platform.limiter
        assert (limiter.rate, limiter.per, limiter.overall_rate, limiter.overall_per) == (2, 60.0, 30, 1.0)
        # Let the limiter run on virtual time, so a minute's wait costs nothing.
        now, waits = [1000.0], []

        async def virtual_sleep(seconds):
            waits.append(seconds)
            now[0] += seconds

        limiter._monotonic, limiter._sleep = (lambda: now[0]), virtual_sleep
        other = h.group(-1002, "Other")
        other_ref = ChatRef("telegram", "-1002", "Other")
        await h.platform.send(h.chat_ref, "one")
        await h.platform.send(h.chat_ref, "two")
        await h.platform.send(other_ref, "elsewhere")  # another group is not held up by this group's limit
        assert sum(waits) < 1.0, waits  # (at most the per-bot spacing)
        before = len(waits)
        await h.platform.send(h.chat_ref, "three")  # the third in a minute waits for the first to age out
        assert 55.0 < sum(waits[before:]) <= 60.0, waits
        assert h.bot_texts() == ["one", "two", "three"] and h.bot_texts(other) == ["elsewhere"]


async def test_a_wrong_token_is_named_at_start_and_an_unreachable_server_is_waited_for(sqlite_url, tmp_path, caplog):
    import logging

    import pytest

    from tests.support.telegram_harness import free_port

    with pytest.raises(RuntimeError, match=r"\[telegram\] token: .* refused it"):
        async with running_telegram_app(sqlite_url, str(tmp_path), {"telegram": {"token": "222:WRONG"}}, routers=[]):
            pass
    # Nothing listens: start keeps trying getMe with backoff (1 s, 2 s …), one WARNING per attempt naming
    # [telegram] base_url, instead of giving up (tests/core/test_ops_logging.py has the whole run).
    caplog.set_level(logging.WARNING)
    nobody = f"http://127.0.0.1:{free_port()}/bot"

    async def start():
        async with running_telegram_app(sqlite_url, str(tmp_path), {"telegram": {"base_url": nobody}}, routers=[]):
            pass

    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(start(), 3.5)
    said = [r.getMessage() for r in caplog.records if "for getMe" in r.getMessage()]
    assert len(said) >= 2 and "attempt 1 failed" in said[0] and "attempt 2 failed" in said[1], said
    assert all("[telegram] base_url" in line for line in said)
