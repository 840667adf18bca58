"""Admin notes name every group they concern, split over several messages when the list does not
fit the platform's message size (Telegram 4,096 characters, WeCom 2,048 bytes)."""

from __future__ import annotations

import re

from bot.clock import FakeClock
from bot.platforms.console import ConsolePlatform
from scheduler.notes import measure, split_lines, text_budget
from tests.columns.fanout_child import fanout_config
from tests.columns.helpers import dms, utc
from tests.support.harness import running_app


def test_split_lines_keeps_every_line_under_the_budget():
    lines = [f"• 测试群第{i}号（北京朝阳区业主交流）" for i in range(200)]
    for limit, unit in ((2048 - 32, "bytes"), (4096 - 32, "chars"), (300, "chars")):
        parts = split_lines("⚠️ 栏目「早报」：以下群请人工确认：", lines, limit, unit)
        assert len(parts) > 1 and all(measure(p, unit) <= limit for p in parts)
        assert [l for p in parts for l in p.split("\n")[1:]] == lines
        assert parts[0].split("\n")[0].endswith(f"(1/{len(parts)})")
    assert split_lines("head", ["• a", "• b"], 4096) == ["head\n• a\n• b"]
    huge = split_lines("head", ["• " + "长" * 5000], 2016, "bytes")
    assert len(huge) == 1 and measure(huge[0], "bytes") <= 2016 and huge[0].endswith("…")


def test_budgets_by_platform():
    class WeCom:
        name = "wecom"

    class Own:
        name = "x"
        max_text = 1000
        max_text_unit = "bytes"

    assert text_budget(WeCom()) == (2048 - 32, "bytes")
    assert text_budget(object()) == (4096 - 32, "chars")
    assert text_budget(Own()) == (1000 - 32, "bytes")


async def test_a_note_about_60_groups_is_split_and_names_all_60(db_url, tmp_path, monkeypatch):
    groups = 60
    config = fanout_config(groups)
    clock = FakeClock(utc(2026, 3, 1, 23, 50))  # the groups and the column are known before the slot
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        pass
    clock.set(utc(2026, 3, 2, 0, 45))  # back 45 minutes after the 08:00 slot: beyond the 30-minute grace
    # A small message size on the console platform, so the list needs several messages.
    monkeypatch.setattr(ConsolePlatform, "max_text", 400, raising=False)
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):  # start-up tick
        await app.tick()
        notes = dms(console, contains="本期跳过")
    assert len(notes) > 1
    assert all(len(n) <= 400 for n in notes)
    named = [g for n in notes for g in re.findall(r"^• (g\d+)", n, re.MULTILINE)]
    assert sorted(named) == sorted(f"g{i}" for i in range(groups))  # each one, once
