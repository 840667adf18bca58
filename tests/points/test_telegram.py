"""Points commands on the real Telegram adapter (python-telegram-bot) against the fake Bot API over HTTP."""

from __future__ import annotations

import pytest

from tests.support.fake_telegram import BOT_ID
from tests.support.telegram_harness import running_telegram_app


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_checkin_me_and_top_reach_telegram_as_send_message_calls(sqlite_url, tmp_path, lang):
    config = {"defaults": {"language": lang, "points": {"activity_points": 0}}}
    async with running_telegram_app(sqlite_url, str(tmp_path), config) as h:
        alice, bob = h.user("alice"), h.user("bob")
        sent = await h.command(alice, "/checkin")
        call = h.fake.last("sendMessage")
        assert str(call.params["chat_id"]) == str(h.chat["id"])
        text = call.params["text"]
        assert ("签到成功" if lang == "zh-CN" else "checked in") in text
        assert ("连续签到 1 天" if lang == "zh-CN" else "1-day streak") in text
        assert ("排名第 1" if lang == "zh-CN" else "Rank #1") in text
        reply = call.params.get("reply_parameters") or {}
        assert str(reply.get("message_id", call.params.get("reply_to_message_id"))) == str(sent.message_id)

        await h.send_text(bob, "签到")  # the plain word works on Telegram too
        assert ("今日第 2 位签到" if lang == "zh-CN" else "#2 to check in today") in h.fake.last("sendMessage").params["text"]
        await h.command(bob, "/checkin@qunzhu_test_bot")
        assert ("已经签到过了" if lang == "zh-CN" else "already checked in") in h.fake.last("sendMessage").params["text"]

        h.app.clock.advance(days=1)
        await h.command(alice, "/checkin")
        await h.command(alice, "/me")
        text = h.fake.last("sendMessage").params["text"]
        assert ("积分：20" if lang == "zh-CN" else "Balance: 20") in text
        assert ("连续签到：2 天" if lang == "zh-CN" else "streak: 2 days") in text
        assert ("排名：第 1 名" if lang == "zh-CN" else "Rank: #1") in text

        await h.command(bob, "/top")
        lines = h.fake.last("sendMessage").params["text"].splitlines()
        assert ("积分榜" if lang == "zh-CN" else "Leaderboard") in lines[0]
        assert lines[1].startswith("🥇 alice") and "20" in lines[1]
        assert lines[2].startswith("🥈 bob") and "10" in lines[2]
        await h.command(bob, "/top week")
        assert ("本周" if lang == "zh-CN" else "this week") in h.fake.last("sendMessage").params["text"]


async def test_admin_award_and_draw_button_on_telegram(sqlite_url, tmp_path):
    config = {"defaults": {"language": "en", "points": {"activity_points": 0}}}
    async with running_telegram_app(sqlite_url, str(tmp_path), config) as h:
        boss, alice = h.user("boss"), h.user("alice")
        h.set_admins(boss)
        post = await h.send_text(alice, "my tutorial on pivots")
        await h.command(boss, "/award 25 nice tutorial", reply_to=post.message_id)
        assert "alice received 25 points" in h.fake.last("sendMessage").params["text"].replace("@", "")
        await h.command(boss, "/lottery 1h 1 0 Sticker pack")
        opened = h.fake.last("sendMessage")
        markup = opened.params["reply_markup"]
        button = markup["inline_keyboard"][0][0] if isinstance(markup, dict) else None
        assert button and button["callback_data"] == "points:join:1"
        bot_message = max(m for (chat_id, m), msg in h.fake.messages.items()
                          if chat_id == h.chat["id"] and msg.from_id == BOT_ID and "Sticker pack" in msg.text)
        await h.press(alice, bot_message, "points:join:1")
        assert h.calls("answerCallbackQuery")
        h.app.clock.advance(hours=1, minutes=1)
        await h.tick()
        result = h.fake.last("sendMessage").params["text"]
        assert "Draw #1 result" in result and "alice" in result


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_history_deduct_shop_and_draw_listing_on_telegram(sqlite_url, tmp_path, lang):
    zh = lang == "zh-CN"
    config = {"defaults": {"language": lang, "points": {"activity_points": 0}}}
    async with running_telegram_app(sqlite_url, str(tmp_path), config) as h:
        boss, alice = h.user("boss"), h.user("alice")
        h.set_admins(boss)

        def last_text() -> str:  # the last text in the group (the admins' order notice goes by DM)
            return h.bot_texts()[-1]

        await h.command(alice, "/checkin")
        await h.command(boss, "/award @alice 100 weekly summary")
        await h.command(boss, "/deduct @alice 5 off-topic")
        assert ("被扣除 5 积分" if zh else "5 points deducted") in last_text()
        await h.command(alice, "/history")
        text = last_text()
        assert "+100" in text and "-5" in text and "weekly summary" in text and "+10" in text
        await h.command(boss, "/shop add Notebook 30 2")
        assert ("已上架 #1 Notebook" if zh else "Listed #1 Notebook") in last_text()
        await h.command(alice, "/shop")
        assert "#1 Notebook" in last_text()
        await h.command(alice, "/redeem 1")
        assert ("剩余积分 75" if zh else "balance 75") in last_text()
        dm = h.fake.last("sendMessage").params
        assert str(dm["chat_id"]) == str(boss["id"]) and ("新订单 #1" if zh else "New order #1") in dm["text"]
        await h.command(boss, "/orders")
        assert "#1 Notebook — alice" in last_text()
        await h.command(boss, "/fulfil 1")
        assert ("已发放给" if zh else "handed over to") in last_text()
        await h.command(alice, "/fulfil 1")
        assert "/fulfil" in last_text()  # admins only
        await h.command(boss, "/lottery 1d 1 10 Book")
        await h.command(alice, "/join_draw 1")
        await h.command(alice, "/draws")
        assert "Book" in last_text() and ("1 人已参加" if zh else "1 entries") in last_text()
        await h.command(alice, "/draw_entries 1")
        assert last_text().splitlines()[-1] == str(alice["id"])
        await h.command(alice, "/me")
        assert ("积分：65" if zh else "Balance: 65") in last_text()
