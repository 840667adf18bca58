"""Actions out: what the bot asks Telegram to do, asserted by method and arguments."""

from __future__ import annotations

from datetime import timedelta

from bot.events import ButtonPressed
from tests.support.harness import START
from tests.support.telegram_harness import running_telegram_app
from tests.telegram.probe import probe_router


async def test_restrict_lift_kick_ban(db_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(db_url, str(tmp_path), routers=[probe]) as h:
        spam = await h.send_text("spammer", "hi")
        spammer_id = str(h.user("spammer")["id"])

        await h.command("owner", "/mute", reply_to=spam.message_id)
        call = h.fake.last("restrictChatMember")
        assert call.params["user_id"] == spammer_id
        assert int(call.params["until_date"]) == int((START + timedelta(hours=1)).timestamp())
        assert not any(call.params["permissions"].values()), "a mute takes every permission"
        assert call.params["use_independent_chat_permissions"] == "true"
        assert h.fake.member_status(h.chat["id"], spammer_id) == "restricted"

        await h.command("owner", "/unmute", reply_to=spam.message_id)
        lifted = h.fake.last("restrictChatMember").params["permissions"]
        assert lifted and all(lifted.values())
        assert h.fake.member_status(h.chat["id"], spammer_id) == "member"

        # Kick = ban, then lift the ban (so they may come back), then check it worked.
        h.fake.clear_calls()
        await h.command("owner", "/kick", reply_to=spam.message_id)
        methods = [c.method for c in h.fake.calls if c.method in ("banChatMember", "unbanChatMember", "getChatMember")]
        assert methods == ["banChatMember", "unbanChatMember", "getChatMember"]
        assert h.fake.last("unbanChatMember").params["only_if_banned"] == "true"
        assert h.fake.member_status(h.chat["id"], spammer_id) == "left"

        await h.command("owner", "/ban", reply_to=spam.message_id)
        assert h.fake.member_status(h.chat["id"], spammer_id) == "kicked"


async def test_kick_that_stays_a_ban_is_retried(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        spam = await h.send_text("spammer", "hi")
        # The first unban is lost (Telegram answered OK but nothing changed): the check catches it.
        original = h.fake._api_unbanChatMember
        dropped = []

        def flaky_unban(p):
            if not dropped:
                dropped.append(p)
                return True  # said OK, did nothing
            return original(p)

        h.fake._api_unbanChatMember = flaky_unban
        await h.command("owner", "/kick", reply_to=spam.message_id)
        assert len(h.fake.sent("unbanChatMember")) == 2
        assert h.fake.member_status(h.chat["id"], h.user("spammer")["id"]) == "left"


async def test_buttons_and_the_wrong_presser(db_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(db_url, str(tmp_path), routers=[probe]) as h:
        await h.command("alice", "/quiz")
        quiz = h.fake.last("sendMessage")
        keyboard = quiz.params["reply_markup"]["inline_keyboard"]
        alice_id = h.user("alice")["id"]
        assert [[b["text"] for b in row] for row in keyboard] == [["Yes", "No"]]
        assert keyboard[0][0]["callback_data"] == f"quiz:{alice_id}:yes"
        message_id = h.fake.messages[(h.chat["id"], len(h.fake.messages))].message_id

        await h.press("bob", message_id, f"quiz:{alice_id}:yes")
        answer = h.fake.last("answerCallbackQuery")
        assert answer.params["text"] == "not for you" and answer.params["show_alert"] == "true"
        assert h.fake.sent("editMessageText") == []
        pressed = probe.of(ButtonPressed)[0]
        assert pressed.user.name == "bob" and pressed.message_id == str(message_id)

        await h.press("alice", message_id, f"quiz:{alice_id}:no")
        assert h.fake.last("answerCallbackQuery").params["text"] == "thanks"
        assert len(h.fake.sent("answerCallbackQuery")) == 2, "each press answered exactly once"
        edit = h.fake.last("editMessageText")
        assert edit.params["message_id"] == str(message_id)
        assert edit.params["text"] == "@alice answered no"
        assert h.bot_texts() == ["@alice answered no"]


async def test_dm_and_the_refusal(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        await h.command("alice", "/dmme")
        assert h.fake.sent("sendMessage")[0].params == {
            "chat_id": str(h.user("alice")["id"]), "text": "psst", "link_preview_options": {"is_disabled": True},
        }
        h.fake.block_dms(h.user("bob")["id"])
        await h.command("bob", "/dmme")
        assert probe.failures[-1].reason == "dm_blocked"
        assert h.bot_texts()[-1] == "cannot DM you (dm_blocked)"


async def test_photo_edit_and_long_text(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        await h.command("alice", "/picture")
        photo = h.fake.last("sendPhoto")
        assert photo.params["photo"] == b"\x89PNG-chart-bytes" and photo.params["caption"] == "today"
        platform = h.platform
        text = "\n".join(f"line {i} " + "x" * 80 for i in range(120))  # ~10 000 characters
        sent = await platform.send(h.chat_ref, text)
        parts = [c.params["text"] for c in h.fake.sent("sendMessage")]
        assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
        assert "\n".join(parts) == text
        await platform.edit(h.chat_ref, sent.message_id, "short now")
        await platform.edit(h.chat_ref, sent.message_id, "short now")  # "not modified" is not an error
        assert h.bot_texts()[-1] == "short now"


async def test_admins_come_from_telegram_and_are_cached(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en"}}, routers=[probe]) as h:
        h.set_admins("owner")
        await h.command("alice", "/secret")
        assert h.bot_texts()[-1] == "Only admins can use /secret."
        await h.command("owner", "/secret")
        assert h.bot_texts()[-1] == "hello admin"
        assert len(h.fake.sent("getChatAdministrators")) == 1, "the admin list is cached"
        # alice is promoted: the chat_member update drops the cache, the next check asks Telegram.
        h.fake.set_admins(h.chat["id"], [h.user("owner"), h.user("alice")])
        await h.deliver(h.fake.chat_member_update(h.chat, h.user("alice"), old="member", new="administrator", by=h.user("owner")))
        await h.command("alice", "/secret")
        assert h.bot_texts()[-1] == "hello admin"
        assert len(h.fake.sent("getChatAdministrators")) == 2
        # Posting "as the group" is an anonymous admin.
        anon = await h.deliver(h.fake.text_update(h.chat, h.user("GroupAnonymousBot", id=1087968824, is_bot=True),
                                                  "/secret", sender_chat=h.chat,
                                                  entities=[{"type": "bot_command", "offset": 0, "length": 7}]))
        assert not anon[0].errors
        assert h.bot_texts()[-1] == "hello admin"


async def test_bot_commands_registered_in_both_languages(sqlite_url, tmp_path):
    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        commands = h.fake.commands
        default_en = {c["command"]: c["description"] for c in commands[("default", "")]}
        default_zh = {c["command"]: c["description"] for c in commands[("default", "zh")]}
        admins_en = {c["command"] for c in commands[("all_chat_administrators", "")]}
        assert default_en["echo"] == "Say it back" and default_zh["echo"] == "复述"
        assert "secret" not in default_en and "secret" in admins_en


async def test_a_press_nobody_handles_still_stops_the_spinner(sqlite_url, tmp_path):
    from bot.platform import Button

    probe = probe_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[probe]) as h:
        sent = await h.platform.send(h.chat_ref, "an old poll", buttons=[[Button("Vote", "oldpoll:1")]])
        await h.press("alice", sent.message_id, "oldpoll:1")
        answers = h.fake.sent("answerCallbackQuery")
        assert len(answers) == 1 and "text" not in answers[0].params
        assert probe.of(ButtonPressed)[0].data == "oldpoll:1"


async def test_a_very_short_mute_does_not_become_permanent(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[]) as h:
        from bot.events import UserRef

        spammer = UserRef("telegram", str(h.user("spammer")["id"]))
        await h.platform.restrict(h.chat_ref, spammer, START + timedelta(seconds=5))
        until = int(h.fake.last("restrictChatMember").params["until_date"])
        assert until >= int(START.timestamp()) + 30, "Telegram would read an end under 30 s away as forever"
        await h.platform.restrict(h.chat_ref, spammer, START + timedelta(days=1))
        assert int(h.fake.last("restrictChatMember").params["until_date"]) == int((START + timedelta(days=1)).timestamp())
