"""The charts' axes, read through matplotlib: counts have whole-number ticks, and the retention
chart labels its cohort next to where the joiners start (day 0, everyone still in)."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from bot.clock import FakeClock
from handlers.stats import charts
from handlers.stats.router import router as stats_router
from storage import core_repo, stats_repo
from tests.support.harness import running_app

UTC = timezone.utc
TZ = ZoneInfo("Asia/Shanghai")


def ticks_in_view(axis) -> list[float]:
    lo, hi = sorted(axis.get_view_interval())
    return [v for v in axis.get_majorticklocs() if lo - 1e-9 <= v <= hi + 1e-9]


def whole(values: list[float]) -> bool:
    return bool(values) and all(abs(v - round(v)) < 1e-9 for v in values)


async def test_activity_chart_counts_have_whole_number_ticks(db_url, tmp_path):
    clock = FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    async with running_app(db_url, str(tmp_path), {"defaults": {"language": "en"}}, clock=clock, routers=[stats_router]) as (app, console):
        # Small figures: at most 3 messages, 2 active members, 1 join or leave a day, where matplotlib
        # would otherwise tick 0.5, 1.5 …
        await console.join("ann")
        await console.say("ann", "one")
        clock.advance(days=1)
        await console.join("bob")
        for text in ("two", "three"):
            await console.say("bob", text)
        await console.say("ann", "four")
        clock.advance(days=1)
        await console.leave("bob")
        await app.flush_figures()  # figures are batched in memory until a tick
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", "lobby")
            start = date(2026, 2, 26)
            series = await stats_repo.daily_series(session, [chat.id], start, date(2026, 3, 4), ("messages", "active", "joins", "leaves"))
    assert max(series["messages"]) == 3 and max(series["active"]) == 2 and max(series["joins"]) == 1
    fig = charts.activity_figure(series, start, group="lobby", language="en")
    top, bottom, twin = fig.axes  # the messages, joins/leaves and active-members axes
    assert top.get_ylabel() == "messages" and twin.get_ylabel() == "active members" and bottom.get_ylabel() == "members"
    for ax in (top, twin, bottom):
        ticks = ticks_in_view(ax.yaxis)
        assert whole(ticks), (ax.get_ylabel(), ticks)
        assert [label.get_text() for label in ax.get_yticklabels() if "." in label.get_text()] == []
    assert 3 in ticks_in_view(top.yaxis) or max(ticks_in_view(top.yaxis)) >= 3
    assert -1 in ticks_in_view(bottom.yaxis) and 1 in ticks_in_view(bottom.yaxis)  # a leave below, a join above


async def test_retention_chart_days_are_whole_and_the_cohort_is_labelled_at_its_joins(db_url, tmp_path):
    clock = FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    async with running_app(db_url, str(tmp_path), {"defaults": {"language": "zh-CN"}}, clock=clock, routers=[stats_router]) as (app, console):
        for name in ("amy", "ben", "cat"):
            await console.join(name)
        clock.advance(days=3)
        await console.say("amy", "还在")
        await console.leave("cat")
        clock.set(datetime(2026, 4, 10, 2, 0, tzinfo=UTC))
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", "lobby")
            since = date(2026, 3, 1)
            size, points = await stats_repo.retention_curve(session, [chat.id], TZ, since, date(2026, 4, 10))
    assert size == 3 and points[0][:3] == (0, 3, 1.0)
    for language, label in (("zh-CN", "加入 3 人（03-01 起）"), ("en", "3 joined (since 03-01)")):
        fig = charts.retention_figure(points, size, since, group="lobby", language=language)
        (ax,) = fig.axes
        days = ticks_in_view(ax.xaxis)
        assert whole(days) and days[0] == 0 and days[-1] == 30, days
        texts = [a for a in ax.texts if a.get_text() == label]
        if language == "zh-CN" and charts.pick_font("zh-CN")[1] is None:
            # No font with Chinese glyphs here: the chart is labelled in English (see charts.py).
            texts = [a for a in ax.texts if a.get_text() == "3 joined (since 03-01)"]
        assert len(texts) == 1, [a.get_text() for a in ax.texts]
        assert texts[0].xy == (0, 100.0)  # anchored at day 0, where all 3 joiners are still in


def test_the_png_is_the_same_chart():
    from io import BytesIO

    from PIL import Image

    png = charts.activity_png({"messages": [1, 2], "active": [1, 1], "joins": [1, 0], "leaves": [0, 1]},
                              date(2026, 3, 1), group="lobby", language="en")
    assert Image.open(BytesIO(png)).size == (1000, 600)
