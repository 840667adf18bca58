"""Slots fire at the right local time (several zones, daylight saving), weekly columns, catch-up
within the grace window and a skip with a note to the admins after it. The clock is a FakeClock;
`app.tick()` is what APScheduler calls in production."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from storage import columns_repo
from tests.columns.helpers import column_config, dms, posts, utc
from tests.support.harness import running_app


def zoned(tz_by_group: dict[str, str], **spec) -> dict:
    config = column_config(groups=[f"console:{g}" for g in tz_by_group], **spec)
    config["groups"] = {f"console:{g}": {"timezone": tz} for g, tz in tz_by_group.items()}
    return config


async def test_daily_slot_fires_at_local_time_in_each_group_zone_across_dst(db_url, tmp_path):
    # 08:00 local: Shanghai (no DST), New York (DST from 2026-03-08), Berlin (DST from 2026-03-29).
    groups = {"sh": "Asia/Shanghai", "ny": "America/New_York", "be": "Europe/Berlin"}
    expected = {
        "sh": [utc(2026, 3, 7, 0, 0), utc(2026, 3, 8, 0, 0)],
        # New York: 08:00 EST = 13:00 UTC on the 7th; 08:00 EDT = 12:00 UTC from the 8th.
        "ny": [utc(2026, 3, 7, 13, 0), utc(2026, 3, 8, 12, 0), utc(2026, 3, 9, 12, 0)],
        # Berlin: 08:00 CET = 07:00 UTC before the 29th, 08:00 CEST = 06:00 UTC from then on.
        "be": [utc(2026, 3, 28, 7, 0), utc(2026, 3, 29, 6, 0), utc(2026, 3, 30, 6, 0)],
    }
    clock = FakeClock(utc(2026, 3, 6, 16, 0))
    async with running_app(db_url, str(tmp_path), zoned(groups), clock=clock) as (app, console):
        def counts() -> dict[str, int]:
            return {g: len(posts(console, g, contains="早上好")) for g in groups}

        for when in sorted({t for ts in expected.values() for t in ts}):
            clock.set(when - timedelta(minutes=1))
            before = counts()
            await app.tick()
            assert counts() == before, f"something fired a minute before {when}"
            clock.set(when)
            await app.tick()
            due = {g for g, ts in expected.items() if when in ts}
            assert counts() == {g: before[g] + (1 if g in due else 0) for g in groups}, when
        # and each post names the group's local date
        assert "2026年3月29日" in posts(console, "be", contains="早上好")[-2]
        assert "2026年3月9日" in posts(console, "ny", contains="早上好")[-1]


async def test_weekly_cron_column_posts_on_its_weekday_only(db_url, tmp_path):
    config = column_config("qa", source="queue", times=[], cron="0 20 * * wed", title="每周答疑")
    clock = FakeClock(utc(2026, 3, 2, 1, 0))  # Monday 09:00 Shanghai
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        for text in ("第一周：如何提问？", "第二周：如何做复盘？"):
            await console.say("admin", f"/column add qa {text}")
        fired = []
        for day in range(14):
            for hour in (11, 12, 13):  # 19:00, 20:00, 21:00 in Shanghai
                clock.set(utc(2026, 3, 2 + day, hour, 0))
                before = len(posts(console, contains="周："))
                await app.tick()
                if len(posts(console, contains="周：")) > before:
                    fired.append(clock.now())
        # Wednesdays 2026-03-04 and 2026-03-11, 20:00 Shanghai = 12:00 UTC; each item once, in order
        assert fired == [utc(2026, 3, 4, 12, 0), utc(2026, 3, 11, 12, 0)]
        assert posts(console, contains="周：") == ["第一周：如何提问？", "第二周：如何做复盘？"]


async def test_missed_slot_is_posted_late_within_grace_and_skipped_with_a_note_after(db_url, tmp_path):
    config = column_config()
    config["columns"]["grace_minutes"] = 30
    clock = FakeClock(utc(2026, 3, 1, 23, 0))
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        await app.tick()  # the column is known from here on
    # the bot was down across 08:00 and comes back at 08:20: posted late
    clock.set(utc(2026, 3, 2, 0, 20))
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        assert len(posts(console, contains="早上好")) == 1  # start-up ticks once
        await app.tick()
        assert len(posts(console, contains="早上好")) == 1
    # down across the next morning until 08:45: past the grace window
    clock.set(utc(2026, 3, 3, 0, 45))
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        await app.tick()
        assert posts(console, contains="早上好") == []
        notes = dms(console, contains="2026-03-03 08:00")
        assert len(notes) == 1 and "30" in notes[0] and "跳过" in notes[0]
        async with app.sessions() as session:
            rows = await columns_repo.posts_of(session, "zaobao")
        # the slot before the column was first seen is recorded quietly, without a note
        assert [(r.slot, r.status) for r in rows] == [
            ("2026-03-01T00:00Z", "skipped"), ("2026-03-02T00:00Z", "sent"), ("2026-03-03T00:00Z", "skipped"),
        ]
        assert dms(console, contains="2026-03-01") == []
