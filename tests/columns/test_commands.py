"""Admin commands: /columns with next run times, preview by DM (or marked in the group), pause and
resume, columns made by command, and SOP campaigns started, listed, paused and stopped."""

from __future__ import annotations

from bot.clock import FakeClock
from tests.columns.helpers import column_config, dms, posts, utc
from tests.support.harness import running_app

STEPS = """# 训练营开营 SOP

## Day 1 09:00
欢迎来到「21 天复盘训练营」！今晚 20:00 开营仪式，请准时参加。

## Day 1 20:00
开营仪式开始啦，{{ group }} 的同学们请签到。

## Day 3 09:00
第一次作业：写下你本周最重要的一件事。
"""


def last(console) -> str:
    return console.bot_messages()[-1].text


async def test_columns_list_preview_pause_resume(db_url, tmp_path):
    config = column_config(title="早报")
    config["columns"]["column"]["wanbao"] = {"source": "evening", "times": ["21:00"], "groups": ["console:lobby"], "title": "晚报"}
    clock = FakeClock(utc(2026, 3, 2, 1, 0))  # Monday 09:00 Shanghai
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        await console.say("alice", "/columns")
        assert "只有管理员" in last(console)
        await console.say("admin", "/columns")
        listing = last(console)
        assert "zaobao「早报」" in listing and "下次：2026-03-03 08:00 (Asia/Shanghai)" in listing
        assert "wanbao「晚报」" in listing and "下次：2026-03-02 21:00 (Asia/Shanghai)" in listing

        await console.say("admin", "/column preview zaobao")
        preview = dms(console, contains="预览")
        assert len(preview) == 1 and "2026年3月3日" in preview[0]  # the next slot, rendered now
        assert not posts(console, contains="早上好")  # nothing posted in the group

        await console.say("admin", "/column pause zaobao")
        clock.set(utc(2026, 3, 3, 0, 0))
        await app.tick()
        assert not posts(console, contains="早上好")
        await console.say("admin", "/column resume zaobao")
        assert "2026-03-04 08:00" in last(console)
        clock.set(utc(2026, 3, 4, 0, 0))
        await app.tick()
        assert len(posts(console, contains="早上好")) == 1
        assert not dms(console, contains="「早报」")  # a paused slot is no "missed" slot

        await console.say("admin", "/column pause nosuch")
        assert "没有名为「nosuch」的栏目" in last(console) and "zaobao" in last(console)
        await console.say("admin", "/column add zaobao hello")
        assert "不是待发队列" in last(console)
        await console.say("admin", "/column pause zaobao all")
        assert "运营者" in last(console)


async def test_preview_falls_back_to_the_group_marked_as_preview_when_dm_is_blocked(sqlite_url, tmp_path):
    config = column_config(title="早报")
    async with running_app(sqlite_url, str(tmp_path), config, dm_blocked={"admin"}) as (app, console):
        await console.say("admin", "/column preview zaobao")
        assert last(console).startswith("【预览，未正式发布】") and "早上好" in last(console)


async def test_column_made_by_command_and_custom_template(db_url, tmp_path):
    clock = FakeClock(utc(2026, 3, 2, 1, 0))
    async with running_app(db_url, str(tmp_path), {"defaults": {"language": "en"}}, clock=clock) as (app, console):
        await console.say("admin", "/column new tips queue 10:00 16:00")
        assert "Created column \"tips\"" in last(console) and "2026-03-02 10:00" in last(console)
        await console.say("admin", "/column new bad queue 25:00")
        assert "Cannot create the column" in last(console) and "25:00" in last(console)
        await console.say("admin", "/column add tips Search before you ask.")
        await console.say("admin", "/column add tips Share what you learned.")
        await console.say("admin", "/column template tips 💡 {{ title }}: {{ text }")
        assert "has an error" in last(console)
        await console.say("admin", "/column template tips 💡 {{ title }}: {{ text }}")
        clock.set(utc(2026, 3, 2, 2, 0))
        await app.tick()
        clock.set(utc(2026, 3, 2, 8, 0))
        await app.tick()
        assert posts(console, contains="💡") == ["💡 tips: Search before you ask.", "💡 tips: Share what you learned."]
        await console.say("admin", "/columns")
        assert "tips" in last(console) and "2026-03-03 10:00" in last(console)
        await console.say("admin", "/column delete tips")
        await console.say("admin", "/columns")
        assert "no columns yet" in last(console)


async def test_campaign_start_list_pause_stop(db_url, tmp_path):
    (tmp_path / "camp.md").write_text(STEPS, encoding="utf-8")
    config = {"columns": {"campaign": {"bootcamp": {"title": "复盘训练营", "file": "camp.md"}}}}
    clock = FakeClock(utc(2026, 3, 2, 0, 30))  # Monday 08:30 Shanghai
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        await console.say("admin", "/campaign start nosuch")
        assert "没有名为「nosuch」的活动" in last(console) and "bootcamp" in last(console)
        await console.say("admin", "/campaign start bootcamp")
        assert "第1天 = 2026-03-02" in last(console) and "共 3 步" in last(console) and "2026-03-02 09:00" in last(console)
        await console.say("admin", "/campaign start bootcamp")
        assert "已在本群进行" in last(console)

        clock.set(utc(2026, 3, 2, 1, 0))  # Day 1 09:00
        await app.tick()
        assert posts(console, contains="欢迎来到") != []
        clock.set(utc(2026, 3, 2, 12, 0))  # Day 1 20:00
        await app.tick()
        assert posts(console, contains="开营仪式开始啦") == ["开营仪式开始啦，Qunzhu console group 的同学们请签到。"]

        await console.say("admin", "/campaign list")
        assert "bootcamp「复盘训练营」｜进行中" in last(console) and "第3天 09:00" in last(console)
        await console.say("admin", "/campaign pause bootcamp")
        clock.set(utc(2026, 3, 4, 1, 0))  # Day 3 09:00, paused
        await app.tick()
        assert not posts(console, contains="第一次作业")
        await console.say("admin", "/campaign resume bootcamp")
        clock.set(utc(2026, 3, 4, 1, 10))  # resumed within the grace window: posted late
        await app.tick()
        assert len(posts(console, contains="第一次作业")) == 1
        assert dms(console, contains="已完成") and "3 步" in dms(console, contains="已完成")[0]

        # a second run, stopped before its first step
        await console.say("admin", "/campaign start bootcamp 2026-03-10")
        await console.say("admin", "/campaign stop bootcamp")
        assert "已停止" in last(console)
        clock.set(utc(2026, 3, 10, 1, 0))
        await app.tick()
        assert len(posts(console, contains="欢迎来到")) == 1
        await console.say("admin", "/campaign list")
        assert "已停止" in last(console) and "已完成" in last(console)


async def test_campaign_started_late_skips_steps_already_past(sqlite_url, tmp_path):
    config = {"columns": {"campaign": {"launch": {"steps": [
        {"day": 1, "time": "09:00", "text": "A"}, {"day": 1, "time": "20:00", "text": "B"},
    ]}}}, "defaults": {"language": "en"}}
    clock = FakeClock(utc(2026, 3, 2, 4, 0))  # 12:00 Shanghai: Day 1 09:00 is past
    async with running_app(sqlite_url, str(tmp_path), config, clock=clock) as (app, console):
        await console.say("admin", "/campaign start launch")
        assert "1 step(s) already lie in the past" in last(console)
        await app.tick()
        clock.set(utc(2026, 3, 2, 12, 0))
        await app.tick()
        assert [m.text for m in console.bot_messages() if m.text in ("A", "B")] == ["B"]
