"""Updates in: the real python-telegram-bot Application against the fake Bot API over HTTP."""

from __future__ import annotations

import pytest

from bot.events import ChatMigrated, ChatRef, CommandInvoked, JoinRequested, MemberJoined, MemberLeft, MessageReceived
from storage import core_repo
from tests.support.fake_telegram import BOT_USERNAME
from tests.support.telegram_harness import running_telegram_app
from tests.telegram.probe import probe_router


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_message_in_reply_out(db_url, tmp_path, mode):
    probe = probe_router()
    async with running_telegram_app(db_url, str(tmp_path), mode=mode, routers=[probe]) as h:
        if mode == "webhook":
            hook = h.fake.webhook
            assert hook["url"] == h.webhook_url and hook["secret_token"] == "test-webhook-secret"
            assert "chat_member" in hook["allowed_updates"]
        sent = await h.command("alice", "/echo hello world")
        if mode == "polling":
            assert "chat_member" in h.fake.calls_to("getUpdates")[0].params["allowed_updates"]
        call = h.fake.last("sendMessage")
        assert call.params["chat_id"] == str(h.chat["id"])
        assert call.params["text"] == "echo: hello world"
        assert call.params["reply_parameters"]["message_id"] == sent.message_id
        assert h.bot_texts() == ["echo: hello world"]
        event = probe.of(CommandInvoked)[0]
        assert (event.name, event.args, event.user.username) == ("echo", ("hello", "world"), "alice")

        await h.send_text("bob", "just chatting")
        message = probe.of(MessageReceived)[0]
        assert message.text == "just chatting" and message.user.name == "bob"
        assert message.chat.key == f"telegram:{h.chat['id']}"
        assert len(h.fake.sent("sendMessage")) == 1  # nothing said to plain chatter


