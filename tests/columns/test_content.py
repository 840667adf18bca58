"""What the columns post: the morning greeting's lunar date, the evening digest's figures, content
calendars (missing entries reported ahead, never posted empty), feeds over real HTTP, queues, and
template errors told to the admins without stopping the scheduler."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from bot.clock import FakeClock
from scheduler.sources import morning_values
from tests.columns.helpers import column_config, dms, posts, utc
from tests.support.harness import running_app


def test_morning_generator_gives_the_right_lunar_dates():
    cases = {
        date(2026, 2, 17): ("丙午", "正", "初一", "马"),  # Spring Festival 2026
        date(2024, 2, 10): ("甲辰", "正", "初一", "龙"),  # Spring Festival 2024
        date(2025, 10, 6): ("乙巳", "八", "十五", "蛇"),  # Mid-Autumn 2025
        date(2025, 7, 25): ("乙巳", "闰六", "初一", "蛇"),  # first day of the leap sixth month of 2025
        date(2025, 8, 23): ("乙巳", "七", "初一", "蛇"),
    }
    from datetime import datetime

    for day, (year, month, lday, zodiac) in cases.items():
        values = morning_values(datetime(day.year, day.month, day.day, 8), "zh-CN", [])
        assert (values["lunar"]["year_ganzhi"], values["lunar"]["month"], values["lunar"]["day"], values["lunar"]["zodiac"]) == (year, month, lday, zodiac), day
    assert "春节" in morning_values(datetime(2026, 2, 17, 8), "zh-CN", [])["festivals"]
    assert "中秋节" in morning_values(datetime(2025, 10, 6, 8), "zh-CN", [])["festivals"]
    assert morning_values(datetime(2025, 12, 21, 8), "zh-CN", [])["jieqi"] == "冬至"
    assert morning_values(datetime(2026, 4, 5, 8), "en", [])["jieqi_en"] == "Pure Brightness"


async def test_morning_post_on_spring_festival_in_both_languages(db_url, tmp_path):
    config = column_config(title="早报")
    config["groups"] = {"console:en": {"language": "en"}}
    config["columns"]["column"]["zaobao"]["groups"] = ["console:lobby", "console:en"]
    clock = FakeClock(utc(2026, 2, 17, 0, 0))  # 08:00 in Shanghai
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        zh = posts(console, "lobby")
        en = posts(console, "en")
    assert len(zh) == 1 and "2026年2月17日" in zh[0] and "星期二" in zh[0] and "丙午年（马年）正月初一" in zh[0] and "春节" in zh[0]
    assert "每日一句" in zh[0]
    assert len(en) == 1 and "Tuesday, 17 February 2026" in en[0] and "Horse" in en[0] and "month 1 day 1" in en[0]


async def test_evening_digest_figures_match_the_day(db_url, tmp_path):
    config = column_config("wanbao", source="evening", times=["21:00"], title="晚报")
    clock = FakeClock(utc(2026, 3, 1, 12, 0))  # Sunday 20:00 Shanghai: the day before
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        await console.say("zoe", "yesterday's chatter does not count today")
        clock.set(utc(2026, 3, 2, 1, 0))  # Monday 09:00
        for text in ("早上好", "今天讲什么？", "我来分享一个案例"):
            await console.say("alice", text)
        for text in ("收到", "谢谢分享"):
            await console.say("bob", text)
        await console.say("carol", "大家好，我是新来的")
        await console.say("alice", "/checkin")
        clock.set(utc(2026, 3, 2, 13, 0))  # 21:00
        await app.tick()
        digest = posts(console, contains="今日小结")
    assert len(digest) == 1
    text = digest[0]
    assert "消息 6 条" in text and "活跃 3 人" in text
    assert "新成员 3 人" in text  # alice, bob and carol joined today (zoe yesterday)
    assert "打卡 1 人次" in text
    assert "1. alice（3 条）" in text and "2. bob（2 条）" in text and "3. carol（1 条）" in text
    assert "今日无违规" in text


async def test_calendar_entry_with_image_posted_and_missing_entry_reported_ahead_never_empty(db_url, tmp_path):
    folder = tmp_path / "content" / "zaobao"
    folder.mkdir(parents=True)
    (folder / "2026-03-02.md").write_text("【早报】周一：本周主题是复盘。\n\n![](cover.png)\n", encoding="utf-8")
    (folder / "cover.png").write_bytes(b"\x89PNG fake image bytes")
    config = column_config(source="calendar", path="content/zaobao", times=["08:00"])
    clock = FakeClock(utc(2026, 3, 2, 0, 0))
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        sent = console.bot_messages()
        assert [m.text for m in sent] == ["【早报】周一：本周主题是复盘。"]
        assert sent[0].media and console.files[sent[0].media[0].file_id] == b"\x89PNG fake image bytes"
        # tomorrow has no entry: the admins hear it now, a day ahead, once
        ahead = dms(console, contains="2026-03-03.md")
        assert len(ahead) == 1 and "2026-03-03 08:00" in ahead[0]
        await app.tick()
        assert len(dms(console, contains="2026-03-03.md")) == 1
        clock.set(utc(2026, 3, 3, 0, 0))
        await app.tick()
        clock.set(utc(2026, 3, 3, 0, 31))
        await app.tick()
        assert len(console.bot_messages()) == 1  # nothing posted empty
        assert dms(console, contains="没有找到内容") and dms(console, contains="跳过")


async def test_feed_digest_over_http_and_network_failure_tells_admins_and_posts_nothing(db_url, tmp_path):
    state = {"fail": True}
    rss = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>产品动态</title>
    <item><title>新版本发布</title><link>https://example.com/a</link><pubDate>Mon, 02 Mar 2026 00:30:00 +0000</pubDate></item>
    <item><title>社群活动回顾</title><link>https://example.com/b</link><pubDate>Sun, 01 Mar 2026 10:00:00 +0000</pubDate></item>
    <item><title>旧闻</title><link>https://example.com/c</link><pubDate>Fri, 20 Feb 2026 10:00:00 +0000</pubDate></item>
    </channel></rss>"""

    async def handler(request):
        if state["fail"]:
            return web.Response(status=503, text="down")
        return web.Response(text=rss, content_type="application/rss+xml")

    server = web.Application()
    server.router.add_get("/feed.xml", handler)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        config = column_config("news", source="feed", url=f"http://127.0.0.1:{port}/feed.xml", times=["09:00"], title="行业资讯")
        clock = FakeClock(utc(2026, 3, 2, 1, 0))  # 09:00 Shanghai
        async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
            assert console.bot_messages() == []
            notes = dms(console, contains="订阅源获取失败")
            assert len(notes) == 1 and "HTTP 503" in notes[0]
            state["fail"] = False
            clock.set(utc(2026, 3, 2, 1, 5))  # still within the grace window
            await app.tick()
            digest = posts(console)
        assert len(digest) == 1
        assert "产品动态" in digest[0] and "1. 新版本发布" in digest[0] and "2. 社群活动回顾" in digest[0]
        assert "旧闻" not in digest[0]  # older than the previous slot
    finally:
        await runner.cleanup()


