"""Every points command on the console platform, in both languages, on a real App and database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import running_app

ROOT = Path(__file__).resolve().parents[2]
LANGS = ["zh-CN", "en"]


def cfg(lang: str, **points):
    config = {"defaults": {"language": lang}}
    if points:
        config["defaults"]["points"] = points
    return config


def last(console) -> str:
    return console.bot_messages()[-1].text


def said(console, since: int) -> list[str]:
    return [m.text for m in console.bot_messages()[since:]]


@pytest.mark.parametrize("lang", LANGS)
async def test_checkin_by_command_alias_and_plain_word_with_streak_rank_and_balance(db_url, tmp_path, lang):
    async with running_app(db_url, str(tmp_path), cfg(lang)) as (app, console):
        await console.say("alice", "/checkin")
        text = last(console)
        if lang == "zh-CN":
            assert "签到成功" in text and "+10 积分" in text and "连续签到 1 天" in text
            assert "今日第 1 位签到" in text and "积分 10" in text and "排名第 1" in text
        else:
            assert "checked in" in text and "+10 points" in text and "1-day streak" in text
            assert "#1 to check in today" in text and "Balance 10" in text and "Rank #1" in text
        await console.say("bob", "签到")  # the plain word
        assert ("今日第 2 位签到" if lang == "zh-CN" else "#2 to check in today") in last(console)
        await console.say("alice", "/签到")
        assert ("已经签到过了" if lang == "zh-CN" else "already checked in") in last(console)
        await console.say("alice", "/打卡")
        assert ("积分 10" if lang == "zh-CN" else "Balance 10") in last(console)
        for day in (1, 2):
            app.clock.advance(days=1)
            await console.say("alice", "打卡")
        text = last(console)
        # Day 3 of the streak: 10 + 5 streak bonus, balance 10 + 10 + 15.
        assert ("连续签到 3 天" if lang == "zh-CN" else "3-day streak") in text
        assert ("+15 积分（含连签奖励 +5）" if lang == "zh-CN" else "+15 points (incl. +5 streak bonus)") in text
        assert ("积分 35" if lang == "zh-CN" else "Balance 35") in text


async def test_a_redelivered_checkin_event_is_counted_once(sqlite_url, tmp_path):
    from bot.events import CommandInvoked

    async with running_app(sqlite_url, str(tmp_path), cfg("en")) as (app, console):
        await console.join("alice")
        event = CommandInvoked(console.default_chat, console.user("alice"), app.clock.now(), message_id="m1", name="checkin")
        await app.dispatch(event)
        await app.dispatch(event)
        await console.say("alice", "/me")
        assert "Balance: 10" in last(console)


@pytest.mark.parametrize("lang", LANGS)
async def test_activity_points_need_length_stop_at_the_cap_and_skip_repeats(sqlite_url, tmp_path, lang):
    async with running_app(sqlite_url, str(tmp_path), cfg(lang, activity_daily_cap=3, activity_min_length=5)) as (app, console):
        await console.say("alice", "ok")  # too short
        await console.say("alice", "This is a proper message")
        await console.say("alice", "This  is a proper message")  # a repeat (spacing aside)
        await console.say("alice", "Another useful remark")
        await console.say("alice", "A third thoughtful post")
        await console.say("alice", "A fourth one over the cap")
        await console.say("alice", "/me")
        assert ("积分：3" if lang == "zh-CN" else "Balance: 3") in last(console)
        app.clock.advance(days=1)
        await console.say("alice", "This is a proper message")  # a new day: earns again
        await console.say("alice", "/history")
        text = last(console)
        assert text.count("+1") == 4
        assert ("发言" if lang == "zh-CN" else "activity") in text


@pytest.mark.parametrize("lang", LANGS)
async def test_me_top_and_history(db_url, tmp_path, lang):
    async with running_app(db_url, str(tmp_path), cfg(lang, activity_points=0)) as (app, console):
        await console.say("alice", "/checkin")
        await console.say("bob", "/checkin")
        await console.say("admin", "/award @bob 30 great tutorial")
        app.clock.advance(days=8)  # next week
        await console.say("carol", "/checkin")
        await console.say("alice", "/me")
        text = last(console)
        if lang == "zh-CN":
            assert "积分：10" in text and "Lv.1「新人」" in text and "距 Lv.2 还差 40 分" in text
            assert "连续签到：0 天（今日未签到" in text and "排名：第 2 名" in text
        else:
            assert "Balance: 10" in text and "Lv.1 “Newcomer”" in text and "40 to Lv.2" in text
            assert "streak: 0 days (not yet today" in text and "Rank: #2" in text
        await console.say("alice", "/top")
        board = last(console).splitlines()
        assert board[1].startswith("🥇 bob") and "40" in board[1]
        assert board[2].startswith("🥈 alice") or board[2].startswith("🥈 carol")
        await console.say("alice", "/top week")
        board = last(console)
        assert "carol" in board and "bob" not in board
        assert ("你：" if lang == "zh-CN" else "You:") not in board  # alice has nothing this week
        await console.say("bob", "/top month")
        assert "bob" in last(console)
        await console.say("bob", "/top year")
        assert "year" in last(console)
        await console.say("bob", "/history")
        text = last(console)
        assert "+30" in text and "great tutorial" in text and "+10" in text
        await console.say("dave", "/history")
        assert ("还没有积分记录" if lang == "zh-CN" else "has no points yet") in last(console)
        await console.say("admin", "/history @bob")
        assert "great tutorial" in last(console)


@pytest.mark.parametrize("lang", LANGS)
async def test_admin_award_and_deduct_by_name_or_reply_with_level_up(db_url, tmp_path, lang):
    async with running_app(db_url, str(tmp_path), cfg(lang, activity_points=0)) as (app, console):
        bob_message, _ = await console.say("bob", "here is my write-up")
        start = len(console.bot_messages())
        await console.say("admin", "/award @bob 60 excellent write-up")
        texts = said(console, start)
        assert ("获得 60 积分" if lang == "zh-CN" else "received 60 points") in texts[0]
        assert "excellent write-up" in texts[0]
        assert ("升到 Lv.2「活跃成员」" if lang == "zh-CN" else "reached Lv.2 “Regular”") in texts[1]
        await console.say("admin", "/deduct 15 off-topic spam", reply_to=bob_message)
        text = last(console)
        assert ("被扣除 15 积分" if lang == "zh-CN" else "15 points deducted") in text
        assert ("当前积分 45" if lang == "zh-CN" else "Balance 45") in text
        await console.say("bob", "/award @bob 1000 myself")
        assert "/award" in last(console)  # admins only
        await console.say("admin", "/award @bob lots")
        assert "lots" in last(console)
        await console.say("admin", "/award @nobody 5")
        assert "nobody" in last(console)
        await console.say("admin", "/award @bob 5000 too much")
        assert "points.award_max" in last(console)
        await console.say("admin", "/deduct")
        assert "/deduct" in last(console)
        # Rights that come with a level, for other features to honour.
        from handlers.points import service

        async with app.sessions() as session:
            from storage import core_repo

            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            bob = await core_repo.get_member(session, chat.id, "bob")
            settings = app.config.group_settings(chat.key).points
            assert await service.level_of(session, chat_id=chat.id, member_id=bob.id, settings=settings) == 1
            assert not await service.has_right(session, chat_id=chat.id, member_id=bob.id, settings=settings, right="links_allowed_from_level")
            entries = await core_repo.audit_entries(session, chat.id, target_user_id="bob")
            assert {e.action for e in entries} == {"award", "deduct"}


@pytest.mark.parametrize("lang", LANGS)
async def test_shop_redeem_orders_and_fulfil(db_url, tmp_path, lang):
    async with running_app(db_url, str(tmp_path), cfg(lang, activity_points=0)) as (app, console):
        await console.say("alice", "/shop")
        assert "/shop add" in last(console)
        await console.say("alice", "/shop add Mug 50 1")
        assert ("只有管理员" if lang == "zh-CN" else "Only admins") in last(console)
        await console.say("admin", "/shop add Coffee Mug 50 1")
        assert "#1 Coffee Mug" in last(console)
        await console.say("admin", "/shop add Sticker x 3")
        assert "x" in last(console)
        await console.say("admin", "/shop add Sticker 5 3")
        await console.say("alice", "/shop")
        text = last(console)
        assert "#2 Sticker" in text and "#1 Coffee Mug" in text
        await console.say("alice", "/redeem 1")
        assert ("积分不足" if lang == "zh-CN" else "Not enough points") in last(console)
        await console.say("admin", "/award @alice 60 helping")
        await console.say("alice", "/redeem coffee mug")
        text = last(console)
        assert ("兑换了「Coffee Mug」（订单 #1" if lang == "zh-CN" else "redeemed “Coffee Mug” (order #1") in text
        assert ("剩余积分 10" if lang == "zh-CN" else "balance 10") in text
        await console.say("bob", "/award @bob 1 x")
        await console.say("admin", "/award @bob 100 x")
        await console.say("bob", "/redeem 1")
        assert ("兑完了" if lang == "zh-CN" else "out of stock") in last(console)
        await console.say("bob", "/redeem Teapot")
        assert "Teapot" in last(console)
        await console.say("alice", "/orders")
        assert "#1 Coffee Mug" in last(console)
        await console.say("admin", "/orders")
        assert "#1 Coffee Mug — alice" in last(console)
        await console.say("admin", "/fulfil 1")
        assert ("已发放给 @alice" if lang == "zh-CN" else "handed over to @alice") in last(console)
        await console.say("admin", "/fulfil 1")
        assert "#1" in last(console) and ("没有待发放" if lang == "zh-CN" else "No pending") in last(console)
        await console.say("admin", "/orders")
        assert ("没有订单" if lang == "zh-CN" else "No orders") in last(console)
        # Spending never lowers the level or the board.
        await console.say("alice", "/me")
        assert "Lv.2" in last(console)
        await console.say("admin", "/shop remove 2")
        await console.say("alice", "/shop")
        assert "Sticker" not in last(console)


@pytest.mark.parametrize("lang", LANGS)
async def test_lottery_opens_with_a_commitment_draws_at_close_and_the_cli_reproduces_it(db_url, tmp_path, lang):
    async with running_app(db_url, str(tmp_path), cfg(lang, activity_points=0)) as (app, console):
        await console.say("admin", "/lottery 2h 2 5 Limited T-shirt")
        opened = console.bot_messages()[-1]
        import re

        commitment = re.search(r"sha256[：:]\s*([0-9a-f]{64})", opened.text).group(1)
        assert "Limited T-shirt" in opened.text and opened.buttons
        for name in ("alice", "bob", "carol", "dave"):
            await console.join(name)
            await console.say("admin", f"/award @{name} 10 seed")
        await console.say("alice", "/join_draw")
        assert ("已参加抽奖 #1" if lang == "zh-CN" else "joined draw #1") in last(console)
        await console.say("alice", "/join_draw 1")
        assert ("已经参加过" if lang == "zh-CN" else "already in draw") in last(console)
        await console.press("bob", opened.id, 0)
        await console.say("carol", "/join_draw 1")
        await console.say("dave", "/join_draw 1")
        await console.say("erin", "/join_draw 1")  # no points
        assert ("积分不足" if lang == "zh-CN" else "Not enough points") in last(console)
        await console.say("alice", "/me")
        assert ("积分：5" if lang == "zh-CN" else "Balance: 5") in last(console)
        await console.say("alice", "/draws")
        assert "Limited T-shirt" in last(console) and "4" in last(console)
        await app.tick()
        assert "🔑" not in last(console)  # not yet
        app.clock.advance(hours=2, minutes=1)
        await app.tick()
        result = last(console)
        seed = re.search(r"(?:种子|Seed)[：:]\s*([0-9a-f]+)", result).group(1)
        assert commitment in result
        await app.tick()
        assert last(console) == result  # drawn once
        await console.say("carol", "/join_draw 1")
        assert ("已经结束" if lang == "zh-CN" else "is closed") in last(console)
        await console.say("carol", "/draw_entries 1")
        entries_text = last(console)
        entries_file = tmp_path / "entries.txt"
        entries_file.write_text(entries_text, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "lottery", "verify", "--seed", seed, "--entries", str(entries_file),
             "--winners", "2", "--hash", commitment],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "entries: 4" in proc.stdout and "matches" in proc.stdout
        winners = re.findall(r"^\d\. (\S+)", proc.stdout, re.M)
        assert len(winners) == 2
        for w in winners:
            assert f"@{w}" in result
        bad = subprocess.run(
            [sys.executable, "-m", "bot.cli", "lottery", "verify", "--seed", seed + "0", "--entries", str(entries_file),
             "--winners", "2", "--hash", commitment],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert bad.returncode == 1 and "MISMATCH" in bad.stdout


@pytest.mark.parametrize("lang", LANGS)
async def test_lottery_input_errors_name_the_input(sqlite_url, tmp_path, lang):
    async with running_app(sqlite_url, str(tmp_path), cfg(lang)) as (app, console):
        await console.say("admin", "/lottery")
        assert "/lottery" in last(console)
        await console.say("admin", "/lottery soon 1 0 Prize")
        assert "soon" in last(console) and "points.draw_max_hours" in last(console)
        await console.say("admin", "/lottery 1h zero 0 Prize")
        assert "zero" in last(console)
        await console.say("alice", "/lottery 1h 1 0 Prize")
        assert "/lottery" in last(console)
        await console.say("alice", "/join_draw")
        assert ("没有进行中的抽奖" if lang == "zh-CN" else "No draws are open") in last(console)


async def test_disabled_points_say_so_and_award_nothing(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), cfg("en", enabled=False)) as (app, console):
        await console.say("alice", "/checkin")
        assert "points.enabled" in last(console)
        await console.say("alice", "a long enough message here")
        await console.say("alice", "/me")
        assert "points.enabled" in last(console)


@pytest.mark.parametrize("lang", LANGS)
async def test_points_awarded_by_another_feature_show_in_history_and_level_up_is_announced_once(sqlite_url, tmp_path, lang):
    from handlers.points import service
    from storage import core_repo

    async with running_app(sqlite_url, str(tmp_path), cfg(lang, activity_points=0)) as (app, console):
        await console.join("alice")
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            alice = await core_repo.get_member(session, chat.id, "alice")
            for _ in range(2):  # offered twice (e.g. a retried onboarding completion), written once
                await service.award(session, chat_id=chat.id, member_id=alice.id, amount=60, reason="questionnaire",
                                    source="onboarding", key=f"onboarding:{alice.id}", now=app.clock.now())
        start = len(console.bot_messages())
        await console.say("alice", "thanks everyone for the welcome")
        texts = said(console, start)
        assert len(texts) == 1 and "Lv.2" in texts[0]
        await console.say("alice", "another message later on")
        assert len(said(console, start)) == 1  # announced once
        await console.say("alice", "/history")
        text = last(console)
        assert "+60" in text and ("入群问卷" if lang == "zh-CN" else "onboarding") in text and "questionnaire" in text


async def test_a_draw_that_closed_while_the_bot_was_down_is_drawn_at_start(db_url, tmp_path):
    from bot.clock import FakeClock
    from tests.support.harness import START

    clock = FakeClock(START)
    async with running_app(db_url, str(tmp_path), cfg("en", activity_points=0), clock=clock) as (app, console):
        await console.say("admin", "/lottery 30m 1 0 Poster")
        await console.say("alice", "/join_draw")
        assert "joined draw #1" in last(console)
    clock.advance(hours=3)
    async with running_app(db_url, str(tmp_path), cfg("en"), clock=clock) as (app, console):
        texts = [m.text for m in console.bot_messages()]
        assert len(texts) == 1 and "Draw #1 result" in texts[0] and "@alice" in texts[0]
        await app.tick()
        assert len(console.bot_messages()) == 1


@pytest.mark.parametrize("lang", LANGS)
async def test_cancelling_a_paid_draw_refunds_the_entries(sqlite_url, tmp_path, lang):
    async with running_app(sqlite_url, str(tmp_path), cfg(lang, activity_points=0)) as (app, console):
        await console.join("alice")
        await console.say("admin", "/award @alice 20 seed")
        await console.say("admin", "/lottery 1h 1 8 Poster")
        await console.say("alice", "/join_draw")
        await console.say("alice", "/me")
        assert ("积分：12" if lang == "zh-CN" else "Balance: 12") in last(console)
        await console.say("alice", "/lottery cancel 1")
        assert "/lottery" in last(console)  # admins only
        await console.say("admin", "/lottery cancel 1")
        assert ("已取消" if lang == "zh-CN" else "cancelled") in last(console) and "1" in last(console)
        await console.say("admin", "/lottery cancel 1")
        assert ("没有进行中的抽奖 #1" if lang == "zh-CN" else "No open draw #1") in last(console)
        await console.say("alice", "/me")
        assert ("积分：20" if lang == "zh-CN" else "Balance: 20") in last(console)
        app.clock.advance(hours=2)
        before = len(console.bot_messages())
        await app.tick()
        assert len(console.bot_messages()) == before  # a cancelled draw is never drawn


async def test_a_monthly_season_ranks_on_this_months_points(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), cfg("en", activity_points=0, default_board="month")) as (app, console):
        await console.join("alice")
        await console.join("bob")
        await console.say("admin", "/award @alice 100 last month")
        app.clock.advance(days=31)
        await console.say("bob", "/checkin")
        assert "Rank #1" in last(console)
        await console.say("bob", "/me")
        assert "Rank: #1 (this month)" in last(console)
        await console.say("bob", "/top")
        board = last(console)
        assert "this month" in board and "alice" not in board
        await console.say("bob", "/top all")
        assert last(console).splitlines()[1].startswith("🥇 alice")


async def test_an_ad_stopped_by_the_rules_earns_nothing_while_a_normal_message_earns(sqlite_url, tmp_path):
    from handlers.points import service
    from storage import core_repo

    async with running_app(sqlite_url, str(tmp_path), cfg("en")) as (app, console):
        await console.join("mallory")
        await console.join("alice")
        _, result = await console.say("mallory", "加我微信 wx123456 低价代购，点击 http://cheap-deals.example.com/buy")
        assert result.stopped_by == "rules"
        await console.say("alice", "Good morning, what are we reading this week?")
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            mallory = await core_repo.get_member(session, chat.id, "mallory")
            alice = await core_repo.get_member(session, chat.id, "alice")
            assert await service.balance(session, chat_id=chat.id, member_id=alice.id) == 1
            assert await service.balance(session, chat_id=chat.id, member_id=mallory.id) <= 0