async def test_command_addressing(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        await h.command("alice", f"/echo@{BOT_USERNAME} one")
        await h.command("alice", "/ECHO two")
        await h.command("alice", "/echo@some_other_bot three")
        assert h.bot_texts() == ["echo: one", "echo: two"]
        # A command for another bot is an ordinary message to us.
        assert probe.of(MessageReceived)[0].text == "/echo@some_other_bot three"
        # In a DM, commands work too; plain DM chatter arrives marked private (group-only routers,
        # such as rules and points, never see it).
        await h.dm("carol", "/echo private")
        await h.dm("carol", "hello bot")
        assert h.fake.last("sendMessage").params["chat_id"] == str(h.user("carol")["id"])
        group, private = probe.of(MessageReceived)
        assert (group.text, group.chat.private) == ("/echo@some_other_bot three", False)
        assert (private.text, private.chat.private, private.chat.id) == ("hello bot", True, str(h.user("carol")["id"]))


async def test_captions_media_forwards_contacts(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        await h.send_photo("alice", b"\x89PNG real bytes", caption="look at this")
        await h.send_document("alice", b"%PDF-1.7 doc", file_name="price.pdf", caption="prices")
        await h.send_contact("alice", phone_number="+8613912345678", first_name="Wang")
        await h.forward("alice", "50% off today only")
        await h.send_text("bob", "what?", reply_to=1)
        photo, doc, contact, forward, reply = probe.of(MessageReceived)
        assert photo.text == "look at this" and photo.media[0].kind == "photo"
        assert photo.media[0].caption == "look at this"
        assert doc.text == "prices" and doc.media[0].kind == "document"
        assert doc.media[0].mime == "application/pdf" and doc.media[0].data["file_name"] == "price.pdf"
        assert contact.media[0].kind == "contact" and contact.media[0].data["phone_number"] == "+8613912345678"
        assert forward.forwarded_from == "@deals" and forward.text == "50% off today only"
        assert reply.reply_to == "1"
        # The handler downloaded the biggest photo size and the document via getFile.
        assert probe.downloads == [b"\x89PNG real bytes", b"%PDF-1.7 doc"]
        assert [c.params["file_id"] for c in h.fake.sent("getFile")][0].endswith("-m")


async def test_joins_and_leaves_are_not_doubled(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        # Telegram sends both a service message and a chat_member update for one join.
        await h.join("alice", source="both")
        assert len(probe.of(MemberJoined)) == 1
        await h.leave("alice", source="both")
        assert len(probe.of(MemberLeft)) == 1
        # Coming back is a new join; only one source (big groups hide service messages) is enough.
        await h.join("alice", source="chat_member")
        await h.join("bob", source="service", by="alice")
        joins = probe.of(MemberJoined)
        assert [j.user.name for j in joins] == ["alice", "alice", "bob"]
        assert joins[2].invited_by.name == "alice"
        # Removed by an admin: the remover is named.
        await h.leave("bob", by="owner")
        assert probe.of(MemberLeft)[-1].removed_by.name == "owner"
        # A restriction is not a leave.
        await h.deliver(h.fake.chat_member_update(h.chat, h.user("alice"), old="member", new="restricted", by=h.user("owner")))
        assert len(probe.of(MemberLeft)) == 2
        # The core keeps the roster from these events.
        async with h.app.sessions() as session:
            chat = await core_repo.get_chat(session, "telegram", str(h.chat["id"]))
            alice = await core_repo.get_member(session, chat.id, str(h.user("alice")["id"]))
            bob = await core_repo.get_member(session, chat.id, str(h.user("bob")["id"]))
        assert alice.left_at is None and bob.left_at is not None


async def test_join_requests(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        await h.request_join("alice", bio="a friend of Wang")
        await h.request_join("spammer", bio="crypto signals")
        requests = probe.of(JoinRequested)
        assert [(r.user.name, r.bio) for r in requests] == [("alice", "a friend of Wang"), ("spammer", "crypto signals")]
        assert h.fake.last("approveChatJoinRequest").params["user_id"] == str(h.user("alice")["id"])
        assert h.fake.last("declineChatJoinRequest").params["user_id"] == str(h.user("spammer")["id"])
        await h.join("alice", via_join_request=True)
        assert probe.of(MemberJoined)[0].via_join_request is True


async def test_supergroup_migration_keeps_data(db_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(db_url, str(tmp_path), routers=[probe]) as h:
        old = h.group(-4001, "Small group", type="group")
        await h.send_text("alice", "hello", chat=old)
        async with h.app.sessions() as session:
            before = await core_repo.get_chat(session, "telegram", "-4001")
        results = await h.migrate(-1004001, chat=old)
        migrations = probe.of(ChatMigrated)
        assert len(migrations) == 1, "both service messages describe one migration"
        assert (migrations[0].chat.id, migrations[0].new_chat.id) == ("-4001", "-1004001")
        assert not any(r.errors for r in results)
        new = h.fake.chats[-1004001]
        await h.send_text("alice", "hello again", chat=new)
        async with h.app.sessions() as session:
            after = await core_repo.get_chat(session, "telegram", "-1004001")
            assert await core_repo.get_chat(session, "telegram", "-4001") is None
            member = await core_repo.get_member(session, after.id, str(h.user("alice")["id"]))
        assert after.id == before.id and after.previous_external_id == "-4001"
        assert member is not None and member.joined_at is not None
        # Something still addressed to the old id (e.g. a stored schedule) reaches the new chat.
        h.fake.fail("sendMessage", 400, migrate_to_chat_id=-1004001, when=lambda p: p["chat_id"] == "-4001")
        sent = await h.platform.send(ChatRef("telegram", "-4001"), "still here")
        assert h.bot_texts(new) == ["still here"] and sent.chat.id == "-1004001"


async def test_each_groups_updates_are_handled_in_order(sqlite_url, tmp_path):
    import asyncio

    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        groups = [h.chat, h.group(-1002, "Second"), h.group(-1003, "Third")]
        updates = [h.fake.text_update(groups[i % 3], h.user(f"u{i % 5}"), f"message {i}") for i in range(60)]
        waiters = [h.platform.expect(u["update_id"]) for u in updates]
        await h.fake.push(*updates)  # one getUpdates batch, handled concurrently across groups
        await asyncio.wait_for(asyncio.gather(*waiters), 30)
        for group in groups:
            seen = [int(e.text.split()[1]) for e in probe.of(MessageReceived) if e.chat.id == str(group["id"])]
            assert seen == sorted(seen) and len(seen) == 20