async def test_feed_unreachable_host_is_reported(db_url, tmp_path):
    config = column_config("news", source="feed", url="http://127.0.0.1:9/none.xml", times=["09:00"])
    clock = FakeClock(utc(2026, 3, 2, 1, 0))
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        assert console.bot_messages() == []
        assert len(dms(console, contains="could not be fetched")) == 1


async def test_template_error_is_told_to_the_admin_and_other_columns_still_post(db_url, tmp_path):
    config = column_config("broken", template="{{ lunr.day }} 早上好")
    config["columns"]["column"]["fine"] = {"source": "morning", "times": ["08:00"], "groups": ["console:lobby"], "title": "好的早报"}
    clock = FakeClock(utc(2026, 3, 2, 0, 0))
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        await app.tick()
        assert [p for p in posts(console) if "好的早报" in p]
        assert not [p for p in posts(console) if "lunr" in p]
        notes = dms(console, contains="模板有错误")
        assert len(notes) == 1 and "'lunr' is undefined" in notes[0]


async def test_empty_queue_is_not_posted_and_admins_are_told(db_url, tmp_path):
    config = column_config("tips", source="queue", times=["10:00"])
    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        assert console.bot_messages() == []
        assert len(dms(console, contains="队列是空的")) == 1
        await console.say("admin", "/column add tips 今日小贴士：提问前先搜索。")
        clock.set(utc(2026, 3, 2, 2, 10))
        await app.tick()
        assert posts(console, contains="小贴士") == ["今日小贴士：提问前先搜索。"]


async def test_a_platform_without_photos_gets_the_text_and_the_admins_are_told(sqlite_url, tmp_path):
    from bot.platform import Capability

    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "2026-03-02.md").write_text("今日海报见下图\n![](poster.png)", encoding="utf-8")
    (folder / "poster.png").write_bytes(b"\x89PNG poster")
    config = column_config(source="calendar", path="cal", times=["08:00"], title="早报")
    clock = FakeClock(utc(2026, 3, 2, 0, 0))
    caps = Capability.all() & ~Capability.SEND_PHOTO
    async with running_app(sqlite_url, str(tmp_path), config, clock=clock, capabilities=caps) as (app, console):
        assert [(m.text, m.media) for m in console.bot_messages()] == [("今日海报见下图", ())]
        notes = dms(console, contains="不能发图片")
        assert len(notes) == 1 and "早报" in notes[0]


async def test_a_slot_without_a_dated_entry_posts_the_default_one_and_warns_nobody(sqlite_url, tmp_path):
    folder = tmp_path / "content" / "qa"
    folder.mkdir(parents=True)
    (folder / "2026-03-02.md").write_text("本周答疑：如何写群公告？", encoding="utf-8")
    (folder / "default.md").write_text("本周答疑：把你的问题带来。", encoding="utf-8")
    config = column_config(source="calendar", path="content/qa", times=["08:00"])
    clock = FakeClock(utc(2026, 3, 2, 0, 0))
    async with running_app(sqlite_url, str(tmp_path), config, clock=clock) as (app, console):
        assert [m.text for m in console.bot_messages()] == ["本周答疑：如何写群公告？"]
        clock.set(utc(2026, 3, 3, 0, 0))
        await app.tick()
        assert [m.text for m in console.bot_messages()][-1] == "本周答疑：把你的问题带来。"
        assert not dms(console, contains="没有找到内容") and not dms(console, contains="default.md")
