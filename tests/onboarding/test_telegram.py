"""Onboarding on Telegram: the real python-telegram-bot adapter against the fake Bot API over HTTP."""

from __future__ import annotations

from tests.onboarding.helpers import QUESTION_MARK, config
from tests.support.fake_telegram import BOT_ID
from tests.support.telegram_harness import running_telegram_app


def question(h, name: str):
    """(message id, stored message) of the newest question to `name` still in the group."""
    for (chat_id, message_id), message in sorted(h.fake.messages.items(), key=lambda kv: kv[0][1], reverse=True):
        if (
            chat_id == h.chat["id"] and message.from_id == BOT_ID and not message.deleted
            and f"@{name}" in message.text and QUESTION_MARK.search(message.text)
        ):
            return message_id, message
    raise AssertionError(f"no question for {name}: {h.bot_texts()}")


def button(message, index: int) -> str:
    flat = [b for row in message.reply_markup["inline_keyboard"] for b in row]
    return flat[index]["callback_data"]


def calls_for(h, method: str, user: dict) -> list:
    return [c for c in h.calls(method) if str(c.params.get("user_id")) == str(user["id"])]


async def test_telegram_join_questionnaire_welcome(db_url, tmp_path):
    async with running_telegram_app(db_url, str(tmp_path), config("en")) as h:
        bob, carol = h.user("bob"), h.user("carol")
        await h.join(bob)
        muted = calls_for(h, "restrictChatMember", bob)
        assert len(muted) == 1 and not any(v for k, v in muted[0].params["permissions"].items() if k.startswith("can_"))
        message_id, message = question(h, "bob")
        assert "(1/6)" in message.text and message.reply_markup["inline_keyboard"]

        await h.press(carol, message_id, button(message, 0))
        toast = h.calls("answerCallbackQuery")[-1].params
        assert "for the newcomer bob" in toast["text"] and str(toast.get("show_alert")).lower() == "true"
        assert question(h, "bob")[0] == message_id  # nothing moved

        await h.press(bob, message_id, button(message, 0))
        assert "Noted" in h.calls("answerCallbackQuery")[-1].params["text"]
        assert "(2/6)" in question(h, "bob")[1].text
        await h.send_text(bob, "Osaka")
        for _ in range(3):
            message_id, message = question(h, "bob")
            await h.press(bob, message_id, button(message, 0))
        await h.send_text(bob, "12")

        lifted = calls_for(h, "restrictChatMember", bob)[-1].params["permissions"]
        assert all(v for k, v in lifted.items() if k.startswith("can_"))
        assert h.fake.member_status(h.chat["id"], bob["id"]) == "member"
        welcome = h.bot_texts()[-1]
        assert welcome.startswith("🎉 Welcome to Test group, @bob!") and "【Rules】" in welcome
        assert not any("(1/6)" in t or "(2/6)" in t for t in h.bot_texts())  # questions tidied away


async def test_telegram_silence_is_removed_with_a_notice(db_url, tmp_path):
    async with running_telegram_app(db_url, str(tmp_path), config("zh-CN")) as h:
        dan = h.user("dan")
        await h.join(dan)
        assert calls_for(h, "restrictChatMember", dan)
        h.app.clock.advance(minutes=11)
        await h.tick()
        assert calls_for(h, "banChatMember", dan) and calls_for(h, "unbanChatMember", dan)
        assert h.fake.member_status(h.chat["id"], dan["id"]) == "left"  # removed, free to come back
        assert any("@dan 未在 10 分钟内完成入群问答" in t for t in h.bot_texts())
        await h.tick()
        assert len(calls_for(h, "banChatMember", dan)) == 1


BUTTONS_ONLY = {
    "questions": [q for q in config()["defaults"]["onboarding"]["questions"] if q["id"] in ("rules", "budget", "goal")],
    "tag_rules": [{"tag": "A", "when": {"budget": ["high", "mid"], "goal": ["buy"]}}],
}


