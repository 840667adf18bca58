"""The rules and onboarding on what Telegram really sends: links the text hides, posts in the name of a
channel, channels and basic groups. The whole stack: python-telegram-bot against the fake Bot API."""

from __future__ import annotations

from tests.support.telegram_harness import running_telegram_app

INVITE = "https://t.me/+AbCdEf123"
EN = {"defaults": {"language": "en", "points": {"activity_points": 0}}}


async def _established(h, user: dict, chat: dict | None = None) -> None:
    """A few ordinary messages first, so the member is no newcomer (whose links always count)."""
    for text in ("hi all", "nice group", "good morning"):
        await h.deliver(h.fake.text_update(chat or h.chat, user, text))
        h.app.clock.advance(minutes=1)


def _deleted(h) -> list[str]:
    return [c.params["message_id"] for c in h.calls("deleteMessage")]


async def test_an_invite_hidden_under_a_harmless_word_is_deleted_and_punished(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), EN) as h:
        member = h.user("linker", username="linker")
        await _established(h, member)
        update = h.fake.text_update(h.chat, member, "新群福利 点这里", entities=[
            {"type": "text_link", "offset": 5, "length": 3, "url": INVITE}])
        await h.deliver(update)
        assert str(update["message"]["message_id"]) in _deleted(h)
        notice = h.fake.texts(h.chat["id"])[-1]
        assert "@linker" in notice


async def test_an_invite_only_in_a_url_button_is_deleted_and_punished(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), EN) as h:
        member = h.user("buttoner", username="buttoner")
        await _established(h, member)
        helper = {"id": 555001, "is_bot": True, "first_name": "Promo", "username": "promo_inline_bot"}
        update = h.fake.text_update(h.chat, member, "免费福利，速来", via_bot=helper,
                                    reply_markup={"inline_keyboard": [[{"text": "进群", "url": INVITE}]]})
        await h.deliver(update)
        assert str(update["message"]["message_id"]) in _deleted(h)
        assert "@buttoner" in h.fake.texts(h.chat["id"])[-1]


async def test_an_ad_posted_as_a_channel_bans_the_channel_not_a_person(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en", "rules": {"ladder": ["mute:1d"]}}}) as h:
        channel = h.fake.channel(-1002000000042, "Deals Channel", "deals")
        update = h.fake.sender_chat_update(h.chat, channel, "加我薇信 abc12345 日赚500，车队接料 https://t.me/+XyZ987")
        await h.deliver(update)
        assert str(update["message"]["message_id"]) in _deleted(h)
        assert not h.fake.calls_to("restrictChatMember") and not h.fake.calls_to("banChatMember")
        assert h.fake.last("banChatSenderChat").params["sender_chat_id"] == str(channel["id"])
        assert (h.chat["id"], channel["id"]) in h.fake.banned_sender_chats
        notice = h.fake.texts(h.chat["id"])[-1]
        assert "@deals" in notice  # the channel, by its public name


async def test_nobody_is_onboarded_or_judged_in_a_channel(sqlite_url, tmp_path):
    config = {"defaults": {"language": "en", "onboarding": {"enabled": True, "questions": [
        {"id": "city", "text": "Which city?", "kind": "text"}]}}}
    async with running_telegram_app(sqlite_url, str(tmp_path), config) as h:
        channel = h.fake.channel(-1002000000077, "News", "news")
        before = len(h.fake.calls)
        await h.join("subscriber", chat=channel)
        made = [c.method for c in h.fake.calls[before:]]
        assert "restrictChatMember" not in made and "sendMessage" not in made, made
        # The same join in a group is questioned, so the test above can fail.
        await h.join("newcomer")
        assert h.fake.sent("restrictChatMember") or any("Which city" in t for t in h.fake.texts(h.chat["id"]))


async def test_in_a_basic_group_the_admins_are_told_once_to_upgrade(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en", "rules": {
            "ladder": ["mute:1d", "mute:7d", "mute:15d"]}}}) as h:
        basic = h.fake.basic_group()
        for name in ("spammer1", "spammer2", "spammer3"):
            spammer = h.user(name, username=name)
            await _established(h, spammer, basic)
            await h.send_text(spammer, "加我薇信 abc12345 日赚500，车队接料", chat=basic)
            h.app.clock.advance(minutes=5)
        assert not h.fake.calls_to("restrictChatMember")
        upgrade = [c for c in h.fake.sent("sendMessage") if "basic group" in c.params["text"]]
        assert len(upgrade) == 1, [c.params["text"][:60] for c in upgrade]
