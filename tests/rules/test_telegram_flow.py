"""The same moderation scenario on Telegram: real python-telegram-bot against the fake Bot API over
HTTP; we assert the Bot API calls the bot made."""

import io

import qrcode

from tests.support.telegram_harness import running_telegram_app


async def test_ad_warn_then_mute_then_removal_on_telegram(db_url, tmp_path):
    config = {"defaults": {"language": "en"}}
    async with running_telegram_app(db_url, str(tmp_path), config) as h:
        spammer = h.user("spammer", username="deals_spammer")
        for text in ("hi all", "nice group", "good morning"):
            await h.send_text(spammer, text)
            h.app.clock.advance(minutes=1)
        h.fake.clear_calls()

        first = await h.send_text(spammer, "加我薇信 abc12345 日赚500，车队接料")
        assert not first.errors
        deleted = [c.params["message_id"] for c in h.calls("deleteMessage")]
        assert str(first.message_id) in deleted
        notice = h.fake.last("sendMessage").params["text"]
        assert "@deals_spammer" in notice and "no contact solicitation" in notice and "warning" in notice

        h.app.clock.advance(minutes=5)
        second = await h.send_text(spammer, "联系QQ 123456789 有意私聊")
        assert str(second.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        restrict = h.fake.last("restrictChatMember").params
        assert restrict["user_id"] == str(spammer["id"]) and restrict["chat_id"] == str(h.chat["id"])
        assert "until_date" in restrict
        assert h.fake.member_status(h.chat["id"], spammer["id"]) == "restricted"
        assert "muted for 1 day" in h.fake.last("sendMessage").params["text"]

        h.app.clock.advance(days=1, minutes=1)
        await h.send_text(spammer, "https://spam.example.xyz/buy 点击加入")  # mute 7 days
        h.app.clock.advance(days=7, minutes=1)
        await h.send_text(spammer, "https://spam.example.xyz/buy 点击加入")  # mute 15 days
        h.app.clock.advance(days=15, minutes=1)
        last = await h.send_text(spammer, "t.me/+AbCdEf123 进群领福利")
        assert str(last.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        ban = h.fake.last("banChatMember").params
        assert ban["user_id"] == str(spammer["id"])
        assert h.calls("unbanChatMember"), "a kick is a ban followed by an unban"
        removal = h.fake.last("sendMessage").params["text"]
        assert "@deals_spammer" in removal and "removed from the group" in removal
        assert "no invitations to other groups" in removal

        from storage import core_repo

        async with h.app.sessions() as session:
            chat = await core_repo.get_chat(session, "telegram", str(h.chat["id"]))
            actions = [e.action for e in await core_repo.audit_entries(session, chat.id)]
        assert {"delete", "warn", "mute", "kick"} <= set(actions)


async def test_qr_photo_on_telegram_gets_the_member_removed(db_url, tmp_path):
    async with running_telegram_app(db_url, str(tmp_path), {"defaults": {"language": "en"}}) as h:
        buffer = io.BytesIO()
        qrcode.make("https://t.me/+secretgroup42").save(buffer, format="PNG")
        dave = h.user("dave", username="dave_qr")
        sent = await h.send_photo(dave, buffer.getvalue(), caption="scan me")
        assert str(sent.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        assert h.calls("banChatMember") and h.calls("unbanChatMember")
        notice = h.fake.last("sendMessage").params["text"]
        assert "@dave_qr" in notice and "QR" in notice and "removed" in notice


async def test_without_the_restrict_right_a_mute_becomes_a_warning_and_the_admins_are_told(db_url, tmp_path):
    config = {"defaults": {"language": "en", "rules": {"ladder": ["mute:1d"]}}}
    async with running_telegram_app(db_url, str(tmp_path), config) as h:
        boss = h.user("boss")
        h.set_admins(boss)
        rights = dict(h.fake.bot_rights.get(h.chat["id"], {}))
        h.fake.bot_rights[h.chat["id"]] = {**rights, "can_delete_messages": True, "can_restrict_members": False}
        bad = await h.send_text(h.user("eve", username="eve_ads"), "https://spam.example.xyz/buy")
        assert str(bad.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        assert not h.calls("restrictChatMember")
        dms = [c.params["text"] for c in h.calls("sendMessage") if c.params["chat_id"] == str(boss["id"])]
        assert any("@eve_ads" in t and "mute" in t.lower() for t in dms), dms
        notice = [c.params["text"] for c in h.calls("sendMessage") if c.params["chat_id"] == str(h.chat["id"])][-1]
        assert "@eve_ads" in notice and "warning" in notice


async def test_a_message_edited_into_an_ad_is_deleted_and_warned_on_telegram(db_url, tmp_path):
    async with running_telegram_app(db_url, str(tmp_path), {"defaults": {"language": "en"}}) as h:
        member = h.user("sly", username="sly_seller")
        for text in ("hi all", "nice group", "good morning"):
            await h.send_text(member, text)
            h.app.clock.advance(minutes=1)
        harmless = await h.send_text(member, "有人周末去爬山吗")
        h.fake.clear_calls()
        await h.edit_text(member, harmless.message_id, "有人周末去爬山吗 加我薇信 abc12345 日赚500")
        assert str(harmless.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        notice = h.fake.last("sendMessage").params["text"]
        assert "@sly_seller" in notice and "no contact solicitation" in notice
        # an edit that stays harmless passes
        h.fake.clear_calls()
        await h.edit_text(member, (await h.send_text(member, "see you")).message_id, "see you all")
        assert not h.calls("deleteMessage") and not h.calls("sendMessage")

        from storage import core_repo

        async with h.app.sessions() as session:
            chat = await core_repo.get_chat(session, "telegram", str(h.chat["id"]))
            entries = await core_repo.audit_entries(session, chat.id)
        warn = next(e for e in entries if e.action == "warn")
        assert warn.details.get("edited") is True


async def test_spam_as_a_reply_on_telegram_deletes_and_learns_the_replied_text(db_url, tmp_path):
    """Telegram sends the replied-to message with the command: its text becomes the spam sample."""
    from sqlalchemy import select

    from handlers.rules import model as spam_model
    from storage.rules_models import RulesSample

    soft = "内部渠道最新一期的理财资料已经整理好了，需要的朋友私聊我免费分享，名额有限先到先得"
    async with running_telegram_app(db_url, str(tmp_path), {"defaults": {"language": "en"}}) as h:
        boss, member = h.user("boss"), h.user("member", username="soft_seller")
        h.set_admins(boss)
        for text in ("hi all", "nice group", "good morning", "see you"):
            await h.send_text(member, text)
            h.app.clock.advance(minutes=1)
        posted = await h.send_text(member, soft)
        assert str(posted.message_id) not in [c.params["message_id"] for c in h.calls("deleteMessage")]
        await h.command(boss, "/spam", reply_to=posted.message_id)
        assert str(posted.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")]
        assert any("learned" in text for text in h.bot_texts())
        async with h.app.sessions() as session:
            [sample] = list(await session.scalars(select(RulesSample)))
        assert sample.label == "spam" and sample.features == sorted(spam_model.features(soft))