async def test_telegram_join_request_questioned_by_dm_then_approved(db_url, tmp_path):
    async with running_telegram_app(db_url, str(tmp_path), config("en", **BUTTONS_ONLY)) as h:
        erin = h.user("erin")
        await h.request_join(erin)
        private = {"id": erin["id"], "type": "private", "first_name": "erin"}
        for step in range(3):
            ask = [c for c in h.calls("sendMessage") if str(c.params["chat_id"]) == str(erin["id"])][-1]
            assert f"({step + 1}/3)" in ask.params["text"] and ask.params["reply_markup"]["inline_keyboard"]
            stored = max((mid, m) for (cid, mid), m in h.fake.messages.items() if cid == erin["id"] and m.from_id == BOT_ID)
            await h.press(erin, stored[0], button(stored[1], 0), chat=private)
        approved = h.calls("approveChatJoinRequest")
        assert len(approved) == 1 and str(approved[0].params["user_id"]) == str(erin["id"])
        assert h.bot_texts()[-1].startswith("🎉 Welcome to Test group, @erin!")
        await h.join(erin, via_join_request=True)  # Telegram reports the approved member joining
        assert not calls_for(h, "restrictChatMember", erin)  # answered already: not muted, not asked again

        fay = h.user("fay")
        await h.request_join(fay)
        h.app.clock.advance(minutes=11)
        await h.tick()
        declined = h.calls("declineChatJoinRequest")
        assert len(declined) == 1 and str(declined[0].params["user_id"]) == str(fay["id"])
        assert not any("@fay" in t for t in h.bot_texts())


async def test_telegram_without_the_right_to_mute_the_admins_hear_once_and_messages_are_deleted(db_url, tmp_path):
    async with running_telegram_app(db_url, str(tmp_path), config("en")) as h:
        h.fake.bot_rights[h.chat["id"]] = {"can_restrict_members": False}
        h.set_admins("boss")
        gus, hal = h.user("gus"), h.user("hal")
        await h.join(gus)
        await h.join(hal)
        assert "(1/6)" in question(h, "gus")[1].text and "(1/6)" in question(h, "hal")[1].text
        boss = h.user("boss")
        told = [c for c in h.calls("sendMessage") if str(c.params["chat_id"]) == str(boss["id"])]
        assert len(told) == 1  # which right is missing, once, for both newcomers (not again by onboarding)
        said = await h.send_text(gus, "cheap followers here")
        deleted = [c for c in h.calls("deleteMessage") if int(c.params["message_id"]) == said.message_id]
        assert len(deleted) == 1  # a pending newcomer's message goes until they have answered


async def test_telegram_join_request_answered_by_typing_in_the_dm(db_url, tmp_path):
    """Typed answers in the private chat reach the questionnaire; group features ignore the DM."""
    async with running_telegram_app(db_url, str(tmp_path), config("en")) as h:
        gus = h.user("gus")
        private = {"id": gus["id"], "type": "private", "first_name": "gus"}

        def last_dm():
            return max((mid, m) for (cid, mid), m in h.fake.messages.items() if cid == gus["id"] and m.from_id == BOT_ID)

        await h.request_join(gus)
        await h.press(gus, last_dm()[0], button(last_dm()[1], 0), chat=private)  # accepts the rules
        assert "(2/6)" in last_dm()[1].text
        await h.send_text(gus, "x", chat=private)  # too short: asked again with the reason
        assert "too short" in last_dm()[1].text and "(2/6)" in last_dm()[1].text
        await h.send_text(gus, "加我微信 Osaka", chat=private)  # in a DM this is an answer, not an ad
        assert "(3/6)" in last_dm()[1].text
        for _ in range(3):
            await h.press(gus, last_dm()[0], button(last_dm()[1], 0), chat=private)
        await h.send_text(gus, "7", chat=private)
        approved = h.calls("approveChatJoinRequest")
        assert len(approved) == 1 and str(approved[0].params["user_id"]) == str(gus["id"])
        assert not h.calls("deleteMessage") and not h.calls("restrictChatMember")
        await h.send_text(gus, "签到", chat=private)  # the points feature does not count DMs
        assert not any("签到" in t or "check" in t.lower() for t in h.bot_texts(private))
