"""Real group traffic on Telegram: forum topics, links the text does not show, text mentions, posts in
the name of a channel, basic groups and channels, and the limits Telegram enforces on what the bot sends.
The real python-telegram-bot against the fake Bot API over HTTP (which refuses what Telegram refuses)."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest

from bot.events import ButtonPressed, ChatRef, CommandInvoked, MessageEdited, MessageReceived, UserRef
from bot.platform import ActionFailed, Button, Capability
from tests.support.fake_telegram import SUPERGROUPS_AND_CHANNELS_ONLY, SUPERGROUPS_ONLY, THREAD_NOT_FOUND
from tests.support.telegram_harness import running_telegram_app
from tests.telegram.probe import probe_router

INVITE = "https://t.me/+AbCdEf123"


def _user(h, name: str, **kw) -> UserRef:
    u = h.user(name, **kw)
    return UserRef("telegram", str(u["id"]), name=u["first_name"], username=u.get("username"))


async def test_in_a_forum_topic_the_bots_notices_and_replies_stay_in_the_topic(sqlite_url, tmp_path):
    config = {"defaults": {"language": "en", "points": {"activity_points": 0}}}
    async with running_telegram_app(sqlite_url, str(tmp_path), config) as h:
        forum = h.fake.forum(topics={4: "Deals", 9: "Help"})
        spammer = h.user("spammer", username="deals_spammer")
        for text in ("hi all", "nice group", "good morning"):
            await h.deliver(h.fake.text_update(forum, spammer, text, thread_id=4))
            h.app.clock.advance(minutes=1)

        ad = h.fake.text_update(forum, spammer, "加我薇信 abc12345 日赚500，车队接料", thread_id=4)
        await h.deliver(ad)
        assert str(ad["message"]["message_id"]) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        notice = h.fake.last("sendMessage").params
        assert "@deals_spammer" in notice["text"] and "warning" in notice["text"]
        assert notice["chat_id"] == str(forum["id"]) and notice["message_thread_id"] == "4"
        assert h.fake.texts(forum["id"])[-1] == notice["text"]

        await h.deliver(h.fake.command_update(forum, h.user("alice"), "/checkin", thread_id=9))
        reply = h.fake.last("sendMessage").params
        assert "checked in" in reply["text"] and reply["message_thread_id"] == "9"

        # The General topic (no thread id) and an ordinary group: no message_thread_id at all.
        await h.deliver(h.fake.command_update(forum, h.user("bob"), "/checkin"))
        assert "message_thread_id" not in h.fake.last("sendMessage").params
        await h.command("carol", "/checkin")
        assert "message_thread_id" not in h.fake.last("sendMessage").params


async def test_topic_ids_reach_events_and_buttons_pressed_in_a_topic(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        forum = h.fake.forum()
        await h.deliver(h.fake.text_update(forum, h.user("alice"), "hello topic", thread_id=4))
        await h.deliver(h.fake.command_update(forum, h.user("alice"), "/echo hi", thread_id=4))
        message, = probe.of(MessageReceived)
        command, = probe.of(CommandInvoked)
        assert message.thread_id == "4" and command.thread_id == "4"
        assert message.reply_to is None, "a topic's messages do not reply to the topic's first message"
        assert h.fake.last("sendMessage").params["message_thread_id"] == "4"

        forum_ref = ChatRef("telegram", str(forum["id"]))
        sent = await h.platform.send(forum_ref, "vote", buttons=[[Button("Yes", "vote:yes")]], thread_id="4")
        await h.press("bob", sent.message_id, "vote:yes", chat=forum)
        assert probe.of(ButtonPressed)[0].thread_id == "4"

        await h.deliver(h.fake.text_update(forum, h.user("alice"), "in general"))
        assert probe.of(MessageReceived)[-1].thread_id is None


async def test_links_the_text_does_not_show_are_on_the_event(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        alice = h.user("alice")
        # 「点这里」 hides an invite link; the emoji before the visible URL shifts UTF-16 offsets by 2.
        text = "👉 点这里 and 🎁 https://spam.example.xyz/buy"
        url_at = len("👉 点这里 and 🎁 ".encode("utf-16-le")) // 2
        await h.deliver(h.fake.text_update(h.chat, alice, text, entities=[
            {"type": "text_link", "offset": 3, "length": 3, "url": INVITE},
            {"type": "url", "offset": url_at, "length": len("https://spam.example.xyz/buy")},
        ]))
        first = probe.of(MessageReceived)[0]
        assert first.text == text and first.links == (INVITE, "https://spam.example.xyz/buy")

        # A caption's hidden link.
        await h.deliver(h.fake.photo_update(h.chat, alice, caption="看图 点这里", caption_entities=[
            {"type": "text_link", "offset": 3, "length": 3, "url": INVITE}]))
        assert probe.of(MessageReceived)[1].links == (INVITE,)

        # An inline bot's message: no link in the text, all of them in its buttons.
        helper = {"id": 555001, "is_bot": True, "first_name": "Promo", "username": "promo_inline_bot"}
        markup = {"inline_keyboard": [
            [{"text": "Join", "url": INVITE}],
            [{"text": "Log in", "login_url": {"url": "https://login.example.com/a"}},
             {"text": "Open", "web_app": {"url": "https://app.example.com/w"}}],
            [{"text": "ok", "callback_data": "x"}],
        ]}
        await h.deliver(h.fake.text_update(h.chat, alice, "free gifts", reply_markup=markup, via_bot=helper))
        inline = probe.of(MessageReceived)[2]
        assert inline.via_bot == "promo_inline_bot"
        assert inline.links == (INVITE, "https://login.example.com/a", "https://app.example.com/w")

        # A mention carrying a user who has no username.
        bob = h.user("bob", username=None)
        await h.deliver(h.fake.text_update(h.chat, alice, "hey bob", entities=[
            {"type": "text_mention", "offset": 4, "length": 3, "user": bob}]))
        mentioned = probe.of(MessageReceived)[3].mentioned
        assert [(u.id, u.name, u.username) for u in mentioned] == [(str(bob["id"]), "bob", None)]

        # An edit that hides a link under old words is seen too.
        plain = h.fake.text_update(h.chat, alice, "harmless")
        await h.deliver(plain)
        edit = h.fake.edited_text_update(h.chat, alice, plain["message"]["message_id"], "点这里")
        edit["edited_message"]["entities"] = [{"type": "text_link", "offset": 0, "length": 3, "url": INVITE}]
        await h.deliver(edit)
        assert probe.of(MessageEdited)[0].links == (INVITE,)


async def test_posts_in_the_name_of_a_channel_and_of_the_group(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        channel = h.fake.channel(-1002000000042, "Deals Channel", "deals")
        await h.deliver(h.fake.sender_chat_update(h.chat, channel, "buy now"))
        post = probe.of(MessageReceived)[0]
        assert post.sender_chat is not None and post.sender_chat.id == str(channel["id"])
        assert post.sender_chat.kind == "channel" and post.sender_chat.is_channel
        assert post.user.id == str(channel["id"]) and post.chat.kind == "supergroup"

        # An anonymous admin posting as the group: as before, the group is the sender, not a foreign chat.
        await h.deliver(h.fake.sender_chat_update(h.chat, h.chat, "admin speaking"))
        anon = probe.of(MessageReceived)[1]
        assert anon.sender_chat is None and anon.user.id == str(h.chat["id"])

        # The linked channel's own post, forwarded automatically into its discussion group: skipped.
        await h.deliver(h.fake.sender_chat_update(h.chat, channel, "channel post", is_automatic_forward=True))
        assert len(probe.of(MessageReceived)) == 2

        # The channel cannot be muted or removed like a person: refused without asking Telegram …
        assert h.platform.can(Capability.BAN_SENDER_CHAT)
        for action in (lambda: h.platform.restrict(h.chat_ref, post.user, None),
                       lambda: h.platform.ban(h.chat_ref, post.user),
                       lambda: h.platform.kick(h.chat_ref, post.user)):
            with pytest.raises(ActionFailed) as failed:
                await action()
            assert failed.value.reason == "other"
        assert not h.fake.calls_to("restrictChatMember") and not h.fake.calls_to("banChatMember")
        # … it is kept out with banChatSenderChat.
        await h.platform.ban_sender_chat(h.chat_ref, post.sender_chat)
        assert (h.chat["id"], channel["id"]) in h.fake.banned_sender_chats
        assert h.fake.last("banChatSenderChat").params == {"chat_id": str(h.chat["id"]), "sender_chat_id": str(channel["id"])}
        await h.platform.unban_sender_chat(h.chat_ref, post.sender_chat)
        assert (h.chat["id"], channel["id"]) not in h.fake.banned_sender_chats


async def test_basic_groups_and_channels_offer_what_telegram_allows_there(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        basic = h.fake.basic_group()
        await h.deliver(h.fake.text_update(basic, h.user("alice"), "hello"))
        event = probe.of(MessageReceived)[0]
        assert event.chat.kind == "group"
        stored = ChatRef("telegram", str(basic["id"]))  # a ref rebuilt from a stored id: the adapter remembers
        assert not h.platform.can_in(stored, Capability.RESTRICT)
        assert not h.platform.can_in(event.chat, Capability.RESTRICT)
        assert h.platform.can_in(stored, Capability.DELETE) and h.platform.can_in(stored, Capability.KICK)
        assert h.platform.can_in(h.chat_ref, Capability.RESTRICT), "a supergroup restricts"

        channel = ChatRef("telegram", "-1002000000001", kind="channel")
        for capability in (Capability.RESTRICT, Capability.KICK, Capability.BAN, Capability.UNBAN, Capability.JOIN_REQUESTS):
            assert not h.platform.can_in(channel, capability), capability
        for capability in (Capability.SEND, Capability.EDIT, Capability.DELETE):
            assert h.platform.can_in(channel, capability), capability

        # A kick from a basic group is the ban alone: Telegram has no unban there (nobody is kept out).
        alice = _user(h, "alice")
        await h.platform.kick(stored, alice)
        assert h.fake.sent("banChatMember") and not h.fake.calls_to("unbanChatMember")


async def test_the_fake_refuses_what_telegram_refuses(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[]) as h:
        alice = _user(h, "alice")
        basic = ChatRef("telegram", str(h.fake.basic_group()["id"]))  # kind not known to the adapter yet
        channel = ChatRef("telegram", str(h.fake.channel()["id"]))
        for chat in (basic, channel):
            with pytest.raises(ActionFailed):
                await h.platform.restrict(chat, alice, None)
            assert h.fake.calls_to("restrictChatMember")[-1].description == SUPERGROUPS_ONLY

        # A topic in a chat that is no forum, and a topic the forum does not have.
        forum = ChatRef("telegram", str(h.fake.forum(topics={4: "Deals"})["id"]))
        for chat, topic in ((h.chat_ref, "4"), (forum, "99")):
            with pytest.raises(ActionFailed):
                await h.platform.send(chat, "hi", thread_id=topic)
            assert h.fake.calls_to("sendMessage")[-1].description == THREAD_NOT_FOUND
            with pytest.raises(ActionFailed):
                await h.platform.send_photo(chat, b"png", "hi", thread_id=topic)
            assert h.fake.calls_to("sendPhoto")[-1].description == THREAD_NOT_FOUND
        await h.platform.send(forum, "hi", thread_id="4")

        # What the adapter never sends, asked of the fake through python-telegram-bot directly.
        bot, group = h.platform.bot, int(h.chat["id"])
        refusals = [
            (bot.ban_chat_member(group, -1002000000001), "invalid user_id specified"),
            (bot.restrict_chat_member(group, -1002000000001, permissions=_no_permissions()), "invalid user_id specified"),
            (bot.send_message(group, "x" * 4097), "message is too long"),
            (bot.send_photo(group, b"png", caption="x" * 1025), "message caption is too long"),
            (bot.delete_messages(group, list(range(1, 102))), "too many message identifiers specified"),
            (bot.send_message(group, "hi", api_kwargs={"mesage_thread_id": 4}), "unknown parameter mesage_thread_id"),
            (bot.promote_chat_member(int(basic.id), int(alice.id), can_delete_messages=True),
             SUPERGROUPS_AND_CHANNELS_ONLY.removeprefix("Bad Request: ")),
        ]
        for call, text in refusals:
            with pytest.raises(BadRequest) as refused:
                await call
            assert text.lower() in refused.value.message.lower()
        assert [c.description for c in h.fake.calls if c.status == 400][-1] == SUPERGROUPS_AND_CHANNELS_ONLY

        # What the adapter does instead: long texts and captions split, never refused.
        await h.platform.send(h.chat_ref, "y" * 5000)
        await h.platform.send_photo(h.chat_ref, b"png", "z" * 1500)
        assert [len(c.params["text"]) for c in h.fake.sent("sendMessage")[-3:]] == [4096, 904, 476]
        assert len(h.fake.last("sendPhoto").params["caption"]) == 1024


def _no_permissions():
    from telegram import ChatPermissions

    return ChatPermissions.no_permissions()


async def test_nothing_the_bot_sends_unfurls_a_link(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[]) as h:
        sent = await h.platform.send(h.chat_ref, f"removed a message with {INVITE}")
        await h.platform.edit(h.chat_ref, sent.message_id, f"removed: {INVITE} (edited)")
        await h.platform.dm(_user(h, "owner"), f"alert: {INVITE}")
        for call in h.fake.sent("sendMessage") + h.fake.sent("editMessageText"):
            assert call.params["link_preview_options"] == {"is_disabled": True}, call
            assert "parse_mode" not in call.params


async def test_delete_many_goes_out_in_batches_of_100(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[]) as h:
        spammer = h.user("spammer")
        ids = [h.fake.text_update(h.chat, spammer, f"spam {i}")["message"]["message_id"] for i in range(250)]
        await h.platform.delete_many(h.chat_ref, [str(i) for i in ids] + ["999999"])  # one already gone
        batches = [c.params["message_ids"] for c in h.fake.sent("deleteMessages")]
        assert [len(b) for b in batches] == [100, 100, 51]
        assert all(h.fake.messages[(h.chat["id"], i)].deleted for i in ids)
        assert not h.fake.sent("deleteMessage")


async def test_ban_can_take_the_members_messages_with_them(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[]) as h:
        spammer = _user(h, "spammer")
        await h.platform.ban(h.chat_ref, spammer, revoke_messages=True)
        assert h.fake.last("banChatMember").params["revoke_messages"] == "true"
        await h.platform.ban(h.chat_ref, spammer)
        assert "revoke_messages" not in h.fake.last("banChatMember").params


async def test_a_mention_of_someone_without_a_username_notifies_them(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[]) as h:
        zhang = h.user("张三", username=None)
        ref = UserRef("telegram", str(zhang["id"]), name="张三")
        await h.platform.send(h.chat_ref, f"😀 欢迎 {h.platform.mention(ref)}！")
        call = h.fake.last("sendMessage").params
        assert call["text"] == "😀 欢迎 张三！"
        assert call["entities"] == [{"type": "text_mention", "offset": 6, "length": 2,
                                     "user": {"id": zhang["id"], "first_name": "张三", "is_bot": False}}]
        assert "parse_mode" not in call

        # With a username: @username, no entity.
        assert h.platform.mention(_user(h, "alice")) == "@alice"

        # A member's text cannot fake a mention: stray marker characters are dropped.
        await h.platform.send(h.chat_ref, "look \ue000deadbeef\ue001admin\ue002 here")
        call = h.fake.last("sendMessage").params
        assert call["text"] == "look admin here" and "entities" not in call

        # Split across messages, the entity lands in its part with offsets counted from that part.
        await h.platform.send(h.chat_ref, "x" * 4094 + "\n" + f"👋 {h.platform.mention(ref)}")
        first, second = [c.params for c in h.fake.sent("sendMessage")[-2:]]
        assert "entities" not in first and second["text"] == "👋 张三"
        assert [(e["offset"], e["length"]) for e in second["entities"]] == [(3, 2)]
        # A cut that would fall inside the name moves before it: the name is never split.
        await h.platform.send(h.chat_ref, "x" * 4095 + h.platform.mention(ref) + " tail")
        first, second = [c.params for c in h.fake.sent("sendMessage")[-2:]]
        assert first["text"] == "x" * 4095 and second["text"] == "张三 tail"
        assert [(e["offset"], e["length"]) for e in second["entities"]] == [(0, 2)]


async def test_rules_notices_notify_a_member_without_a_username(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en"}}) as h:
        wang = h.user("Wang", username=None)
        for text in ("hi all", "nice group", "good morning"):
            await h.send_text(wang, text)
            h.app.clock.advance(minutes=1)
        await h.send_text(wang, "加我薇信 abc12345 日赚500，车队接料")
        notice = h.fake.last("sendMessage").params
        assert "Wang" in notice["text"] and "\ue000" not in notice["text"]
        mentions = [e for e in notice.get("entities", []) if e["type"] == "text_mention"]
        assert [e["user"]["id"] for e in mentions] == [wang["id"]]
        start = len(notice["text"][: notice["text"].index("Wang")].encode("utf-16-le")) // 2
        assert (mentions[0]["offset"], mentions[0]["length"]) == (start, 4)


async def test_a_join_requester_can_be_written_to_before_starting_the_bot(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        newcomer, stranger = _user(h, "newcomer"), _user(h, "stranger")
        h.fake.block_dms(int(newcomer.id), int(stranger.id))  # neither has started the bot
        with pytest.raises(ActionFailed) as refused:
            await h.platform.dm(stranger, "hello")
        assert refused.value.reason == "dm_blocked"
        await h.request_join("newcomer", bio="a friend")
        sent = await h.platform.dm(newcomer, "welcome, one question first")
        assert h.fake.last("sendMessage").params["chat_id"] == newcomer.id and sent.message_id


async def test_in_a_basic_group_a_mute_becomes_a_warning(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en"}}) as h:
        basic = h.fake.basic_group()
        spammer = h.user("spammer", username="deals_spammer")
        for text in ("hi all", "nice group", "good morning"):
            await h.send_text(spammer, text, chat=basic)
            h.app.clock.advance(minutes=1)
        await h.send_text(spammer, "加我薇信 abc12345 日赚500，车队接料", chat=basic)
        h.app.clock.advance(minutes=5)
        second = await h.send_text(spammer, "联系QQ 123456789 有意私聊", chat=basic)
        assert str(second.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        assert not h.fake.calls_to("restrictChatMember"), "Telegram cannot mute in a basic group"
        notice = h.fake.texts(basic["id"])[-1]
        assert "@deals_spammer" in notice and "warning" in notice and "strike 2" in notice


async def test_a_long_caption_goes_on_in_full_messages(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[]) as h:
        await h.platform.send_photo(h.chat_ref, b"png", "c" * 6000)
        assert len(h.fake.last("sendPhoto").params["caption"]) == 1024
        assert [len(c.params["text"]) for c in h.fake.sent("sendMessage")] == [4096, 880]
